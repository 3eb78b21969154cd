"""The sourcing model as a user would write it in PuLP: the comparison the engine must beat.

Same data files, same MIP as models/sourcing (all-units tiers as segments, award bounds,
supplier and region limits, disruption scenarios with surge), read with pandas and
without the engine's validation. Solved with PuLP's bundled CBC or with HiGHS through
PuLP's highspy interface.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import pandas as pd
import yaml

# As models/sourcing: tier k is the closed segment [m_k, m_{k+1}]. That is exact where the
# next tier is cheaper, as in every generated instance; models/sourcing also handles dearer
# next tiers (docs/sourcing.md), which this user-written comparison does not need.


def _table(folder: Path, doc: dict, name: str) -> pd.DataFrame | None:
    ref = doc.get(name)
    if ref is None:
        return None
    if isinstance(ref, dict):
        return pd.read_csv(folder / ref["file"], dtype={"id": str, "supplier": str, "product": str, "region": str,
                                                         "scenario": str})
    return pd.DataFrame(ref)


def _opt(v):
    return None if v is None or (isinstance(v, float) and math.isnan(v)) or v == "" else v


def _status(status: str, sol_status) -> str:
    """PuLP says "Optimal" also when CBC stopped at the time limit with a solution; sol_status tells."""
    if status == "Optimal":
        return "feasible" if sol_status == 2 else "optimal"  # 2 = LpSolutionIntegerFeasible
    return status.lower()


def run(path: Path, out: Path, solver: str, time_limit: float | None, mip_gap: float, threads: int | None) -> dict:
    t0 = time.perf_counter()
    import pulp  # timed, as the engine's lazy Pyomo and highspy imports are

    folder = path.parent
    doc = yaml.safe_load(path.read_text())
    products = _table(folder, doc, "products").set_index("id")
    suppliers = _table(folder, doc, "suppliers").set_index("id")
    offers = _table(folder, doc, "offers")
    discounts = _table(folder, doc, "discounts")
    region_limits = _table(folder, doc, "region_limits")
    scenarios = _table(folder, doc, "scenarios")
    disruptions = _table(folder, doc, "disruptions")
    settings = doc.get("settings") or {}
    t1 = time.perf_counter()

    prob = pulp.LpProblem("sourcing", pulp.LpMinimize)
    P = {p: r for p, r in products.iterrows()}
    S = {s: r for s, r in suppliers.iterrows()}
    O = {(r.supplier, r.product): r for r in offers.itertuples(index=False)}
    of_product: dict = {p: [] for p in P}
    of_supplier: dict = {s: [] for s in S}
    for key in O:
        of_product[key[1]].append(key)
        of_supplier[key[0]].append(key)

    def upper(key):
        o, p, s = O[key], P[key[1]], S[key[0]]
        caps = [p.max_supplier_share * p.demand]
        for c in (_opt(o.capacity), _opt(s.capacity)):
            if c is not None:
                caps.append(float(c))
        return min(caps)

    def lower(key):
        return max(float(_opt(O[key].min_order) or 0), float(_opt(P[key[1]].min_award_share) or 0) * P[key[1]].demand)

    tiers = {k: [(0.0, float(o.unit_price))] for k, o in O.items()}
    if discounts is not None:
        for r in discounts.sort_values("min_quantity").itertuples(index=False):
            rows = tiers[(r.supplier, r.product)]
            if r.min_quantity == 0:
                rows[0] = (0.0, float(r.unit_price))
            else:
                rows.append((float(r.min_quantity), float(r.unit_price)))
    segments, seg = [], {}
    for key, rows in tiers.items():
        if len(rows) < 2:
            continue
        up = upper(key)
        for k, (mq, price) in enumerate(rows):
            if mq > up:
                break
            hi = up if k + 1 == len(rows) else min(up, rows[k + 1][0])
            if hi >= mq:
                segments.append((*key, k))
                seg[(*key, k)] = (mq, hi, price)

    x = {k: pulp.LpVariable(f"x_{k[0]}_{k[1]}", 0, upper(k)) for k in O}
    y = {k: pulp.LpVariable(f"y_{k[0]}_{k[1]}", cat="Binary") for k in O}
    paid = [s for s in S if float(_opt(S[s].fixed_cost) or 0) > 0 and of_supplier[s]]
    z = {s: pulp.LpVariable(f"z_{s}", cat="Binary") for s in paid}
    short = [p for p in P if _opt(P[p].shortage_penalty) is not None]
    u = {p: pulp.LpVariable(f"u_{p}", 0, P[p].demand) for p in short}
    w = {g: pulp.LpVariable(f"w_{g[0]}_{g[1]}_{g[2]}", cat="Binary") for g in segments}
    q = {g: pulp.LpVariable(f"q_{g[0]}_{g[1]}_{g[2]}", 0, seg[g][1]) for g in segments}

    for p, prod in P.items():
        prob += pulp.lpSum(x[o] for o in of_product[p]) + (u[p] if p in u else 0) == prod.demand, f"demand_{p}"
        n = pulp.lpSum(y[o] for o in of_product[p])
        if prod.min_suppliers > 0:
            prob += n >= int(prod.min_suppliers), f"min_sup_{p}"
        mx = _opt(prod.max_suppliers)
        if mx is not None and mx < len(of_product[p]):
            prob += n <= int(mx), f"max_sup_{p}"
    for o in O:
        prob += x[o] <= upper(o) * y[o], f"award_max_{o[0]}_{o[1]}"
        if lower(o) > 0:
            prob += x[o] >= lower(o) * y[o], f"award_min_{o[0]}_{o[1]}"
        if o[0] in z:
            prob += y[o] <= z[o[0]], f"used_{o[0]}_{o[1]}"
    for s, sup in S.items():
        if _opt(sup.capacity) is not None and of_supplier[s]:
            prob += pulp.lpSum(x[o] for o in of_supplier[s]) <= float(sup.capacity), f"cap_{s}"
    if region_limits is not None:
        for r in region_limits.itertuples(index=False):
            mx = 1.0 if _opt(r.max_share) is None else float(r.max_share)
            mn = 0.0 if _opt(r.min_share) is None else float(r.min_share)
            for p in (P if r.product == "*" else [r.product]):
                flow = pulp.lpSum(x[o] for o in of_product[p] if S[o[0]].region == r.region)
                if mx < 1:
                    prob += flow <= mx * P[p].demand, f"rmax_{p}_{r.region}"
                if mn > 0:
                    prob += flow >= mn * P[p].demand, f"rmin_{p}_{r.region}"
    by_key: dict = {}
    for g in segments:
        by_key.setdefault(g[:2], []).append(g)
    for key, gs in by_key.items():
        prob += pulp.lpSum(w[g] for g in gs) == y[key], f"tier_pick_{key[0]}_{key[1]}"
        prob += pulp.lpSum(q[g] for g in gs) == x[key], f"tier_sum_{key[0]}_{key[1]}"
        for g in gs:
            prob += q[g] >= seg[g][0] * w[g], f"tier_lo_{g[0]}_{g[1]}_{g[2]}"
            prob += q[g] <= seg[g][1] * w[g], f"tier_hi_{g[0]}_{g[1]}_{g[2]}"

    # disruption scenarios
    scen = {} if scenarios is None else {r.id: float(r.probability) for r in scenarios.itertuples(index=False)}
    by_region, by_supplier = {}, {}
    if disruptions is not None:
        for r in disruptions.itertuples(index=False):
            if _opt(r.supplier) is not None:
                by_supplier[(r.scenario, r.supplier)] = float(r.delivered_fraction)
            else:
                by_region[(r.scenario, r.region)] = float(r.delivered_fraction)
    delivered = {(sc, s): by_supplier.get((sc, s), by_region.get((sc, S[s].region), 1.0)) for sc in scen for s in S}
    penalty = settings.get("disruption_penalty")

    def loss_value(p):
        sp = _opt(P[p].shortage_penalty)
        return float(sp) if sp is not None else float(penalty or 0)

    hit = [(p, sc) for p in P for sc in scen
           if loss_value(p) > 0 and any(delivered[(sc, o[0])] < 1 for o in of_product[p])]
    hit_set = set(hit)
    surge = [(s, p, sc) for (s, p) in O for sc in scen
             if float(_opt(O[(s, p)].surge_capacity) or 0) > 0 and delivered[(sc, s)] > 0 and (p, sc) in hit_set]
    e = {g: pulp.LpVariable(f"e_{g[0]}_{g[1]}_{g[2]}", 0) for g in surge}
    lost = {h: pulp.LpVariable(f"lost_{h[0]}_{h[1]}", 0) for h in hit}
    surge_of: dict = {}
    for g in surge:
        prob += e[g] <= delivered[(g[2], g[0])] * float(O[g[:2]].surge_capacity) * y[g[:2]], f"surge_{'_'.join(g)}"
        surge_of.setdefault((g[1], g[2]), []).append(g)
    for (p, sc) in hit:
        prob += lost[(p, sc)] >= pulp.lpSum((1 - delivered[(sc, o[0])]) * x[o] for o in of_product[p]) \
            - pulp.lpSum(e[g] for g in surge_of.get((p, sc), [])), f"loss_{p}_{sc}"

    rw = float(settings.get("risk_weight", 1))
    untiered = [o for o in O if o not in by_key]
    prob += (pulp.lpSum(float(O[o].unit_price) * x[o] for o in untiered)
             + pulp.lpSum(seg[g][2] * q[g] for g in segments)
             + pulp.lpSum(float(_opt(O[o].award_cost) or 0) * y[o] for o in O)
             + pulp.lpSum(float(S[s].fixed_cost) * z[s] for s in paid)
             + pulp.lpSum(float(P[p].shortage_penalty) * u[p] for p in short)
             + rw * (pulp.lpSum(scen[sc] * loss_value(p) * lost[(p, sc)] for (p, sc) in hit)
                     + pulp.lpSum(scen[g[2]] * float(O[g[:2]].unit_price) * e[g] for g in surge)))
    t2 = time.perf_counter()

    if solver == "cbc":
        cmd = pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit, gapRel=mip_gap, threads=threads)
    else:
        cmd = pulp.HiGHS(msg=False, timeLimit=time_limit, gapRel=mip_gap, threads=threads)
    prob.solve(cmd)
    t3 = time.perf_counter()

    status = pulp.LpStatus[prob.status]
    objective = pulp.value(prob.objective)
    awards = [{"supplier": s, "product": p, "quantity": x[(s, p)].value()} for (s, p) in O
              if (y[(s, p)].value() or 0) > 0.5]
    t4 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(awards).to_csv(out / "awards.csv", index=False)
    t5 = time.perf_counter()
    return {
        "status": _status(status, getattr(prob, "sol_status", None)),
        "objective": objective,
        "variables": len(prob.variables()),
        "integer_variables": sum(1 for v in prob.variables() if v.cat != "Continuous"),
        "constraints": len(prob.constraints),
        "solves": 1,
        "timings": {"load": t1 - t0, "build": t2 - t1, "solve": t3 - t2, "extract": t4 - t3},
        "write_s": t5 - t4,
        "engine_total_s": t5 - t0,
    }
