"""The ironstock two-stage stochastic model in Pyomo (see docs/ironstock.md) and its result tables."""

from __future__ import annotations

import dataclasses
import time

import pandas as pd
import pyomo.environ as pyo

from stockpile.checking import tol
from stockpile.instance import Instance
from stockpile.pipeline import Extracted, failed, finished, solve_step
from stockpile.results import Result
from stockpile.solver import Solution, SolveOptions

from .data import IronstockData
from .explain import explain_table


# -- build ----------------------------------------------------------------------------------


def build(inst: Instance, elastic: bool = False) -> pyo.ConcreteModel:
    """The monolithic two-stage model: the first stage and every scenario's play-out.

    elastic: the policy floor (min_cover_periods × baseline_demand) becomes soft, with a
    shortfall u[p] per product (see define_reserve and docs/ironstock.md, "Elastic mode").
    """
    d = IronstockData(inst)
    d.elastic = elastic
    return build_model(inst, d, list(d.scenarios))


def build_model(inst: Instance, d: IronstockData, scenarios: list[str], weight: float = 1.0,
                compact: bool = False) -> pyo.ConcreteModel:
    """The first stage plus the play-out of the given scenarios.

    With every scenario this is the monolithic model; with one scenario (or a bundle) it is
    a subproblem of the decomposition (models/ironstock/decomposed.py), whose shortage term
    is scaled by `weight` (see docs/decomposition.md: the "no crisis" mass). compact: the
    play-out as its least-shortage cuts (define_playout_cuts) instead of period flows.
    """
    m = pyo.ConcreteModel(name=inst.name)
    m.data = d
    define_first_stage(m, d, inst.settings)
    keep = set(scenarios)
    pairs = [pair for pair in d.pairs if pair[0] in keep]
    if compact:
        define_playout_cuts(m, d, pairs)
    else:
        define_playout(m, d, pairs)
    define_objective(m, d, weight)
    return m


def define_first_stage(m, d: IronstockData, settings) -> None:
    """Reserve, reserved capacity, write-off and the budget and storage rows that couple products."""
    define_reserve(m, d)
    define_reservations(m, d)
    define_writeoff(m, d)
    define_limits(m, d, settings)


def first_stage_variables(m) -> list:
    """Every first-stage variable, in a fixed order (the decomposition's non-anticipative ones)."""
    return [*m.R.values(), *m.n.values(), *m.c.values(), *m.excess.values()]


def define_reserve(m, d: IronstockData) -> None:
    """R[p] ≥ the policy floor; R = existing_stock + n × lot_size with whole n where lot_size is set.

    Elastic: R ≥ existing_stock stays (that stock is there), the min-cover floor becomes
    R + u[p] ≥ min_cover_periods × baseline_demand with shortfall u[p] ≥ 0.
    """
    products = list(d.products)
    lotted = [p for p in products if d.products[p].lot_size is not None]
    elastic = getattr(d, "elastic", False)
    if elastic:
        soft = [p for p in products if d.floor(p) > d.products[p].existing_stock]
        m.R = pyo.Var(products, domain=pyo.NonNegativeReals, bounds=lambda _, p: (d.products[p].existing_stock, None))
        m.n = pyo.Var(lotted, domain=pyo.NonNegativeIntegers, bounds=(0, None))
        m.floor_short = pyo.Var(soft, domain=pyo.NonNegativeReals)
        m.soft_floor = pyo.Constraint(soft, rule=lambda _, p: m.R[p] + m.floor_short[p] >= d.floor(p))
    else:
        m.R = pyo.Var(products, domain=pyo.NonNegativeReals, bounds=lambda _, p: (d.least_reserve(p), None))
        m.n = pyo.Var(lotted, domain=pyo.NonNegativeIntegers, bounds=lambda _, p: (d.lots_needed(p), None))
    m.lots = pyo.Constraint(lotted, rule=lambda _, p: (
        m.R[p] == d.products[p].existing_stock + d.products[p].lot_size * m.n[p]))


def define_reservations(m, d: IronstockData) -> None:
    """Reserved warm capacity c[k] within [0, max_capacity]."""
    m.c = pyo.Var(list(d.reservations), domain=pyo.NonNegativeReals,
                  bounds=lambda _, k: (0, d.reservations[k].max_capacity))


def define_writeoff(m, d: IronstockData) -> None:
    """excess[p] ≥ R[p] − r·L, ≥ 0: the reserve regular use cannot renew before it expires."""
    wo = [p for p in d.products if d.writes_off(p)]
    m.excess = pyo.Var(wo, domain=pyo.NonNegativeReals)
    m.excess_def = pyo.Constraint(wo, rule=lambda _, p: m.excess[p] >= m.R[p] - d.writeoff_threshold(p))


def define_limits(m, d: IronstockData, settings) -> None:
    """Budget on purchases beyond existing stock; storage on the whole reserve."""
    priced = [p for p, prod in d.products.items() if prod.unit_cost > 0]
    if settings.budget is not None and priced:
        m.budget = pyo.Constraint(expr=sum(
            d.products[p].unit_cost * (m.R[p] - d.products[p].existing_stock) for p in priced) <= settings.budget)
    bulky = [p for p, prod in d.products.items() if prod.unit_volume > 0]
    if settings.storage_capacity is not None and bulky:
        m.storage = pyo.Constraint(expr=sum(
            d.products[p].unit_volume * m.R[p] for p in bulky) <= settings.storage_capacity)


def define_playout(m, d: IronstockData, pairs: list[tuple[str, str]]) -> None:
    """Per scenario–product pair with demand, period by period: resupply, shortage, stock."""
    T = d.T
    idx = [(w, p, t) for (w, p) in pairs for t in range(T)]
    base = {(w, p): d.source_capacity(w, p) for (w, p) in pairs}
    dem = d.demand
    ridx = [(w, p, t) for (w, p, t) in idx if d.resupplied(p)]
    # periods where a reservation delivers need a row; elsewhere the source capacity is a bound
    reserved_rows = [(w, p, t) for (w, p, t) in ridx if d.reservations_active(p, t)]
    reserved_set = set(reserved_rows)

    def resupply_bounds(_, w, p, t):
        return (0, None if (w, p, t) in reserved_set else base[(w, p)][t])

    m.resupply = pyo.Var(ridx, domain=pyo.NonNegativeReals, bounds=resupply_bounds)
    m.short = pyo.Var(idx, domain=pyo.NonNegativeReals, bounds=lambda _, w, p, t: (0, dem[(w, p)][t]))
    m.stock = pyo.Var(idx, domain=pyo.NonNegativeReals)
    m.resupply_cap = pyo.Constraint(reserved_rows, rule=lambda _, w, p, t: (
        m.resupply[w, p, t] <= base[(w, p)][t] + sum(m.c[k] for k in d.reservations_active(p, t))))

    def balance(_, w, p, t):
        before = m.R[p] if t == 0 else m.stock[w, p, t - 1]
        inflow = m.resupply[w, p, t] if (w, p, t) in m.resupply else 0
        return m.stock[w, p, t] == before + inflow - (dem[(w, p)][t] - m.short[w, p, t])

    m.balance = pyo.Constraint(idx, rule=balance)
    m.playout_index = idx


def shortage_cuts(d: IronstockData, w: str, p: str) -> list[tuple[float, dict[str, float]]]:
    """The least total shortage of a pair as the largest of a few affine functions.

    Storage is unlimited and resupply can be stored, so the demand of periods 0..k can only
    be met from R + the resupply of periods 0..k (a cut of the play-out's flow network), and
    greedy play-out meets every such bound at once: least shortage = max(0, max_k (D_k −
    A_k − R − Σ_j c_j·(k − ramp_j + 1)⁺)), with D_k, A_k cumulative demand and source
    capacity. Returns (constant, {reservation: coefficient}) of the rows that are not
    dominated (a row is dominated by an earlier one with a constant at least as large, and
    by a later one with the same coefficients and a larger constant).
    """
    dem, base = d.demand[(w, p)], d.source_capacity(w, p)
    mine = d.reservations_of[p]
    rows, best, D, A = [], 0.0, 0.0, 0.0
    for k in range(d.T):
        D += dem[k]
        A += base[k]
        b = D - A
        if b > best + 1e-9:
            best = b
            coef = {j: float(max(0, k - d.reservations[j].ramp_up_periods + 1)) for j in mine}
            if rows and rows[-1][1] == coef:
                rows[-1] = (b, coef)
            else:
                rows.append((b, coef))
    return rows


def define_playout_cuts(m, d: IronstockData, pairs: list[tuple[str, str]]) -> None:
    """Per pair, its total shortage above every least-shortage cut (shortage_cuts)."""
    cuts = {pair: shortage_cuts(d, *pair) for pair in pairs}
    m.short_total = pyo.Var(pairs, domain=pyo.NonNegativeReals,
                            bounds=lambda _, w, p: (0, sum(d.demand[(w, p)])))
    rows = [(w, p, i) for (w, p) in pairs for i in range(len(cuts[(w, p)]))]

    def cut(_, w, p, i):
        b, coef = cuts[(w, p)][i]
        return m.short_total[w, p] + m.R[p] + sum(a * m.c[j] for j, a in coef.items() if a) >= b

    m.least_shortage = pyo.Constraint(rows, rule=cut)


def define_objective(m, d: IronstockData, weight: float = 1.0) -> None:
    prob = {w: weight * s.probability for w, s in d.scenarios.items()}
    m.holding = pyo.Expression(expr=sum(prod.holding_cost * m.R[p] for p, prod in d.products.items()))
    m.reservation = pyo.Expression(expr=sum(r.fee * m.c[k] for k, r in d.reservations.items()))
    m.writeoff = pyo.Expression(expr=sum(d.writeoff_rate(p) * m.excess[p] for p in m.excess))
    if hasattr(m, "short_total"):
        m.shortage = pyo.Expression(expr=sum(
            prob[w] * d.products[p].shortage_penalty * m.short_total[w, p] for (w, p) in m.short_total))
    else:
        m.shortage = pyo.Expression(expr=sum(
            prob[w] * d.products[p].shortage_penalty * m.short[w, p, t] for (w, p, t) in m.playout_index))
    total = m.holding + m.reservation + m.writeoff + m.shortage
    price = (d.settings.shortfall_penalty or {}).get("products") if getattr(d, "elastic", False) else None
    if price is not None:
        m.shortfall = pyo.Expression(expr=price * sum(m.floor_short.values()))
        total = total + m.shortfall
    m.objective = pyo.Objective(expr=total)


# -- solve ----------------------------------------------------------------------------------


def playout_cells(d: IronstockData) -> int:
    """Size of the monolithic play-out: (scenario, product) pairs with demand × periods."""
    return len(d.pairs) * d.T


def use_decomposition(inst: Instance, d: IronstockData) -> bool:
    """settings.method, with auto decomposing above decompose_above play-out cells.

    Without a scenario that can cost anything there is nothing to decompose: monolithic.
    """
    from .decomposed import active_scenarios

    if not active_scenarios(d):
        return False
    method = inst.settings.method
    return method == "decomposed" or (method == "auto" and playout_cells(d) > inst.settings.decompose_above)


def solve(inst: Instance, options: SolveOptions) -> Result:
    """build -> solve -> (diagnose | marginal values from the LP with lots fixed -> extract)."""
    from .diagnose import diagnose

    elastic = options.elastic if options.elastic is not None else inst.settings.elastic
    if not elastic and use_decomposition(inst, IronstockData(inst)):
        return solve_decomposed(inst, options)
    start = time.perf_counter()
    m = build(inst, elastic)
    timings = {"build": time.perf_counter() - start}
    if elastic and not hasattr(m, "shortfall") and len(m.floor_short):
        least_shortfall(m, options, inst.name)
    sol = solve_step(m, options, f"solving ironstock '{inst.name}'", keep=True)
    timings.update(handoff=sol.handoff_seconds, solve=sol.solve_seconds)
    if not sol.status.has_solution:
        return failed(inst, sol, diagnose, timings, m, options)
    duals = sol
    if sol.num_int:
        duals = marginal_lp(m, sol, options)
        timings["marginal_lp"] = duals.handoff_seconds + duals.solve_seconds
        if duals.status.has_solution and sol.bound is not None:
            # the LP re-optimises the continuous choices for the lots found: never worse
            gap = abs(duals.objective - sol.bound) / max(abs(duals.objective), 1e-9)
            sol = dataclasses.replace(sol, objective=duals.objective, mip_gap=0.0 if gap < 1e-12 else gap)
    start = time.perf_counter()
    out = extract(inst, m, sol, duals)
    out.kpis["method"] = "monolithic"
    if elastic:
        add_shortfall(inst, m, out)
    timings["extract"] = time.perf_counter() - start
    return finished(inst, sol, out, timings)


def least_shortfall(m, options: SolveOptions, name: str) -> None:
    """Lexicographic elastic mode, step 1: the least total floor shortfall; step 2 (the
    normal solve) keeps it there (+ a small tolerance), so the plan is the exact plan
    whenever one exists."""
    m.objective.deactivate()
    m.shortfall_first = pyo.Objective(expr=sum(m.floor_short.values()))
    first = solve_step(m, options, f"least policy-floor shortfall of ironstock '{name}'")
    m.shortfall_first.deactivate()
    m.objective.activate()
    if first.status.has_solution:
        least = max(0.0, first.objective)
        m.shortfall_cap = pyo.Constraint(expr=sum(m.floor_short.values()) <= least + 1e-7 * max(1.0, least))


def add_shortfall(inst: Instance, m, out: Extracted) -> None:
    """shortfall.csv and the KPIs of elastic mode, from the plan's reserve."""
    d: IronstockData = m.data
    reserve = dict(zip(out.tables["reserve"]["product"], out.tables["reserve"]["reserve"]))
    rows = []
    for p in d.products:
        need = d.floor(p)
        if need > d.products[p].existing_stock and reserve[p] < need - 1e-9:
            rows.append({"rule": "min_cover", "product": p, "location": "", "period": "",
                         "required": need, "achieved": reserve[p], "short": need - reserve[p]})
    frame = pd.DataFrame(rows, columns=["rule", "product", "location", "period", "required", "achieved", "short"])
    out.tables["shortfall"] = frame
    out.kpis["total_shortfall"] = float(frame["short"].sum())
    out.kpis["elastic"] = True
    price = (inst.settings.shortfall_penalty or {}).get("products")
    if price is not None:
        out.objective_terms["shortfall"] = price * out.kpis["total_shortfall"]


def marginal_lp(m, sol: Solution, options: SolveOptions) -> Solution:
    """Fix the whole lots found and solve the remaining LP: its duals price budget and storage.

    The MIP's HiGHS model is re-solved in place (lots fixed), not compiled a second time.
    """
    return solve_step(m, options, "pricing budget and storage (LP with lots fixed)", resolve=sol)


def marginal_value(m, name: str, limit, duals: Solution) -> float | None:
    """EUR/year saved per unit more of a limit: −d objective / d rhs of its ≤ row (≥ 0)."""
    if limit is None:
        return None
    con = getattr(m, name, None)
    if con is None or not duals.status.has_solution or duals.row_duals is None:
        return 0.0 if con is None else None
    return max(0.0, -duals.dual(con))


# -- extract --------------------------------------------------------------------------------


def val(var) -> float:
    """A variable's value; one the solver never saw (in no row, zero cost) sits at its lower bound."""
    if var.value is not None:
        return float(var.value)
    return float(var.lb) if var.lb is not None else 0.0


def extract(inst: Instance, m: pyo.ConcreteModel, sol: Solution, duals: Solution | None = None) -> Extracted:
    """Read the plan off the solved monolithic model."""
    d: IronstockData = m.data
    duals = duals or sol
    R = {}
    for p, prod in d.products.items():
        if p in m.n:
            R[p] = prod.existing_stock + prod.lot_size * round(val(m.n[p]))
        else:
            R[p] = max(float(val(m.R[p])), prod.existing_stock if getattr(d, "elastic", False) else d.least_reserve(p))
    c = {k: min(max(0.0, float(val(m.c[k]))), r.max_capacity) for k, r in d.reservations.items()}

    def flows(w, p, t):
        """(resupply, shortage, stock) of a pair in a period, as the solver left them."""
        supplied = max(0.0, float(val(m.resupply[w, p, t]))) if (w, p, t) in m.resupply else 0.0
        return supplied, float(val(m.short[w, p, t])), max(0.0, float(val(m.stock[w, p, t])))

    budget_mv = marginal_value(m, "budget", inst.settings.budget, duals)
    storage_mv = marginal_value(m, "storage", inst.settings.storage_capacity, duals)
    return plan_tables(inst, d, R, c, flows, budget_mv, storage_mv)


def greedy_flows(d: IronstockData, c: dict[str, float], R: dict[str, float]):
    """Play-out flows that serve demand as early as possible with every resupply taken.

    This reaches the least shortage any play-out can (data.greedy_shortage), so it is an
    optimal second stage for the given reserve and reserved capacities.
    """
    cache: dict[tuple[str, str], list[tuple[float, float, float]]] = {}  # the current pair only

    def flows(w, p, t):
        if (w, p) not in cache:
            cache.clear()
            cap, dem = d.resupply_capacity(w, p, c), d.demand[(w, p)]
            stock, out = R[p], []
            for dt, ct in zip(dem, cap):
                available = stock + ct
                use = min(dt, available)
                stock = available - use
                out.append((ct, dt - use, stock))
            cache[(w, p)] = out
        return cache[(w, p)][t]

    return flows


def plan_tables(inst: Instance, d: IronstockData, R: dict[str, float], c: dict[str, float], flows,
                budget_mv: float | None, storage_mv: float | None) -> Extracted:
    """Result tables, objective terms and KPIs of a plan: reserve R, reserved capacity c and
    the play-out flows(w, p, t) -> (resupply, shortage, stock)."""
    settings = inst.settings
    reserve_rows = []
    for p, prod in d.products.items():
        excess = max(0.0, R[p] - d.writeoff_threshold(p)) if d.writes_off(p) else 0.0
        reserve_rows.append({
            "product": p, "reserve": R[p], "existing_stock": prod.existing_stock,
            "bought": R[p] - prod.existing_stock,
            "lots": round((R[p] - prod.existing_stock) / prod.lot_size) if prod.lot_size is not None else None,
            "cover_periods": R[p] / prod.baseline_demand if prod.baseline_demand > 0 else None,
            "volume": prod.unit_volume * R[p],
            "purchase_cost": prod.unit_cost * (R[p] - prod.existing_stock),
            "holding_cost": prod.holding_cost * R[p],
            "writeoff_units": excess,
            "writeoff_cost": d.writeoff_rate(p) * excess if d.writes_off(p) else 0.0,
        })
    reserve = pd.DataFrame(reserve_rows, columns=[
        "product", "reserve", "existing_stock", "bought", "lots", "cover_periods", "volume",
        "purchase_cost", "holding_cost", "writeoff_units", "writeoff_cost"])
    reserve["lots"] = reserve["lots"].astype("Int64")

    reservations = pd.DataFrame([{
        "reservation": k, "product": r.product, "capacity": c[k], "max_capacity": r.max_capacity,
        "ramp_up_periods": r.ramp_up_periods, "fee_rate": r.fee, "fee": r.fee * c[k],
    } for k, r in d.reservations.items()], columns=[
        "reservation", "product", "capacity", "max_capacity", "ramp_up_periods", "fee_rate", "fee"])

    play, short_rows = [], []
    for (w, p) in d.pairs:
        cap = d.resupply_capacity(w, p, c)
        dem = d.demand[(w, p)]
        total_short = 0.0
        for t in range(d.T):
            supplied, s, stock = flows(w, p, t)
            s = min(max(0.0, s), dem[t])
            total_short += s
            if settings.playout:
                play.append({"scenario": w, "product": p, "period": t, "demand": dem[t], "resupply": supplied,
                             "resupply_capacity": cap[t], "use": dem[t] - s, "shortage": s, "stock": stock})
        prob = d.scenarios[w].probability
        penalty = d.products[p].shortage_penalty
        total = sum(dem)
        short_rows.append({
            "scenario": w, "product": p, "probability": prob, "demand": total, "shortage": total_short,
            "fill_rate": 1 - total_short / total, "shortage_penalty": penalty,
            "cost": penalty * total_short, "expected_cost": prob * penalty * total_short,
        })
    playout = pd.DataFrame(play, columns=["scenario", "product", "period", "demand", "resupply",
                                          "resupply_capacity", "use", "shortage", "stock"])
    shortage = pd.DataFrame(short_rows, columns=["scenario", "product", "probability", "demand", "shortage",
                                                 "fill_rate", "shortage_penalty", "cost", "expected_cost"])

    budget_used = float(reserve["purchase_cost"].sum())
    storage_used = float(reserve["volume"].sum())
    binding = binding_table(d, settings, R, c, budget_used, storage_used, budget_mv, storage_mv)

    terms = {
        "holding": float(reserve["holding_cost"].sum()),
        "reservation": float(reservations["fee"].sum()),
        "writeoff": float(reserve["writeoff_cost"].sum()),
        "shortage": float(shortage["expected_cost"].sum()),
    }
    kpis = {
        "budget_marginal_value": budget_mv,
        "storage_marginal_value": storage_mv,
        "expected_shortage_units": float((shortage["probability"] * shortage["shortage"]).sum()),
        "reserve_value": float(sum(d.products[p].unit_cost * R[p] for p in d.products)),
        "budget_used": budget_used,
        "budget": settings.budget,
        "storage_used": storage_used,
        "storage_capacity": settings.storage_capacity,
        "reserved_capacity": float(sum(c.values())),
        "periods_per_year": d.periods_per_year,
        "binding": [f"{r['constraint']}:{r['id']}" if r["id"] else r["constraint"]
                    for r in binding.to_dict("records") if r["binding"]],
    }
    binds = {r["constraint"]: bool(r["binding"]) for r in binding.to_dict("records") if not r["id"]}
    short_by_pair = {(r["scenario"], r["product"]): r["shortage"] for r in short_rows}
    explain, kpis["explain"] = explain_table(d, R, short_by_pair, binds.get("budget", False),
                                             binds.get("storage", False))
    tables = {"reserve": reserve, "reservations": reservations, "shortage": shortage, "binding": binding,
              "explain": explain}
    if settings.playout:
        tables["playout"] = playout
    return Extracted(terms, kpis, tables)


def binding_table(d: IronstockData, settings, R, c, budget_used, storage_used, budget_mv, storage_mv) -> pd.DataFrame:
    """Every limit of the plan with its slack; `binding` where the slack is (numerically) zero."""
    rows = []

    def add(constraint, ident, limit, value, marginal=None):
        slack = limit - value if constraint in ("budget", "storage", "max_capacity") else value - limit
        rows.append({"constraint": constraint, "id": ident, "limit": limit, "value": value, "slack": slack,
                     "binding": bool(abs(slack) <= tol(limit, value)), "marginal_value": marginal})

    if settings.budget is not None:
        add("budget", "", settings.budget, budget_used, budget_mv)
    if settings.storage_capacity is not None:
        add("storage", "", settings.storage_capacity, storage_used, storage_mv)
    for p, prod in d.products.items():
        cover = prod.min_cover_periods * prod.baseline_demand
        add("min_cover" if cover > prod.existing_stock else "existing_stock", p, d.least_reserve(p), R[p])
    for k, r in d.reservations.items():
        if r.max_capacity > 0:
            add("max_capacity", k, r.max_capacity, c[k])
    return pd.DataFrame(rows, columns=["constraint", "id", "limit", "value", "slack", "binding", "marginal_value"])


# -- decomposed -----------------------------------------------------------------------------


def solve_decomposed(inst: Instance, options: SolveOptions) -> Result:
    """mpi-sppy's L-shaped method (decomposed.py); the tables come from the plan as for the monolithic model."""
    from stockpile.pipeline import say
    from stockpile.solver import Status

    from . import decomposed
    from .diagnose import diagnose

    d = IronstockData(inst)
    s = inst.settings
    reason = diagnose(inst)
    if reason is not None:  # only the floors against budget or storage can make it infeasible
        sol = Solution(status=Status.INFEASIBLE, objective=None, bound=None, mip_gap=None, handoff_seconds=0.0,
                       solve_seconds=0.0, model_status="infeasible (policy floors)")
        return failed(inst, sol, diagnose, {})
    ranks = s.processes if s.processes > 1 and decomposed.mpi_available() else 1
    label = f"solving ironstock '{inst.name}' by scenario decomposition (mpi-sppy L-shaped, {ranks} rank(s))"
    say(options, f"{label} ...")
    start = time.perf_counter()
    if ranks > 1:
        out = decomposed.solve_in_processes(inst, options, s.decomposition_gap, s.max_iterations,
                                            s.bundle_size or None, ranks)
    else:
        out = decomposed.run(inst, options, s.decomposition_gap, s.max_iterations, s.bundle_size or None)
    elapsed = time.perf_counter() - start
    say(options, f"{label}: upper bound {out.upper_bound:,.2f}, lower bound {out.lower_bound:,.2f}, "
                 f"gap {out.gap:.4%} after {out.iterations} iterations ({out.subproblems} subproblems; {elapsed:.2f}s)")
    status = Status.OPTIMAL if out.converged else Status.FEASIBLE
    sol = Solution(status=status, objective=out.upper_bound, bound=out.lower_bound, mip_gap=max(0.0, out.gap),
                   handoff_seconds=0.0, solve_seconds=elapsed,
                   model_status=f"L-shaped {'converged' if out.converged else 'stopped'} after {out.iterations} "
                                f"iterations, {out.subproblems} subproblems on {out.ranks} rank(s)")
    start = time.perf_counter()
    extracted = plan_tables(inst, d, out.R, out.c, greedy_flows(d, out.c, out.R),
                            out.budget_marginal_value, out.storage_marginal_value)
    extracted.kpis["method"] = "decomposed"
    extracted.kpis["decomposition"] = {"lower_bound": out.lower_bound, "upper_bound": out.upper_bound,
                                       "gap": max(0.0, out.gap), "iterations": out.iterations,
                                       "subproblems": out.subproblems, "ranks": out.ranks}
    timings = {**out.seconds, "extract": time.perf_counter() - start}
    return finished(inst, sol, extracted, timings)
