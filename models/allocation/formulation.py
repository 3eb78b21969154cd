"""The lexicographic allocation MIP in Pyomo (see docs/allocation.md) and its result tables.

One Pyomo model carries the three objectives of MODELS.md "4. allocation"; `solve` runs
them in sequence, activating one objective at a time and adding the bound that keeps the
previous step's optimum:

1. maximise z, the minimum fill rate over (institution, product) pairs with need;
2. minimise the priority-weighted shortage, keeping z ≥ z* − 1e-6;
3. minimise transport cost, keeping the weighted shortage ≤ W* + 1e-7·|W*|.

A fourth solve, step 2 without the step-1 bound, gives the efficient plan for the price
of fairness.
"""

from __future__ import annotations

import dataclasses
import time

import pandas as pd
import pyomo.environ as pyo

from optimizer.instance import Instance
from optimizer.pipeline import Extracted, failed, finished, solve_step
from optimizer.results import Result
from optimizer.solver import Solution, SolveOptions, Status

from .data import AllocationData, Baseline, baseline
from .rounding import round_plan

FILL_TOL = 1e-6  # step 2 keeps the step-1 minimum fill rate within this (absolute)
SHORTAGE_TOL = 1e-7  # step 3 keeps the step-2 weighted shortage within this (relative)


# -- building --------------------------------------------------------------------------------


def build(inst: Instance, integer: bool = True, data: AllocationData | None = None) -> pyo.ConcreteModel:
    """The allocation model; integer=False relaxes pack counts to real numbers (the rounded method)."""
    d = data or AllocationData(inst)
    m = pyo.ConcreteModel(name=inst.name)
    m.data = d
    T = d.T

    deliveries = d.delivery_keys  # (i, p, t) -> pack bound
    use_keys = [(i, p, t) for (i, p) in d.pairs for t, q in enumerate(d.need[(i, p)]) if q > 0]
    need_of = {(i, p, t): d.need[(i, p)][t] for (i, p, t) in use_keys}

    # stock is tracked from the pair's first event (a need or a possible delivery) to its last need
    first_delivery: dict[tuple[str, str], int] = {}
    for (i, p, t) in deliveries:
        if first_delivery.get((i, p), T) > t:
            first_delivery[(i, p)] = t
    stock_keys, stock_start = [], {}
    for key in d.pairs:
        a = min(d.first_need(key), first_delivery.get(key, T))
        b = d.last_need(key)
        stock_start[key] = a
        stock_keys.extend((key[0], key[1], t) for t in range(a, b + 1))

    # Scaled for the solver: use as the fraction f of the period's need (0..1), institution and
    # central stock in packs. The coefficients then stay within a few orders of magnitude.
    m.n = pyo.Var(list(deliveries), domain=pyo.NonNegativeIntegers if integer else pyo.NonNegativeReals, bounds=lambda _, i, p, t: (0, deliveries[(i, p, t)]))
    m.f = pyo.Var(use_keys, bounds=(0, 1))
    m.s = pyo.Var(stock_keys, domain=pyo.NonNegativeReals)
    m.c = pyo.Var(list(d.products), range(T), domain=pyo.NonNegativeReals)
    m.z = pyo.Var(bounds=(0, 1))

    # -- central stock (packs) --------------------------------------------------------------
    out_of: dict[tuple[str, int], list] = {}
    for (i, p, t) in deliveries:
        out_of.setdefault((p, t), []).append((i, p, t))

    def central_rule(_, p, t):
        prev = m.c[p, t - 1] if t > 0 else 0.0
        return m.c[p, t] == prev + d.supply[p][t] / d.pack[p] - sum(m.n[k] for k in out_of.get((p, t), ()))

    m.central_balance = pyo.Constraint(list(d.products), range(T), rule=central_rule)

    # -- institution stock (packs) ------------------------------------------------------------
    def stock_rule(_, i, p, t):
        prev = d.stock0.get((i, p), 0.0) / d.pack[p] if t == stock_start[(i, p)] else m.s[i, p, t - 1]
        inflow = m.n[i, p, t] if (i, p, t) in deliveries else 0.0
        used = (need_of[(i, p, t)] / d.pack[p]) * m.f[i, p, t] if (i, p, t) in need_of else 0.0
        return m.s[i, p, t] == prev + inflow - used

    m.stock_balance = pyo.Constraint(stock_keys, rule=stock_rule)

    # -- region capacity per period (all products together) ---------------------------------
    into: dict[tuple[str, int], list] = {}
    for (i, p, t) in deliveries:
        r = d.region_of(i)
        if d.capacity(r) is not None:
            into.setdefault((r, t), []).append((i, p, t))
    m.region_capacity = pyo.Constraint(sorted(into), rule=lambda _, r, t: (
        sum(d.pack[k[1]] * m.n[k] for k in into[(r, t)]) <= d.capacity(r)))

    # -- fill rates ----------------------------------------------------------------------------
    uses_of: dict[tuple[str, str], list] = {}
    for k in use_keys:
        uses_of.setdefault(k[:2], []).append(k)
    # fill rate of a pair = Σ_t need_t f_t / Σ_t need_t, a convex combination of the f's
    m.pair_fill = pyo.Expression(d.pairs, rule=lambda _, i, p: sum(
        (need_of[k] / d.total_need[(i, p)]) * m.f[k] for k in uses_of[(i, p)]))
    m.fill_floor = pyo.Constraint(d.pairs, rule=lambda _, i, p: m.pair_fill[i, p] >= m.z)

    k = d.settings.care_cure_parity
    parity = d.parity_products()
    by_sector: dict[tuple[str, str], list] = {}
    for (i, p) in d.pairs:
        by_sector.setdefault((d.institutions[i].sector, p), []).append((i, p))

    def sector_fill(sector, p):
        total = d.sector_need[(sector, p)]
        return sum((need_of[u] / total) * m.f[u] for q in by_sector[(sector, p)] for u in uses_of[q])

    def parity_rule(_, p):
        return sector_fill("care", p) >= k * sector_fill("cure", p)

    m.parity = pyo.Constraint(parity, rule=parity_rule)

    # -- the three objectives ------------------------------------------------------------------
    prio = {i: rec.priority for i, rec in d.institutions.items()}
    m.weighted_shortage = pyo.Expression(expr=sum(prio[i] * need_of[(i, p, t)] * (1 - m.f[i, p, t])
                                                  for (i, p, t) in use_keys))
    m.transport_cost = pyo.Expression(expr=sum(d.cost(i) * d.pack[p] * m.n[i, p, t]
                                               for (i, p, t) in deliveries if d.cost(i) > 0))
    m.obj_fill = pyo.Objective(expr=-m.z)  # maximise z, written as a minimisation
    m.obj_shortage = pyo.Objective(expr=m.weighted_shortage)
    m.obj_cost = pyo.Objective(expr=m.transport_cost)
    for obj in (m.obj_fill, m.obj_shortage, m.obj_cost):
        obj.deactivate()
    m.fill_bound = pyo.Constraint(expr=m.z >= 0)  # set by step 2
    m.shortage_bound = pyo.Constraint(expr=m.weighted_shortage <= 0)  # set by step 3
    m.fill_bound.deactivate()
    m.shortage_bound.deactivate()
    return m


def _activate(m, objective):
    for obj in (m.obj_fill, m.obj_shortage, m.obj_cost):
        obj.deactivate()
    objective.activate()


# -- solving ---------------------------------------------------------------------------------


@dataclasses.dataclass
class Step:
    name: str
    objective: str
    sol: Solution


def _options_left(options: SolveOptions, deadline: float | None) -> SolveOptions:
    if deadline is None:
        return options
    return dataclasses.replace(options, time_limit=max(0.5, deadline - time.perf_counter()))


def pack_method(d: AllocationData) -> str:
    """exact (a MIP per step) or rounded (an LP per step, then whole packs by rounding)."""
    method = d.settings.pack_method
    if method == "auto":
        return "exact" if len(d.delivery_keys) <= d.settings.exact_max_deliveries else "rounded"
    return method


def _load(m, packs: dict, total: dict) -> None:
    """Write a whole-pack plan (packs per delivery, total use per pair) into the model's variables."""
    d: AllocationData = m.data
    for k, var in m.n.items():
        var.set_value(packs.get(k, 0), skip_validation=True)
    for (i, p, t), var in m.f.items():
        var.set_value(total[(i, p)] / d.total_need[(i, p)], skip_validation=True)


def _lp_packs(m) -> dict:
    return {k: float(var.value or 0.0) for k, var in m.n.items()}


def solve(inst: Instance, options: SolveOptions) -> Result:
    """The efficient plan, then the lexicographic steps; whole packs exactly or by rounding."""
    from .diagnose import diagnose

    start = time.perf_counter()
    deadline = start + options.time_limit if options.time_limit is not None else None
    d = AllocationData(inst)
    method = pack_method(d)
    exact = method == "exact"
    m = build(inst, integer=exact, data=d)
    timings = {"build": time.perf_counter() - start, "handoff": 0.0, "solve": 0.0}
    steps: list[Step] = []
    fair = d.settings.fairness == "maxmin"
    n_steps = 3 if fair else 2
    has_cost = any(d.cost(i) > 0 for (i, _, _) in d.delivery_keys)
    what = "" if exact else " (LP)"

    def run(label, name, objective) -> Solution:
        _activate(m, objective)
        opts = _options_left(options, deadline)
        if not exact and opts.lp_method == "choose":
            # large, degenerate LPs: the interior point method beats simplex here (docs/allocation.md)
            opts = dataclasses.replace(opts, lp_method="ipm")
        sol = solve_step(m, opts, f"{label}{what} '{inst.name}'")
        timings["handoff"] += sol.handoff_seconds
        timings["solve"] += sol.solve_seconds
        steps.append(Step(name, objective.local_name, sol))
        return sol

    def rounded(mode):
        t0 = time.perf_counter()
        packs, total = round_plan(d, _lp_packs(m), mode)
        _load(m, packs, total)
        timings["rounding"] = timings.get("rounding", 0.0) + time.perf_counter() - t0

    # The efficient plan (shortage only) first: its figures are read before the fair steps overwrite the values.
    efficient = None
    if fair:
        sol_e = run("efficient plan (shortage only)", "efficient", m.obj_shortage)
        if sol_e.status.has_solution:
            if not exact:
                rounded("efficient")
            efficient = _plan_figures(d, m)

    z_bound = None
    if fair:
        sol1 = run(f"step 1/{n_steps} max-min fill rate", "1 max-min fill rate", m.obj_fill)
        if not sol1.status.has_solution:
            return failed(inst, sol1, diagnose, timings)
        z_bound = float(pyo.value(m.z)) if exact else -float(sol1.objective)
        m.fill_bound.set_value(m.z >= float(pyo.value(m.z)) - FILL_TOL)
        m.fill_bound.activate()
    step = 2 if fair else 1
    sol2 = run(f"step {step}/{n_steps} weighted shortage", "2 weighted shortage", m.obj_shortage)
    if not sol2.status.has_solution:
        if not fair:
            return failed(inst, sol2, diagnose, timings)
        # a time limit without a step-2 solution: the step-1 plan stands (its values were kept)
        main = dataclasses.replace(steps[-2].sol, status=Status.FEASIBLE, mip_gap=None, bound=None)
    else:
        main = sol2
        w2 = float(pyo.value(m.weighted_shortage))
        if has_cost:
            m.shortage_bound.set_value(m.weighted_shortage <= w2 + SHORTAGE_TOL * abs(w2))
            m.shortage_bound.activate()
            sol3 = run(f"step {step + 1}/{n_steps} transport cost", "3 transport cost", m.obj_cost)
            if sol3.status != Status.OPTIMAL:
                main = dataclasses.replace(main, status=Status.FEASIBLE)
    if any(s.sol.status == Status.FEASIBLE for s in steps) and main.status == Status.OPTIMAL:
        main = dataclasses.replace(main, status=Status.FEASIBLE)

    if not exact:
        rounded("fair" if fair else "efficient")

    if efficient is not None:
        # the fair plan is a candidate for "only minimise shortage" too: keep the better of the two
        fair_fig = _plan_figures(d, m)
        if fair_fig["weighted_shortage"] < efficient["weighted_shortage"]:
            efficient = fair_fig

    t0 = time.perf_counter()
    out = extract(inst, m, main, steps=steps, efficient=efficient)
    out.kpis["pack_method"] = method
    timings["extract"] = time.perf_counter() - t0
    if not exact:
        out.kpis["lp_min_fill_rate"] = z_bound
        out.kpis["lp_weighted_shortage"] = main.bound
        w = out.kpis["weighted_shortage"]
        gap = abs(w - main.bound) / max(abs(w), 1e-9) if main.bound is not None else None
        zr = out.kpis["min_fill_rate"]
        fill_ok = z_bound is None or zr is None or z_bound - zr <= FILL_TOL
        ok = main.status == Status.OPTIMAL and fill_ok and gap is not None and gap <= options.mip_gap
        main = dataclasses.replace(main, status=Status.OPTIMAL if ok else Status.FEASIBLE, mip_gap=gap)
    result = finished(inst, main, out, timings)
    if exact and result.mip_gap is not None and main.bound is not None:
        # the gap of the weighted-shortage step, measured against the reported objective
        result.mip_gap = abs(result.objective - main.bound) / max(abs(result.objective), 1e-9)
    if result.mip_gap is not None and result.mip_gap < 1e-12:
        result.mip_gap = 0.0
    return result


# -- reading the plan ------------------------------------------------------------------------


def _values(m) -> tuple[dict, dict]:
    """Deliveries in packs and use per (institution, product, period), made exactly consistent.

    Pack counts are whole after the solver hand-off. The objectives only see each pair's
    total use, so per period the reported use follows the planner's rule "use stock when it
    is needed": use[t] = min(need[t], stock on hand, what is left of the pair's optimised
    total). This keeps every pair's total (hence every fill rate, the weighted shortage and
    parity), never lets stock go negative, and puts any shortage as late as the deliveries allow.
    """
    d: AllocationData = m.data
    x = {}
    for k, var in m.n.items():
        packs = int(round(var.value or 0))
        if packs > 0:
            x[k] = packs
    u = {}
    for (i, p) in d.pairs:
        row = d.need[(i, p)]
        left = sum(row[t] * min(max(0.0, m.f[i, p, t].value or 0.0), 1.0) for t in range(d.T) if row[t] > 0)
        stock = d.stock0.get((i, p), 0.0)
        for t in range(d.T):
            stock += x.get((i, p, t), 0) * d.pack[p]
            if row[t] > 0:
                used = max(0.0, min(row[t], stock, left))
                u[(i, p, t)] = used
                stock -= used
                left -= used
    return x, u


def _fill_summary(d: AllocationData, use_of_pair) -> dict:
    """Min fill rate, weighted shortage, sector fill rates from use per pair."""
    rates = [use_of_pair(k) / d.total_need[k] for k in d.pairs]
    w = sum(d.institutions[i].priority * (d.total_need[(i, p)] - use_of_pair((i, p))) for (i, p) in d.pairs)
    sectors = {}
    for sector in ("cure", "care"):
        keys = [k for k in d.pairs if d.institutions[k[0]].sector == sector]
        need = sum(d.total_need[k] for k in keys)
        sectors[sector] = sum(use_of_pair(k) for k in keys) / need if need > 0 else None
    return {"min_fill_rate": min(rates) if rates else None, "weighted_shortage": w, "sectors": sectors}


def _plan_figures(d: AllocationData, m) -> dict:
    x, u = _values(m)
    by_pair: dict = {}
    for (i, p, _), v in u.items():
        by_pair[(i, p)] = by_pair.get((i, p), 0.0) + v
    fig = _fill_summary(d, lambda k: by_pair.get(k, 0.0))
    fig["transport_cost"] = sum(d.cost(i) * d.pack[p] * n for (i, p, _), n in x.items())
    return fig


def _rate(use: float, need: float):
    return use / need if need > 0 else None


def _groups(fill: pd.DataFrame, column: str) -> pd.DataFrame:
    """Fill rate per group and product, plus one row per group over all products (product '*')."""
    cols = [column, "product", "institutions", "need", "use", "shortage", "fill_rate", "min_fill_rate"]
    if fill.empty:
        return pd.DataFrame(columns=cols)
    per = fill.groupby([column, "product"], sort=False).agg(
        institutions=("institution", "nunique"), need=("need", "sum"), use=("use", "sum"),
        shortage=("shortage", "sum"), min_fill_rate=("fill_rate", "min")).reset_index()
    allp = fill.groupby(column, sort=False).agg(
        institutions=("institution", "nunique"), need=("need", "sum"), use=("use", "sum"),
        shortage=("shortage", "sum"), min_fill_rate=("fill_rate", "min")).reset_index()
    allp["product"] = "*"
    out = pd.concat([per, allp], ignore_index=True)
    out["fill_rate"] = out["use"] / out["need"]
    return out.sort_values([column, "product"], kind="stable").reset_index(drop=True)[cols]


def extract(inst: Instance, m, sol: Solution, steps: list[Step] | None = None, efficient: dict | None = None,
            base: Baseline | None = None) -> Extracted:
    d: AllocationData = m.data
    x, u = _values(m)
    base = base or baseline(d)

    deliveries = pd.DataFrame(
        [{"period": t, "institution": i, "product": p, "packs": n, "units": n * d.pack[p]}
         for (i, p, t), n in sorted(x.items(), key=lambda kv: (kv[0][2], kv[0][0], kv[0][1]))],
        columns=["period", "institution", "product", "packs", "units"])

    # per period: need, delivery, use, shortage and end stock of every pair with need
    usage_rows = []
    use_pair: dict = {}
    for (i, p) in d.pairs:
        stock = d.stock0.get((i, p), 0.0)
        row = d.need[(i, p)]
        total = 0.0
        for t in range(d.T):
            delivered = x.get((i, p, t), 0) * d.pack[p]
            used = u.get((i, p, t), 0.0)
            stock += delivered - used
            total += used
            if row[t] > 0 or delivered > 0:
                usage_rows.append({"period": t, "institution": i, "product": p, "need": row[t], "delivery": delivered,
                                   "use": used, "shortage": row[t] - used, "stock": stock})
        use_pair[(i, p)] = total
    usage = pd.DataFrame(usage_rows, columns=["period", "institution", "product", "need", "delivery", "use",
                                              "shortage", "stock"])

    fill_rows = []
    for (i, p) in d.pairs:
        rec = d.institutions[i]
        need = d.total_need[(i, p)]
        used = use_pair[(i, p)]
        b = base.use_of((i, p))
        fill_rows.append({"institution": i, "product": p, "need": need, "use": used, "shortage": need - used,
                          "fill_rate": used / need, "sector": rec.sector, "type": rec.type, "region": rec.region,
                          "priority": rec.priority, "initial_stock": d.stock0.get((i, p), 0.0),
                          "delivered": sum(x.get((i, p, t), 0) for t in range(d.T)) * d.pack[p],
                          "baseline_use": b, "baseline_fill_rate": b / need})
    fill = pd.DataFrame(fill_rows, columns=["institution", "product", "need", "use", "shortage", "fill_rate", "sector",
                                            "type", "region", "priority", "initial_stock", "delivered",
                                            "baseline_use", "baseline_fill_rate"])

    central_rows = []
    sent: dict = {}
    for (i, p, t), n in x.items():
        sent[(p, t)] = sent.get((p, t), 0.0) + n * d.pack[p]
    for p in d.products:
        stock = 0.0
        for t in range(d.T):
            out_units = sent.get((p, t), 0.0)
            stock += d.supply[p][t] - out_units
            central_rows.append({"product": p, "period": t, "supply": d.supply[p][t], "delivered": out_units,
                                 "stock": stock, "baseline_stock": base.central.get((p, t))})
    central = pd.DataFrame(central_rows, columns=["product", "period", "supply", "delivered", "stock",
                                                  "baseline_stock"])

    into: dict = {}
    for (i, p, t), n in x.items():
        into[(d.region_of(i), t)] = into.get((d.region_of(i), t), 0.0) + n * d.pack[p]
    transport_rows = []
    for r in d.region_labels:
        cap = d.capacity(r)
        cost = d.regions[r].cost_per_unit if r in d.regions else 0.0
        for t in range(d.T):
            units = into.get((r, t), 0.0)
            transport_rows.append({"region": r, "period": t, "units": units, "capacity": cap,
                                   "utilisation": units / cap if cap else None, "cost_per_unit": cost,
                                   "cost": units * cost})
    transport = pd.DataFrame(transport_rows, columns=["region", "period", "units", "capacity", "utilisation",
                                                      "cost_per_unit", "cost"])

    sectors = _groups(fill, "sector")
    types = _groups(fill, "type")
    regions = _groups(fill, "region")

    fair = _fill_summary(d, lambda k: use_pair.get(k, 0.0))
    transport_cost = float(transport["cost"].sum())
    base_fig = _fill_summary(d, base.use_of)
    base_fig["transport_cost"] = sum(d.cost(i) * q for (i, p, t), q in base.deliveries.items())
    if d.settings.fairness == "none" or efficient is None:
        efficient = {**fair, "transport_cost": transport_cost}
    price = fair["weighted_shortage"] - efficient["weighted_shortage"] if d.settings.fairness == "maxmin" else 0.0

    def row(plan, fig):
        return {"plan": plan, "min_fill_rate": fig["min_fill_rate"], "weighted_shortage": fig["weighted_shortage"],
                "fill_rate_cure": fig["sectors"]["cure"], "fill_rate_care": fig["sectors"]["care"],
                "transport_cost": fig["transport_cost"]}

    comparison = pd.DataFrame([row("optimised", {**fair, "transport_cost": transport_cost}),
                               row("baseline", base_fig), row("efficient", efficient)])

    step_rows = []
    for s in steps or []:
        step_rows.append({"step": s.name, "objective": s.objective, "status": s.sol.status.value,
                          "value": s.sol.objective, "bound": s.sol.bound, "mip_gap": s.sol.mip_gap,
                          "variables": s.sol.num_cols, "integer_variables": s.sol.num_int,
                          "constraints": s.sol.num_rows, "handoff_seconds": s.sol.handoff_seconds,
                          "solve_seconds": s.sol.solve_seconds})
    step_table = pd.DataFrame(step_rows, columns=["step", "objective", "status", "value", "bound", "mip_gap",
                                                  "variables", "integer_variables", "constraints",
                                                  "handoff_seconds", "solve_seconds"])

    all_regions = regions[regions["product"] == "*"]
    all_types = types[types["product"] == "*"]
    kpis = {
        "min_fill_rate": fair["min_fill_rate"],
        "weighted_shortage": fair["weighted_shortage"],
        "transport_cost": transport_cost,
        "fill_rate": _rate(float(fill["use"].sum()), float(fill["need"].sum())),
        "fill_rate_cure": fair["sectors"]["cure"],
        "fill_rate_care": fair["sectors"]["care"],
        "fill_rate_by_region": dict(zip(all_regions["region"], all_regions["fill_rate"].astype(float))),
        "fill_rate_by_type": dict(zip(all_types["type"], all_types["fill_rate"].astype(float))),
        "units_needed": float(fill["need"].sum()),
        "units_used": float(fill["use"].sum()),
        "units_delivered": float(deliveries["units"].sum()),
        "baseline_min_fill_rate": base_fig["min_fill_rate"],
        "baseline_weighted_shortage": base_fig["weighted_shortage"],
        "baseline_fill_rate_cure": base_fig["sectors"]["cure"],
        "baseline_fill_rate_care": base_fig["sectors"]["care"],
        "efficient_weighted_shortage": efficient["weighted_shortage"],
        "price_of_fairness": price,
        "fairness": d.settings.fairness,
    }
    tables = {"deliveries": deliveries, "usage": usage, "fill": fill, "sectors": sectors, "types": types,
              "regions": regions, "central": central, "transport": transport, "comparison": comparison,
              "steps": step_table}
    return Extracted({"weighted_shortage": fair["weighted_shortage"]}, kpis, tables)
