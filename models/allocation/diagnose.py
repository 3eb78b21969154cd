"""Why an allocation instance has no feasible plan, in the planner's words.

Every rule of the model admits the plan that delivers nothing (use 0, shortage = need,
stocks carried), so a valid instance is always feasible; an infeasible or failed solve
points at numerical trouble in the data rather than at a rule. The checks below name the
data that most often causes such trouble.
"""

from __future__ import annotations

from stockpile.instance import Instance

from .data import AllocationData


def diagnose(inst: Instance) -> str | None:
    d = AllocationData(inst)
    reasons = []
    needs = [q for row in d.need.values() for q in row if q > 0]
    if needs and max(needs) / min(needs) > 1e9:
        reasons.append(f"needs range from {min(needs):g} to {max(needs):g} units: rescale the units "
                       "(e.g. count boxes instead of pieces) so the solver can work to its tolerances")
    packs = [p for p, size in d.pack.items() if size < 1e-6]
    if packs:
        reasons.append(f"products {', '.join(packs)} have a pack_size below 1e-6 units")
    if reasons:
        return "; ".join(reasons)
    return ("the plan that delivers nothing satisfies every rule, so the solver's verdict is numerical; "
            "solve again with --lp-method simplex or with rescaled quantities")
