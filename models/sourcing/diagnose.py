"""Why a sourcing instance has no feasible plan, in the planner's words.

Each test is a necessary condition for feasibility, checked on the data alone; every one
that fails is reported (joined by '; '). When none fails the engine falls back to its
generic text. The rules are listed in docs/sourcing.md ("Diagnosis").
"""

from __future__ import annotations

from stockpile.instance import Instance

from .data import SourcingData

EPS = 1e-6


def _n(x: float) -> str:
    return f"{x:,.0f}" if abs(x - round(x)) < 1e-9 else f"{x:,.2f}"


def _suppliers(n: int) -> str:
    return f"{n} supplier" if n == 1 else f"{n} suppliers"


def _product_reasons(d: SourcingData, p: str) -> list[str]:
    prod = d.products[p]
    demand = prod.demand
    offers = d.offers_of_product[p]
    must_meet = prod.shortage_penalty is None
    usable = [o for o in offers if d.lower(o) <= d.upper(o) + EPS]
    out: list[str] = []

    if not offers and (must_meet or prod.min_suppliers > 0):
        return [f"no supplier offers {p}, but its demand of {_n(demand)} must be met in full" if must_meet
                else f"{p} needs at least {_suppliers(prod.min_suppliers)} but no supplier offers it"]
    if len(usable) < prod.min_suppliers:
        blocked = [o for o in offers if o not in usable]
        why = ""
        if blocked:
            s, _ = blocked[0]
            why = (f"; e.g. {s} must get at least {_n(d.lower(blocked[0]))} if awarded but can carry only "
                   f"{_n(d.upper(blocked[0]))}")
        return [f"{p} needs at least {_suppliers(prod.min_suppliers)} but only {len(usable)} can be awarded "
                f"({len(offers)} offer it{why})"]
    floor = sorted((d.lower(o) for o in usable))[:prod.min_suppliers]
    if sum(floor) > demand + EPS:
        out.append(f"{p}: {_suppliers(prod.min_suppliers)} must each get their minimum award "
                   f"({_n(sum(floor))} units at least), more than the demand of {_n(demand)}")

    # region floors hold whether or not unmet demand is allowed
    floors: dict[str, float] = {}
    caps: dict[str, float] = {}
    for r in d.region_rows(p):
        floors[r.region] = max(floors.get(r.region, 0.0), r.min_share)
        caps[r.region] = min(caps.get(r.region, 1.0), r.max_share)
    offered_in = {}
    for region in floors:
        offered_in[region] = sum(d.upper(o) for o in usable if d.suppliers[o[0]].region == region)
    for region, share in floors.items():
        if share > 0 and offered_in[region] < share * demand - EPS:
            out.append(f"{region} min_share {share:g} of {p} needs {_n(share * demand)} but {region} suppliers "
                       f"offer {_n(offered_in[region])}")
    if sum(floors.values()) > 1 + 1e-9:
        shown = ", ".join(f"{r} {s:g}" for r, s in floors.items() if s > 0)
        out.append(f"the region min_shares of {p} ({shown}) add up to more than its whole demand")

    if not must_meet:
        return out  # unmet demand is allowed for this product: capacity cannot be short
    offered = sum(d.upper(o) for o in usable)
    if offered < demand - EPS:
        why = ""
        if prod.max_supplier_share < 1 and any(
                d.upper(o) >= prod.max_supplier_share * demand - EPS for o in usable):
            why = (f" (max_supplier_share {prod.max_supplier_share:g} caps each supplier at "
                   f"{_n(prod.max_supplier_share * demand)})")
        out.append(f"demand of {p} {_n(demand)} exceeds total offered capacity {_n(offered)}{why}")
        return out
    if prod.max_suppliers is not None:
        best = sum(sorted((d.upper(o) for o in usable), reverse=True)[:prod.max_suppliers])
        if best < demand - EPS:
            out.append(f"{p} may go to at most {_suppliers(prod.max_suppliers)}, who can carry {_n(best)} "
                       f"together (max_supplier_share {prod.max_supplier_share:g} and capacities), "
                       f"less than its demand of {_n(demand)}")
    capped = {r: c for r, c in caps.items() if c < 1}
    for region, cap in capped.items():
        inside = offered_in[region]
        outside = offered - inside
        if outside + min(inside, cap * demand) < demand - EPS:
            out.append(f"{region} max_share {cap:g} + other capacity cannot cover demand of {p} {_n(demand)} "
                       f"({region} may supply at most {_n(min(inside, cap * demand))}, the other regions offer "
                       f"{_n(outside)})")
    if len(capped) > 1 and not any("max_share" in r for r in out):
        reachable = offered - sum(offered_in[r] for r in capped) + sum(
            min(offered_in[r], c * demand) for r, c in capped.items())
        if reachable < demand - EPS:
            shown = ", ".join(f"{r} {c:g}" for r, c in capped.items())
            out.append(f"the region max_shares of {p} ({shown}) with the capacity offered leave at most "
                       f"{_n(reachable)} of its demand of {_n(demand)}")
    return out


def diagnose(inst: Instance) -> str | None:
    d = SourcingData(inst)
    reasons: list[str] = []
    for p in d.products:
        reasons.extend(_product_reasons(d, p))

    # a supplier that must be awarded (a product has exactly min_suppliers usable offers)
    # has to take every such minimum within its capacity
    for s, sup in d.suppliers.items():
        if sup.capacity is None:
            continue
        forced = []
        for o in d.offers_of_supplier[s]:
            prod = d.products[o[1]]
            usable = [k for k in d.offers_of_product[o[1]] if d.lower(k) <= d.upper(k) + EPS]
            if prod.min_suppliers > 0 and len(usable) == prod.min_suppliers and o in usable and d.lower(o) > 0:
                forced.append(d.lower(o))
        if sum(forced) > sup.capacity + EPS:
            reasons.append(f"supplier {s} must be awarded minimum quantities of {_n(sum(forced))} but its capacity "
                           f"is {_n(sup.capacity)}")

    full = [p for p, prod in d.products.items() if prod.shortage_penalty is None]
    if full and not reasons:
        # the products to be met in full compete for the suppliers' shared capacity
        need = sum(d.products[p].demand for p in full)
        cap = 0.0
        for s, sup in d.suppliers.items():
            serve = sum(d.upper(o) for o in d.offers_of_supplier[s] if o[1] in full)
            cap += min(serve, sup.capacity) if sup.capacity is not None else serve
        if cap < need - EPS:
            reasons.append(f"products {', '.join(full)} need {_n(need)} units in all but the suppliers offering "
                           f"them can deliver {_n(cap)} together")
    return "; ".join(reasons) if reasons else None
