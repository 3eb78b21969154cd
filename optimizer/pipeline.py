"""The phases every model shares: build -> solve -> (diagnose | extract) -> Result."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import pandas as pd

from .instance import Instance
from .results import Result
from .solver import (Solution, SolveOptions, Status, feasibility_relaxation, resolve_with_integers_fixed, solve_model,
                     versions)


@dataclass
class Extracted:
    """What a model reads off a solved Pyomo model."""

    objective_terms: dict[str, float]
    kpis: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


def say(options: SolveOptions, text: str) -> None:
    """One progress line on stderr (the HiGHS log replaces it with --verbose)."""
    if options.progress and not options.verbose:
        print(f"stockpile: {text}", file=sys.stderr, flush=True)


def solve_step(model, options: SolveOptions, label: str, keep: bool = False,
               resolve: Solution | None = None, start: dict | None = None) -> Solution:
    """Solve one Pyomo model with a progress line before and after, and every few seconds
    during a MIP (best plan so far, bound, gap).

    keep: hold on to the HiGHS model for a later re-solve; resolve: instead of compiling
    `model`, re-solve the model kept in that solution with its integer variables fixed;
    start: a first plan for HiGHS (Pyomo variable -> value). The line after the solve
    gives the status and gap; the plan's objective is the one in the result (summary.json),
    which the model recomputes from the plan.
    """
    say(options, f"{label} ...")
    report = (lambda text: say(options, f"{label}: {text}")) if options.progress and not options.verbose else None
    if resolve is not None:
        sol = resolve_with_integers_fixed(resolve)
    else:
        sol = solve_model(model, options, keep, start=start, report=report)
    gap = f", gap {sol.mip_gap:.2%}" if sol.mip_gap is not None else ""
    say(options, f"{label}: {sol.status.value}{gap} "
                 f"({sol.num_cols} variables, {sol.num_int} integer, {sol.num_rows} constraints; "
                 f"{sol.solve_seconds:.2f}s)")
    return sol


def run(
    instance: Instance,
    options: SolveOptions,
    build: Callable[[Instance], Any],
    extract: Callable[[Instance, Any, Solution], Extracted],
    diagnose: Callable[[Instance], str | None],
) -> Result:
    """The standard single-solve pipeline."""
    start = time.perf_counter()
    model = build(instance)
    build_seconds = time.perf_counter() - start
    sol = solve_step(model, options, f"solving {instance.kind} '{instance.name}'")
    timings = {"build": build_seconds, "handoff": sol.handoff_seconds, "solve": sol.solve_seconds}
    if not sol.status.has_solution:
        return failed(instance, sol, diagnose, timings, model, options)
    start = time.perf_counter()
    out = extract(instance, model, sol)
    timings["extract"] = time.perf_counter() - start
    return finished(instance, sol, out, timings)


def finished(instance: Instance, sol: Solution, out: Extracted, timings: dict) -> Result:
    terms = {k: float(v) for k, v in out.objective_terms.items()}
    return Result(
        kind=instance.kind,
        name=instance.name,
        status=sol.status,
        objective=float(sum(terms.values())),
        objective_terms=terms,
        mip_gap=sol.mip_gap,
        solve_seconds=timings.get("solve", sol.solve_seconds),
        kpis=out.kpis,
        tables=out.tables,
        timings=timings,
        solver=solver_info(sol),
    )


def failed(instance: Instance, sol: Solution, diagnose, timings: dict, model=None,
           options: SolveOptions | None = None) -> Result:
    reason = None
    if sol.status == Status.INFEASIBLE:
        reason = diagnose(instance) or _relaxation_reason(model, options or SolveOptions())
    elif sol.status == Status.UNBOUNDED:
        reason = "the objective can be improved without limit: some revenue or cost is unbounded"
    elif sol.status == Status.ERROR and "time limit" in sol.model_status.lower():
        reason = "the time limit was reached before any plan meeting every rule was found; allow more --time-limit"
    elif sol.status == Status.ERROR:
        reason = f"the solver stopped without a solution ({sol.model_status})"
    return Result(
        kind=instance.kind,
        name=instance.name,
        status=sol.status,
        reason=reason,
        solve_seconds=sol.solve_seconds,
        timings=timings,
        solver=solver_info(sol),
    )


def _relaxation_reason(model, options: SolveOptions) -> str:
    """Fallback reason: the constraints that must bend least for a plan to exist."""
    bent = feasibility_relaxation(model, options) if model is not None else []
    if not bent:
        return "no plan satisfies every rule at once, and no single demand, cap or floor explains it"
    listed = ", ".join(f"{name} (by {amount:,.6g})" for name, amount in bent)
    return ("no plan satisfies every rule at once; the smallest change that makes one possible "
            f"relaxes {listed}")


def solver_info(sol: Solution) -> dict:
    return {
        "name": "highs",
        "model_status": sol.model_status,
        "bound": sol.bound,
        "variables": sol.num_cols,
        "integer_variables": sol.num_int,
        "constraints": sol.num_rows,
        **versions(),
    }
