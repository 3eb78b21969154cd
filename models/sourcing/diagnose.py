"""Why a sourcing instance has no feasible plan, in the planner's words.

Each test is a necessary condition for feasibility, checked on the data alone; the
first that fails is the reason. When none fails the engine falls back to its generic text.
"""

from __future__ import annotations

from optimizer.instance import Instance

from .data import SourcingData


def _n(x: float) -> str:
    return f"{x:,.0f}" if abs(x - round(x)) < 1e-9 else f"{x:,.2f}"


def diagnose(inst: Instance) -> str | None:
    d = SourcingData(inst)
    reasons: list[str] = []
    for p, prod in d.products.items():
        offers = d.offers_of_product[p]
        usable = [o for o in offers if d.lower(o) <= d.upper(o) + 1e-9]
        if len(usable) < prod.min_suppliers:
            reasons.append(
                f"{p} needs at least {prod.min_suppliers} suppliers but only {len(usable)} can be awarded "
                f"({len(offers)} offer it)")
            continue
        if prod.min_suppliers * prod.min_award_share > 1 + 1e-9:
            reasons.append(f"{p}: min_suppliers {prod.min_suppliers} × min_award_share {prod.min_award_share:g} "
                           f"exceeds the whole demand")
        if prod.shortage_penalty is not None:
            continue  # unmet demand is allowed for this product
        offered = sum(d.upper(o) for o in usable)
        if offered < prod.demand - 1e-6:
            reasons.append(f"demand of {p} {_n(prod.demand)} exceeds total offered capacity {_n(offered)}")
            continue
        for r in d.region_rows(p):
            inside = sum(d.upper(o) for o in usable if d.suppliers[o[0]].region == r.region)
            outside = offered - inside
            if r.max_share < 1 and outside + min(inside, r.max_share * prod.demand) < prod.demand - 1e-6:
                reasons.append(
                    f"{r.region} max_share {r.max_share:g} + other capacity {_n(outside)} cannot cover demand of "
                    f"{p} {_n(prod.demand)}")
            if r.min_share > 0 and inside < r.min_share * prod.demand - 1e-6:
                reasons.append(
                    f"{r.region} min_share {r.min_share:g} of {p} needs {_n(r.min_share * prod.demand)} but "
                    f"{r.region} suppliers offer {_n(inside)}")
    # suppliers shared between products: the products that must be met in full compete
    for s, sup in d.suppliers.items():
        if sup.capacity is None:
            continue
        mins = sum(d.lower(o) for o in d.offers_of_supplier[s]
                   if len(d.offers_of_product[o[1]]) == d.products[o[1]].min_suppliers and d.lower(o) > 0)
        if mins > sup.capacity + 1e-6:
            reasons.append(f"supplier {s} must be awarded minimum quantities of {_n(mins)} but its capacity is "
                           f"{_n(sup.capacity)}")
    full = [p for p, prod in d.products.items() if prod.shortage_penalty is None]
    if full and not reasons:
        # total demand to be met in full against all capacity that can serve it
        need = sum(d.products[p].demand for p in full)
        cap = 0.0
        for s, sup in d.suppliers.items():
            serve = sum(d.upper(o) for o in d.offers_of_supplier[s] if o[1] in full)
            cap += min(serve, sup.capacity) if sup.capacity is not None else serve
        if cap < need - 1e-6:
            reasons.append(f"products {', '.join(full)} need {_n(need)} units in all but the suppliers offering "
                           f"them can deliver {_n(cap)} together")
    return "; ".join(reasons) if reasons else None
