"""The sourcing MIP in Pyomo (see docs/sourcing.md) and its result tables."""

from __future__ import annotations

import dataclasses
import time

import pandas as pd
import pyomo.environ as pyo

from stockpile.instance import Instance
from stockpile.pipeline import Extracted, failed, finished, solve_step
from stockpile.results import Result
from stockpile.solver import Solution, SolveOptions, Status, solve_model

from .data import SourcingData, tier_of

def tier_segments(d: SourcingData) -> dict[tuple[str, str, int], tuple[float, float]]:
    """(supplier, product, k) -> (lowest, highest) quantity of tier k, for offers with tiers.

    Tier k holds the quantities [m_k, m_{k+1}) under the contract; the model uses the closed
    segment [m_k, min(U, m_{k+1})] and deals with its top where the next tier is dearer
    (see `rising_tops` and docs/sourcing.md "Tier segments"). Only tiers reachable within
    the offer's upper bound appear.
    """
    out = {}
    for key, rows in d.tiers.items():
        if len(rows) < 2:
            continue
        up = d.award_bound(key)
        for k, t in enumerate(rows):
            if t.min_quantity > up:
                break
            hi = up if k + 1 == len(rows) else min(up, rows[k + 1].min_quantity)
            out[(*key, k)] = (t.min_quantity, hi)
    return out


def rising_boundaries(d: SourcingData, seg_bound: dict) -> dict[tuple[str, str, int], float]:
    """Segments whose closed top m_{k+1} belongs to a dearer tier: segment -> m_{k+1}.

    At that one point the closed segment credits the lower price c_k, while the contract
    charges c_{k+1} for the whole quantity.
    """
    out = {}
    for (s, p, k), (_, hi) in seg_bound.items():
        rows = d.tiers[(s, p)]
        if k + 1 < len(rows) and rows[k + 1].unit_price > rows[k].unit_price and hi >= rows[k + 1].min_quantity:
            out[(s, p, k)] = rows[k + 1].min_quantity
    return out


def build(inst: Instance) -> pyo.ConcreteModel:
    d = SourcingData(inst)
    m = pyo.ConcreteModel(name=inst.name)
    m.data = d

    offers = list(d.offers)
    seg_bound = tier_segments(d)
    segments = list(seg_bound)
    m.seg_bound = seg_bound
    m.rising = rising_boundaries(d, seg_bound)
    paid_suppliers = [s for s, sup in d.suppliers.items() if sup.fixed_cost > 0 and d.offers_of_supplier[s]]
    short = [p for p, prod in d.products.items() if prod.shortage_penalty is not None]

    m.x = pyo.Var(offers, domain=pyo.NonNegativeReals, bounds=lambda _, s, p: (0, d.award_bound((s, p))))
    m.y = pyo.Var(offers, domain=pyo.Binary)
    m.z = pyo.Var(paid_suppliers, domain=pyo.Binary)
    m.u = pyo.Var(short, domain=pyo.NonNegativeReals, bounds=lambda _, p: (0, d.products[p].demand))
    m.w = pyo.Var(segments, domain=pyo.Binary)
    m.q = pyo.Var(segments, domain=pyo.NonNegativeReals, bounds=lambda _, s, p, k: (0, seg_bound[(s, p, k)][1]))

    # Rules that the data alone already break (a product nobody offers that must be met
    # in full, a region floor with no supplier there) become one impossible row each, so
    # that HiGHS reports infeasibility and the diagnosis explains it.
    impossible: list[str] = []

    # -- demand, award bounds, supplier capacity -----------------------------------------
    def demand_rule(_, p):
        if not d.offers_of_product[p] and p not in m.u:
            impossible.append(f"demand[{p}]")
            return pyo.Constraint.Skip
        return sum(m.x[o] for o in d.offers_of_product[p]) + (m.u[p] if p in m.u else 0) == d.products[p].demand

    m.demand = pyo.Constraint(list(d.products), rule=demand_rule)
    m.award_max = pyo.Constraint(offers, rule=lambda _, s, p: m.x[s, p] <= d.award_bound((s, p)) * m.y[s, p])
    with_min = [o for o in offers if d.lower(o) > 0]
    m.award_min = pyo.Constraint(with_min, rule=lambda _, s, p: m.x[s, p] >= d.lower((s, p)) * m.y[s, p])
    capped = [s for s, sup in d.suppliers.items() if sup.capacity is not None and d.offers_of_supplier[s]]
    m.supplier_capacity = pyo.Constraint(capped, rule=lambda _, s: (
        sum(m.x[o] for o in d.offers_of_supplier[s]) <= d.suppliers[s].capacity))
    m.supplier_used = pyo.Constraint([o for o in offers if o[0] in m.z], rule=lambda _, s, p: m.y[s, p] <= m.z[s])

    # -- number of suppliers per product -------------------------------------------------
    def count_rule(_, p):
        prod = d.products[p]
        n = sum(m.y[o] for o in d.offers_of_product[p]) if d.offers_of_product[p] else 0
        lo = prod.min_suppliers
        hi = prod.max_suppliers
        if isinstance(n, int):  # no offers: only min_suppliers 0 is satisfiable
            if lo > 0:
                impossible.append(f"supplier_count[{p}]")
            return pyo.Constraint.Skip
        if hi is None or hi >= len(d.offers_of_product[p]):
            return pyo.Constraint.Skip if lo == 0 else n >= lo
        return pyo.inequality(lo, n, hi)

    m.supplier_count = pyo.Constraint(list(d.products), rule=count_rule)

    # -- region shares -------------------------------------------------------------------
    region_keys = []
    for p in d.products:
        for r in d.region_rows(p):
            if r.max_share < 1 or r.min_share > 0:
                region_keys.append((p, r.product, r.region))
    rows_by_key = {(r.product, r.region): r for r in inst["region_limits"]}

    def region_rule(_, p, row_product, region):
        r = rows_by_key[(row_product, region)]
        dem = d.products[p].demand
        flow = sum(m.x[o] for o in d.offers_in_region.get((p, region), ()))
        if isinstance(flow, int):
            if r.min_share > 0:
                impossible.append(f"region_share[{p},{row_product},{region}]")
            return pyo.Constraint.Skip
        if r.min_share == 0:
            return flow <= r.max_share * dem
        return pyo.inequality(r.min_share * dem, flow, r.max_share * dem)

    m.region_share = pyo.Constraint(region_keys, rule=region_rule)
    if impossible:
        m.impossible_names = impossible
        m.never = pyo.Var(bounds=(0, 0))
        m.impossible = pyo.Constraint(range(len(impossible)), rule=lambda _, i: m.never >= 1)

    # -- all-units tiers -----------------------------------------------------------------
    segments_of: dict[tuple, list] = {}
    for g in segments:
        segments_of.setdefault(g[:2], []).append(g)
    m.segments_of = segments_of
    m.tier_pick = pyo.Constraint(list(segments_of), rule=lambda _, s, p: (
        sum(m.w[g] for g in segments_of[(s, p)]) == m.y[s, p]))
    m.tier_sum = pyo.Constraint(list(segments_of), rule=lambda _, s, p: (
        sum(m.q[g] for g in segments_of[(s, p)]) == m.x[s, p]))
    m.tier_low = pyo.Constraint(segments, rule=lambda _, s, p, k: m.q[s, p, k] >= seg_bound[(s, p, k)][0] * m.w[s, p, k])
    m.tier_high = pyo.Constraint(segments, rule=lambda _, s, p, k: m.q[s, p, k] <= seg_bound[(s, p, k)][1] * m.w[s, p, k])

    # -- disruption scenarios ------------------------------------------------------------
    surge = [(s, p, w) for (s, p) in offers for w in d.scenarios
             if d.offers[(s, p)].surge_capacity > 0 and d.delivered[(w, s)] > 0]
    hit = [(p, w) for p in d.products for w in d.scenarios
           if d.loss_value(p) > 0 and any(d.delivered[(w, o[0])] < 1 for o in d.offers_of_product[p])]
    hit_set = set(hit)
    surge = [g for g in surge if (g[1], g[2]) in hit_set]  # surge only pays off where units are lost
    m.e = pyo.Var(surge, domain=pyo.NonNegativeReals)
    m.lost = pyo.Var(hit, domain=pyo.NonNegativeReals)
    m.surge_cap = pyo.Constraint(surge, rule=lambda _, s, p, w: (
        m.e[s, p, w] <= d.delivered[(w, s)] * d.offers[(s, p)].surge_capacity * m.y[s, p]))
    surge_of = {}
    for g in surge:
        surge_of.setdefault((g[1], g[2]), []).append(g)
    m.loss = pyo.Constraint(hit, rule=lambda _, p, w: m.lost[p, w] >= (
        sum((1 - d.delivered[(w, o[0])]) * m.x[o] for o in d.offers_of_product[p])
        - sum(m.e[g] for g in surge_of.get((p, w), []))))

    # -- objective -----------------------------------------------------------------------
    untiered = [o for o in offers if o not in segments_of]  # one price (a tier from 0 may replace it)
    m.purchase = pyo.Expression(expr=sum(d.tiers[o][0].unit_price * m.x[o] for o in untiered)
                                + sum(d.tiers[g[:2]][g[2]].unit_price * m.q[g] for g in segments))
    m.award = pyo.Expression(expr=sum(d.offers[o].award_cost * m.y[o] for o in offers))
    m.fixed = pyo.Expression(expr=sum(d.suppliers[s].fixed_cost * m.z[s] for s in paid_suppliers))
    m.unmet = pyo.Expression(expr=sum(d.products[p].shortage_penalty * m.u[p] for p in short))
    prob = {w: sc.probability for w, sc in d.scenarios.items()}
    m.disruption = pyo.Expression(expr=inst.settings.risk_weight * (
        sum(prob[w] * d.loss_value(p) * m.lost[p, w] for (p, w) in hit)
        + sum(prob[w] * d.offers[(s, p)].unit_price * m.e[s, p, w] for (s, p, w) in surge)))
    m.objective = pyo.Objective(expr=m.purchase + m.award + m.fixed + m.unmet + m.disruption)
    return m


# -- solve ----------------------------------------------------------------------------------

MAX_REPAIRS = 20  # spurious tier choices cut off before giving up (each is one more MIP solve)


def solve(inst: Instance, options: SolveOptions) -> Result:
    """build -> MIP -> (diagnose | rising-tier repair -> extract); see docs/sourcing.md."""
    from .diagnose import diagnose

    start = time.perf_counter()
    m = build(inst)
    timings = {"build": time.perf_counter() - start, "handoff": 0.0, "solve": 0.0}

    deadline = start + options.time_limit if options.time_limit is not None else None

    def step(label, **kw) -> Solution:
        opts = options
        if deadline is not None:  # a re-solve gets what is left of the time limit
            opts = dataclasses.replace(options, time_limit=max(0.0, deadline - time.perf_counter()))
        sol = solve_step(m, opts, label, **kw)
        timings["handoff"] += sol.handoff_seconds
        timings["solve"] += sol.solve_seconds
        return sol

    sol = step(f"solving sourcing '{inst.name}'")
    for _ in range(MAX_REPAIRS):
        if not sol.status.has_solution:
            return failed(inst, sol, diagnose, timings, m, options)
        tops = rising_tops(m)
        if not tops:
            break
        repaired = _below_rising_tops(m, sol, options)
        if repaired is not None:
            timings["repair"] = repaired.solve_seconds - sol.solve_seconds
            sol = repaired
            break
        if deadline is not None and time.perf_counter() >= deadline:
            sol = dataclasses.replace(sol, status=Status.ERROR, objective=None,
                                      model_status="time limit reached while cutting off a tier choice")
            return failed(inst, sol, diagnose, timings, m, options)
        _cut_off_choice(m)  # the tier choice only exists at the dearer tier's threshold
        sol = step(f"solving sourcing '{inst.name}' again (a tier choice cut off)")
    else:
        sol = dataclasses.replace(sol, status=Status.ERROR, objective=None,
                                  model_status=f"more than {MAX_REPAIRS} tier choices cut off")
        return failed(inst, sol, diagnose, timings, m, options)
    start = time.perf_counter()
    out = extract(inst, m, sol)
    timings["extract"] = time.perf_counter() - start
    return finished(inst, sol, out, timings)


def rising_tops(m: pyo.ConcreteModel) -> list[tuple[str, str, int]]:
    """Chosen segments whose quantity sits on the threshold of a dearer next tier."""
    out = []
    for g, top in m.rising.items():
        if round(pyo.value(m.w[g])) == 1 and pyo.value(m.q[g]) >= top - 1e-9 * max(1.0, top):
            out.append(g)
    return out


def _binaries(m: pyo.ConcreteModel) -> list:
    return [v for c in (m.y, m.z, m.w) for v in c.values()]


def below(top: float) -> float:
    """Where a quantity "below a threshold" stops: 1e-6 relative short of it.

    HiGHS meets rows and bounds to 1e-7; a quantity nearer the threshold than that cannot
    be told apart from the threshold itself, so the plan keeps a margin ten times larger.
    """
    return top - BELOW_RELATIVE * max(1.0, top)


BELOW_RELATIVE = 1e-6


def _below_rising_tops(m: pyo.ConcreteModel, sol: Solution, options: SolveOptions) -> Solution | None:
    """Re-solve with the choices fixed and every chosen segment below a dearer tier ending
    just below its threshold (`below`); None when no such plan exists (cut the choice off).
    """
    tops = sorted({g for g in m.rising if round(pyo.value(m.w[g])) == 1})
    fixed = [v for v in _binaries(m) if not v.fixed]
    for v in fixed:
        v.fix(round(v.value))
    m.below_top = pyo.Constraint(tops, rule=lambda _, s, p, k: m.q[s, p, k] <= below(m.rising[(s, p, k)]))
    try:
        lp = solve_model(m, dataclasses.replace(options, time_limit=None))
    finally:
        m.del_component("below_top")
        for v in fixed:
            v.unfix()
    if not lp.status.has_solution:
        return None
    objective = float(pyo.value(m.objective))
    gap = (abs(objective - sol.bound) / max(abs(objective), 1e-9)) if sol.bound is not None else sol.mip_gap
    return dataclasses.replace(sol, objective=objective, mip_gap=gap,
                               handoff_seconds=sol.handoff_seconds + lp.handoff_seconds,
                               solve_seconds=sol.solve_seconds + lp.solve_seconds)


def _cut_off_choice(m: pyo.ConcreteModel) -> None:
    """Exclude the current values of all binaries (a no-good cut): that choice has no plan."""
    if not hasattr(m, "cut_off"):
        m.cut_off = pyo.ConstraintList()
    ones = [v for v in _binaries(m) if round(v.value) == 1]
    zeros = [v for v in _binaries(m) if round(v.value) == 0]
    m.cut_off.add(sum(1 - v for v in ones) + sum(zeros) >= 1)


def _snap_to_segment(m: pyo.ConcreteModel, key: tuple[str, str], qty: float) -> float:
    """Put a quantity that lies a rounding error below its chosen tier onto the tier's start.

    HiGHS meets bounds to about 1e-7; a quantity of 999.9999999 in the tier from 1000 must
    still be priced (by quantity, as the checker does) at that tier.
    """
    for g in m.segments_of.get(key, ()):
        lo = m.seg_bound[g][0]
        if round(pyo.value(m.w[g])) == 1 and lo - 1e-6 * max(1.0, lo) <= qty < lo:
            return lo
    return qty


def extract(inst: Instance, m: pyo.ConcreteModel, sol: Solution) -> Extracted:
    d: SourcingData = m.data
    val = pyo.value

    awards = []
    bought: dict[tuple[str, str], float] = {}  # awarded offer -> quantity as reported
    for (s, p), o in d.offers.items():
        if round(val(m.y[s, p])) < 1:
            continue
        qty = max(0.0, float(val(m.x[s, p])))
        qty = bought[(s, p)] = _snap_to_segment(m, (s, p), qty)
        tier = tier_of(d.tiers[(s, p)], qty)
        awards.append({
            "supplier": s, "product": p, "region": d.suppliers[s].region, "quantity": qty,
            "share": qty / d.products[p].demand, "unit_price": tier.unit_price,
            "tier_min_quantity": tier.min_quantity, "cost": qty * tier.unit_price,
            "award_cost": o.award_cost, "surge_capacity": o.surge_capacity,
        })
    awards = pd.DataFrame(awards, columns=["supplier", "product", "region", "quantity", "share", "unit_price",
                                           "tier_min_quantity", "cost", "award_cost", "surge_capacity"])

    by_product = awards.groupby("product").agg(bought=("quantity", "sum"), suppliers=("quantity", "size"),
                                               purchase_cost=("cost", "sum"))
    products = []
    for p, prod in d.products.items():
        row = by_product.loc[p] if p in by_product.index else None
        unmet = max(0.0, float(val(m.u[p]))) if p in m.u else 0.0
        products.append({
            "product": p, "demand": prod.demand, "bought": float(row["bought"]) if row is not None else 0.0,
            "unmet": unmet, "unmet_cost": unmet * (prod.shortage_penalty or 0.0),
            "suppliers": int(row["suppliers"]) if row is not None else 0,
            "purchase_cost": float(row["purchase_cost"]) if row is not None else 0.0,
        })
    products = pd.DataFrame(products)
    products["average_unit_price"] = products["purchase_cost"] / products["bought"].where(products["bought"] > 0)

    by_supplier = awards.groupby("supplier").agg(products=("quantity", "size"), quantity=("quantity", "sum"),
                                                 purchase_cost=("cost", "sum"), award_cost=("award_cost", "sum"))
    suppliers = []
    for s, sup in d.suppliers.items():
        row = by_supplier.loc[s] if s in by_supplier.index else None
        qty = float(row["quantity"]) if row is not None else 0.0
        suppliers.append({
            "supplier": s, "region": sup.region, "awarded": row is not None,
            "products": int(row["products"]) if row is not None else 0,
            "quantity": qty, "capacity": sup.capacity,
            "utilisation": qty / sup.capacity if sup.capacity else None,
            "purchase_cost": float(row["purchase_cost"]) if row is not None else 0.0,
            "award_cost": float(row["award_cost"]) if row is not None else 0.0,
            "fixed_cost": sup.fixed_cost if row is not None else 0.0,
        })
    suppliers = pd.DataFrame(suppliers)

    regions = (awards.groupby(["product", "region"], as_index=False)["quantity"].sum()
               if len(awards) else pd.DataFrame(columns=["product", "region", "quantity"]))
    regions["share"] = [q / d.products[p].demand for p, q in zip(regions["product"], regions["quantity"])]

    surge_rows, scen_rows = [], []
    for w, scen in d.scenarios.items():
        for p in d.products:
            planned_lost = sum((1 - d.delivered[(w, o[0])]) * bought[o]
                               for o in d.offers_of_product[p] if o in bought)
            surge = 0.0
            for o in d.offers_of_product[p]:
                if o not in bought or (*o, w) not in m.e:
                    continue  # surge needs an award (an unawarded offer's value is rounding noise)
                cap = d.delivered[(w, o[0])] * d.offers[o].surge_capacity
                e = min(cap, float(val(m.e[(*o, w)])))
                if e > 1e-9 * max(1.0, cap):
                    surge += e
                    surge_rows.append({"scenario": w, "supplier": o[0], "product": p, "surge": e,
                                       "unit_price": d.offers[o].unit_price, "cost": e * d.offers[o].unit_price})
            lost = max(0.0, planned_lost - surge)
            scen_rows.append({
                "scenario": w, "probability": scen.probability, "product": p,
                "undelivered": planned_lost, "surge": surge, "lost": lost,
                "lost_share": lost / d.products[p].demand, "loss_value": d.loss_value(p),
            })
    scenarios = pd.DataFrame(scen_rows, columns=["scenario", "probability", "product", "undelivered", "surge",
                                                 "lost", "lost_share", "loss_value"])
    surge = pd.DataFrame(surge_rows, columns=["scenario", "supplier", "product", "surge", "unit_price", "cost"])

    rw = inst.settings.risk_weight
    terms = {
        "purchase": float(awards["cost"].sum()),
        "award": float(awards["award_cost"].sum()),
        "fixed": float(suppliers["fixed_cost"].sum()),
        "unmet": float(products["unmet_cost"].sum()),
        "disruption": rw * float(
            (scenarios["probability"] * scenarios["lost"] * scenarios["loss_value"]).sum()
            + sum(d.scenarios[r["scenario"]].probability * r["cost"] for r in surge_rows)),
    }
    total_bought = float(products["bought"].sum())
    region_totals = awards.groupby("region")["quantity"].sum() if len(awards) else pd.Series(dtype=float)
    kpis = {
        "units_bought": total_bought,
        "units_unmet": float(products["unmet"].sum()),
        "suppliers_awarded": int(suppliers["awarded"].sum()),
        "awards": len(awards),
        "average_unit_price": terms["purchase"] / total_bought if total_bought else None,
        "region_shares": {r: float(q) / total_bought for r, q in region_totals.items()} if total_bought else {},
        "expected_units_lost": float((scenarios["probability"] * scenarios["lost"]).sum()),
    }
    return Extracted(terms, kpis, {"awards": awards, "products": products, "suppliers": suppliers,
                                   "regions": regions, "scenarios": scenarios, "surge": surge})
