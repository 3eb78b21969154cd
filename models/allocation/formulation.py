"""Solving the allocation model step by step on one kept HiGHS model, and its result tables.

The steps of MODELS.md "4. allocation" (docs/allocation.md):

1. fairness: `leximin` levels on the LP with fractional packs (progressive filling, each
   level proven by the LP dual), or the `maxmin` fill rate exact in whole packs;
2. weighted shortage in whole packs, every pair kept at its level (leximin: within one
   pack; maxmin: within 1e-6);
3. transport cost, keeping the weighted shortage within a relative 1e-7;
4. the efficient plan (shortage only) for the price of fairness, started from the fair plan.

All steps change one HiGHS model (objective, bounds, one added row) instead of building
and compiling a model per step. The time limit covers the whole run; each step gets a
share of what is left, and a step cut short keeps the best plan found so far.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pandas as pd

from stockpile import deadline
from stockpile.instance import Instance
from stockpile.pipeline import Extracted, finished, say
from stockpile.results import Result
from stockpile.solver import KeptModel, KeptRun, Solution, SolveOptions, Status

from .data import AllocationData, Baseline, baseline
from .fairness import Level, leximin, maxmin_exact, maxmin_lp
from .lp import AllocationMatrix
from .rounding import round_plan

FILL_TOL = 1e-6  # maxmin: step 2 keeps the step-1 minimum fill rate within this (absolute)
SHORTAGE_TOL = 1e-7  # step 3 keeps the step-2 weighted shortage within this (relative)
# share of the time left that a step may use (the rest stays for the steps after it)
SHARE = {"fairness": 0.5, "shortage": 0.7, "transport": 0.6, "efficient": 1.0}


@dataclasses.dataclass
class StepRecord:
    name: str
    status: str
    value: float | None = None
    bound: float | None = None
    mip_gap: float | None = None
    seconds: float = 0.0
    runs: int = 1
    note: str = ""


class Clock:
    """The run's deadline, shared out among the steps."""

    def __init__(self, time_limit: float | None):
        self.start = time.perf_counter()
        self.deadline = None if time_limit is None else self.start + time_limit

    def share(self, fraction: float) -> float | None:
        if self.deadline is None:
            return None
        now = time.perf_counter()
        return now + max(0.0, self.deadline - now) * fraction

    def left(self, until: float | None) -> float | None:
        return None if until is None else max(0.0, until - time.perf_counter())


def _max_fill(M: AllocationMatrix, values: np.ndarray) -> np.ndarray:
    """The most each pair can use (as a fill rate) with the packs in `values`."""
    Y = values[:M.K]
    out = M.fmax.copy()
    rhs = M.row_upper[M.uses.start:M.uses.stop]
    bound = rhs + (M.pack_of_pair[M.use_pair] / M.N[M.use_pair]) * Y[_use_key(M)]
    np.minimum.at(out, M.use_pair, bound)
    return np.maximum(out, 0.0)


def _use_key(M: AllocationMatrix) -> np.ndarray:
    if not hasattr(M, "_use_key"):
        ri, cj, _ = M._triplets
        sel = (ri >= M.uses.start) & (ri < M.uses.stop) & (cj < M.K)
        order = np.argsort(ri[sel], kind="stable")
        M._use_key = cj[sel][order]
    return M._use_key


def solve(inst: Instance, options: SolveOptions) -> Result:
    """Fairness, weighted shortage, transport cost, then the efficient plan; see the module docstring."""
    clock = Clock(options.time_limit)
    d = AllocationData(inst)
    M = AllocationMatrix(d)
    timings = {"build": time.perf_counter() - clock.start}
    kept = KeptModel(M.highs_lp(), options)
    timings["handoff"] = kept.handoff_seconds
    # From here on a plan always exists (at worst delivering nothing), so the run's time limit
    # may cut the steps but never end the run without a plan.
    deadline.plan_found()
    exact = d.settings.pack_method == "exact"
    fairness = d.settings.fairness
    records: list[StepRecord] = []
    cut: list[str] = []
    proven = True
    f_cols = np.arange(M.col_f, M.col_f + M.P)
    Y_cols = np.arange(M.K)
    weights = M.shortage_weights()
    total_w = float(weights.sum())

    def talk(text):
        say(options, text)

    # -- 1. fairness --------------------------------------------------------------------------------
    floor = np.zeros(M.P)  # lower bound on every pair's fill rate in the later steps
    levels: list[Level] = []
    level_of = np.zeros(M.P, dtype=np.int64)
    lp_values = None
    start_values = None
    z_lp = None
    if fairness == "leximin" and M.P:
        out = leximin(kept, M, clock.share(SHARE["fairness"]), talk)
        levels, level_of, lp_values = out.levels, out.level_of, out.values
        secs = sum(r.seconds for r in out.runs)
        note = "cut by the time limit: the pairs left are held at the last proven level" if out.cut else ""
        if out.cut:
            cut.append("1 leximin levels")
        if out.cut or any(lv.proof == "primal" for lv in levels):
            proven = False
        records.append(StepRecord("1 leximin levels (LP)", "feasible" if out.cut else "optimal",
                                  levels[0].value if levels else None, None, None, secs, len(out.runs), note))
        # whole packs keep every pair within one pack of its level
        floor = np.maximum(out.floor - M.pack_of_pair / M.N, 0.0) if exact else np.maximum(out.floor - 1e-9, 0.0)
        z_lp = levels[0].value if levels else None
    elif fairness == "maxmin" and M.P:
        until = clock.share(SHARE["fairness"])
        run = maxmin_lp(kept, M, until)
        if not run.status.has_solution:
            records.append(StepRecord("1 max-min fill rate (LP)", run.status.value, None, None, None, run.seconds,
                                      note="cut by the time limit: no floor is kept"))
            cut.append("1 max-min fill rate")
            proven = False
        else:
            z_lp = float(run.col_value[M.col_z])
            lp_values = run.col_value
            records.append(StepRecord("1 max-min fill rate (LP)", run.status.value, z_lp, z_lp, 0.0, run.seconds))
        if exact and z_lp is not None:
            mm = maxmin_exact(kept, M, z_lp, until, talk)
            records.append(StepRecord("1 max-min fill rate (whole packs)", "optimal" if mm.proven else "feasible",
                                      mm.z, mm.upper, abs(mm.upper - mm.z), mm.seconds, mm.tests,
                                      "" if mm.proven else "cut by the time limit"))
            if not mm.proven:
                proven = False
                cut.append("1 max-min fill rate")
            floor = np.full(M.P, max(mm.z - FILL_TOL, 0.0))
            start_values = mm.values
        elif z_lp is not None:
            floor = np.full(M.P, max(z_lp - FILL_TOL, 0.0))
    floor = np.minimum(floor, M.fmax)

    # -- 2. weighted shortage -------------------------------------------------------------------------
    kept.set_col_bounds(f_cols, floor, M.fmax)
    cost, scale = M.cost_shortage()
    w_of = lambda v: total_w * v if v is not None else None  # noqa: E731  objective is W / Σ priority·need
    starts = [start_values] if start_values is not None else []
    step2 = _whole_step(kept, M, cost, 1.0, starts, clock.share(SHARE["shortage"]), options.mip_gap, exact,
                        "efficient", floor)
    note = step2.note
    if exact and step2.status == Status.INFEASIBLE and fairness == "leximin":
        # one pack below the level can clash with a binding region capacity or parity: lower the
        # floors by one pack per delivery (what rounding each delivery down loses), then drop them
        for lowered, why in ((np.maximum(floor - (M.n_keys - 1) * M.pack_of_pair / M.N, 0.0),
                              "floors lowered by one pack per delivery"), (np.zeros(M.P), "floors dropped")):
            floor = np.minimum(lowered, M.fmax)
            kept.set_col_bounds(f_cols, floor, M.fmax)
            step2 = _whole_step(kept, M, cost, 1.0, [], clock.share(SHARE["shortage"]), options.mip_gap, exact,
                                "efficient", floor)
            note = f"the levels were not reachable within one pack for every pair: {why}"
            if step2.status != Status.INFEASIBLE:
                break
        proven = False
    if not step2.status.has_solution:
        # never leave without a plan: the step-1 LP plan made whole by rounding (keeps every
        # rule, not necessarily the floors), or else the plan that delivers nothing
        if lp_values is not None and (clock.deadline is None or time.perf_counter() < clock.deadline):
            x, total = round_plan(d, M.packs(lp_values), "fair" if fairness != "none" else "efficient")
            plan = M.columns_of(x, total)
            why = "the step-1 LP plan rounded to whole packs"
        else:
            plan = np.zeros(M.num_cols)
            why = "the plan that delivers nothing"
        plan[M.col_f:M.col_f + M.P] = _lifted(M, plan)
        note = (note + "; " if note else "") + f"no whole-pack plan found in time: {why} stands (floors not kept)"
        step2 = KeptRun(Status.FEASIBLE, float(cost @ plan) + 1.0, None, None, step2.seconds, step2.model_status,
                        plan)
        step2.runs, step2.note = getattr(step2, "runs", 1), note
        proven = False
    if step2.status != Status.OPTIMAL:
        proven = False
        cut.append("2 weighted shortage")
    records.append(StepRecord("2 weighted shortage", step2.status.value, w_of(step2.objective),
                              w_of(step2.bound), _gap(step2.objective, step2.bound),
                              step2.seconds, step2.runs, note))
    main = step2
    values = step2.col_value

    # -- 3. transport cost ---------------------------------------------------------------------------
    has_cost = any(d.cost(i) > 0 for (i, _) in d.pairs)
    shortage_row = None
    if has_cost and M.K:
        used = float(weights @ values[M.col_f:M.col_f + M.P])
        w2 = total_w - used
        cols, coef = M.shortage_row()
        shortage_row = kept.add_row(used - SHORTAGE_TOL * abs(w2) - 1e-9, np.inf, cols, coef)
        tcost, tscale = M.cost_transport()
        step3 = _whole_step(kept, M, tcost, 0.0, [values], clock.share(SHARE["transport"]), options.mip_gap,
                            exact, None, floor)
        rec = StepRecord("3 transport cost", step3.status.value, _times(step3.objective, tscale),
                         _times(step3.bound, tscale), _gap(step3.objective, step3.bound), step3.seconds, step3.runs,
                         step3.note)
        if step3.status.has_solution:
            values = step3.col_value
        else:
            rec.note = "no plan found in time: the step-2 plan stands"
        if step3.status != Status.OPTIMAL:
            proven = False
            cut.append("3 transport cost")
        records.append(rec)

    fair_values = values.copy()
    if not exact:
        x, total = round_plan(d, M.packs(values), "fair" if fairness != "none" else "efficient")
        fair_plan = _plan_from_totals(d, x, total)
    else:
        fair_plan = _plan(M, values)

    # -- 4. efficient plan (shortage only), from the fair plan ------------------------------------------
    efficient = None
    if fairness != "none" and M.P:
        if shortage_row is not None:
            kept.set_row_bounds(np.array([shortage_row]), np.array([-np.inf]), np.array([np.inf]))
        kept.set_col_bounds(f_cols, np.zeros(M.P), M.fmax)
        step4 = _whole_step(kept, M, cost, 1.0, [fair_values], clock.share(SHARE["efficient"]), options.mip_gap,
                            exact, "efficient", None)
        rec = StepRecord("4 efficient plan (shortage only)", step4.status.value, w_of(step4.objective),
                         w_of(step4.bound), _gap(step4.objective, step4.bound), step4.seconds, step4.runs,
                         step4.note)
        if step4.status.has_solution:
            if exact:
                efficient = _plan_figures(d, *_plan(M, step4.col_value))
            else:
                x, total = round_plan(d, M.packs(step4.col_value), "efficient")
                efficient = _plan_figures(d, *_plan_from_totals(d, x, total))
        else:
            rec.note = "no plan found in time: the fair plan stands for it"
        records.append(rec)
        fair_fig = _plan_figures(d, *fair_plan)
        if efficient is None or fair_fig["weighted_shortage"] < efficient["weighted_shortage"]:
            efficient = fair_fig  # the fair plan also only minimises shortage: keep the better

    t0 = time.perf_counter()
    out = extract(inst, M, fair_plan, records, efficient, levels, level_of)
    timings["extract"] = time.perf_counter() - t0
    timings["solve"] = sum(r.seconds for r in records)
    out.kpis["pack_method"] = d.settings.pack_method
    out.kpis["steps_cut"] = cut
    if z_lp is not None:
        out.kpis["lp_min_fill_rate"] = z_lp
    w = out.kpis["weighted_shortage"]
    if exact:
        bound = records[[r.name for r in records].index("2 weighted shortage")].bound
        gap = abs(w - bound) / max(abs(w), 1e-9) if bound is not None else None
        if gap is not None and gap < 1e-12:
            gap = 0.0
        ok = proven and gap is not None and gap <= max(options.mip_gap, 1e-9) * (1 + 1e-6)
    else:
        gap, ok = None, False  # a rounded plan is never proven
    sol = Solution(status=Status.OPTIMAL if ok else Status.FEASIBLE, objective=w, bound=None, mip_gap=gap,
                   handoff_seconds=kept.handoff_seconds, solve_seconds=timings["solve"],
                   model_status=main.model_status, num_cols=kept.num_cols, num_rows=kept.num_rows,
                   num_int=M.K if exact else 0)
    result = finished(inst, sol, out, timings)
    result.mip_gap = gap
    # the run's solving time: everything from reading the data into the model to the tables
    result.solve_seconds = time.perf_counter() - clock.start
    if options.elastic if options.elastic is not None else d.settings.elastic:
        result.tables["shortfall"] = pd.DataFrame(columns=["rule", "product", "location", "period", "required",
                                                           "achieved", "short"])
        result.kpis["elastic"] = True
        result.kpis["total_shortfall"] = 0.0
    return result


def _times(v, k):
    return None if v is None else v * k


def _gap(objective, bound):
    if objective is None or bound is None:
        return None
    g = abs(objective - bound) / max(abs(objective), 1e-9)
    return 0.0 if g < 1e-12 else g


def _whole_step(kept: KeptModel, M: AllocationMatrix, cost: np.ndarray, offset: float, starts: list,
                until: float | None, mip_gap: float, exact: bool, rounding: str | None,
                floor: np.ndarray | None) -> KeptRun:
    """One lexicographic step: the LP (a bound), then whole packs only if the LP bound needs them.

    With `exact`, candidate whole-pack plans (the previous step's plan, the LP plan made whole
    by `rounding.py`) are compared with the LP bound: if the best is within `mip_gap` of it,
    it is proven and no MIP is run; otherwise the MIP starts from it and runs until `until`.
    """
    Y = np.arange(M.K)
    kept.set_objective(cost, offset)
    M.set_whole_packs(kept, False)
    kept.set_time_limit(None if until is None else max(0.0, until - time.perf_counter()))
    lp = kept.run(mip=False)
    seconds, runs = lp.seconds, 1
    if not exact:
        lp.runs = runs
        lp.note = ""
        return lp
    value = lambda v: float(cost @ v) + offset  # noqa: E731
    bound = lp.objective if lp.status == Status.OPTIMAL else None
    cands = [v for v in starts if v is not None]
    # rounding is pure Python (seconds at national size): only from a proven LP and while time is left
    if lp.status == Status.OPTIMAL and rounding is not None and (until is None or time.perf_counter() < until):
        x, total = round_plan(M.d, M.packs(lp.col_value), rounding)
        cand = M.columns_of(x, total)
        lifted = cand.copy()
        lifted[M.col_f:M.col_f + M.P] = _lifted(M, cand)
        if floor is None or (lifted[M.col_f:M.col_f + M.P] >= floor - 1e-9).all():
            cands.append(lifted)
    best = min(cands, key=value) if cands else None
    note = ""
    if best is not None and bound is not None and value(best) - bound <= mip_gap * max(abs(value(best)), 1e-9):
        out = KeptRun(Status.OPTIMAL, value(best), bound, _gap(value(best), bound), seconds, "optimal", best)
        note = "whole-pack plan within the gap of the LP bound"
    elif lp.status == Status.INFEASIBLE:
        out = lp
    else:
        M.set_whole_packs(kept, True)
        if best is not None:
            kept.set_start(best)
        kept.set_time_limit(None if until is None else max(0.0, until - time.perf_counter()))
        mip = kept.run(mip=True)
        M.set_whole_packs(kept, False)
        seconds += mip.seconds
        runs += 1
        if mip.status.has_solution and (best is None or value(mip.col_value) <= value(best)):
            out = mip
            if bound is not None and mip.bound is not None:
                out.bound = max(bound, mip.bound)
        elif best is not None:
            b = max(bound, mip.bound) if mip.bound is not None and bound is not None else bound
            out = KeptRun(Status.FEASIBLE if mip.status != Status.OPTIMAL else Status.OPTIMAL, value(best), b,
                          _gap(value(best), b), seconds, mip.model_status, best)
        else:
            out = mip
        if out.status == Status.FEASIBLE:
            note = "cut by the time limit: the best whole-pack plan found stands"
    out.seconds, out.runs, out.note = seconds, runs, note
    return out


def _failed(inst: Instance, run: KeptRun, timings: dict, clock: Clock, step: str) -> Result:
    if "time" in run.model_status.lower():
        reason = (f"the time limit was reached in step '{step}' before any plan was found; "
                  "allow more --time-limit")
    else:
        reason = (f"the solver stopped without a plan in step '{step}' ({run.model_status}); every rule admits "
                  "the plan that delivers nothing, so this is numerical: try --lp-method simplex or rescale units")
    timings["solve"] = run.seconds
    return Result(kind=inst.kind, name=inst.name, status=run.status if run.status != Status.OPTIMAL else Status.ERROR,
                  reason=reason, solve_seconds=time.perf_counter() - clock.start, timings=timings,
                  solver={"name": "highs", "model_status": run.model_status})


# -- reading the plan ------------------------------------------------------------------------


def _plan(M: AllocationMatrix, values: np.ndarray) -> tuple[dict, dict]:
    """Whole packs per delivery and use per (institution, product, period) from a solution."""
    d = M.d
    x = {k: int(round(v)) for k, v in M.packs(values).items() if round(v) > 0}
    f = _lifted(M, values)
    total = {k: float(M.N[n] * min(max(f[n], 0.0), 1.0)) for n, k in enumerate(d.pairs)}
    return _plan_from_totals(d, x, total)


def _lifted(M: AllocationMatrix, values: np.ndarray) -> np.ndarray:
    """Fill rates raised to what the packs allow (a MIP stopped within its gap may leave some below).

    Care pairs are always raised (that only helps parity); cure pairs of a parity product are
    raised only if parity still holds, else they keep the solver's values (which satisfy it).
    """
    d = M.d
    solved = np.clip(values[M.col_f:M.col_f + M.P], 0.0, 1.0)
    rounded = values.copy()
    rounded[:M.K] = np.round(values[:M.K])
    f = np.maximum(solved, np.minimum(_max_fill(M, rounded), 1.0))
    f = np.minimum(f, np.maximum(_max_fill(M, rounded), solved))
    k = d.settings.care_cure_parity
    for p in M.parity_products:
        idx = np.array([n for n, (i, q) in enumerate(d.pairs) if q == p])
        cure = np.array([d.institutions[d.pairs[n][0]].sector == "cure" for n in idx])
        care_rate = float(M.N[idx[~cure]] @ f[idx[~cure]]) / d.sector_need[("care", p)]
        cure_rate = float(M.N[idx[cure]] @ f[idx[cure]]) / d.sector_need[("cure", p)]
        if care_rate < k * cure_rate:
            f[idx[cure]] = solved[idx[cure]]
    return f


def _plan_from_totals(d: AllocationData, x: dict, total: dict) -> tuple[dict, dict]:
    """Use per period by the planner's rule "use stock when it is needed", up to each pair's total.

    The objectives only see each pair's total use: use[t] = min(need[t], stock on hand, what
    is left of the total). Every fill rate, the weighted shortage and parity stay as
    optimised, stock never goes negative, and shortage falls as late as deliveries allow.
    """
    x = {k: int(v) for k, v in x.items() if v > 0}
    by_pair: dict = {}
    for (i, p, t), n in x.items():
        by_pair.setdefault((i, p), {})[t] = n
    u = {}
    for (i, p) in d.pairs:
        row = d.need[(i, p)]
        left = total.get((i, p), 0.0)
        stock = d.stock0.get((i, p), 0.0)
        got = by_pair.get((i, p), {})
        for t in range(d.T):
            stock += got.get(t, 0) * d.pack[p]
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


def _plan_figures(d: AllocationData, x: dict, u: dict) -> dict:
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


def extract(inst: Instance, M: AllocationMatrix, plan: tuple[dict, dict], records: list[StepRecord],
            efficient: dict | None, levels: list[Level], level_of: np.ndarray,
            base: Baseline | None = None) -> Extracted:
    d = M.d
    x, u = plan
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
    level_value = {n + 1: lv.value for n, lv in enumerate(levels)}
    for n, (i, p) in enumerate(d.pairs):
        rec = d.institutions[i]
        need = d.total_need[(i, p)]
        used = use_pair[(i, p)]
        b = base.use_of((i, p))
        lvl = int(level_of[n]) if len(level_of) and level_of[n] > 0 else None
        fill_rows.append({"institution": i, "product": p, "need": need, "use": used, "shortage": need - used,
                          "fill_rate": used / need, "sector": rec.sector, "type": rec.type, "region": rec.region,
                          "priority": rec.priority, "initial_stock": d.stock0.get((i, p), 0.0),
                          "delivered": sum(x.get((i, p, t), 0) for t in range(d.T)) * d.pack[p],
                          "baseline_use": b, "baseline_fill_rate": b / need,
                          "level": lvl, "level_fill_rate": level_value.get(lvl)})
    fill = pd.DataFrame(fill_rows, columns=["institution", "product", "need", "use", "shortage", "fill_rate", "sector",
                                            "type", "region", "priority", "initial_stock", "delivered",
                                            "baseline_use", "baseline_fill_rate", "level", "level_fill_rate"])

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
    price = fair["weighted_shortage"] - efficient["weighted_shortage"] if d.settings.fairness != "none" else 0.0

    def row(plan, fig):
        return {"plan": plan, "min_fill_rate": fig["min_fill_rate"], "weighted_shortage": fig["weighted_shortage"],
                "fill_rate_cure": fig["sectors"]["cure"], "fill_rate_care": fig["sectors"]["care"],
                "transport_cost": fig["transport_cost"]}

    comparison = pd.DataFrame([row("optimised", {**fair, "transport_cost": transport_cost}),
                               row("baseline", base_fig), row("efficient", efficient)])

    step_table = pd.DataFrame([dataclasses.asdict(r) for r in records],
                              columns=["name", "status", "value", "bound", "mip_gap", "seconds", "runs", "note"]
                              ).rename(columns={"name": "step"})

    level_table = _level_table(d, levels, central, transport, sectors)

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
        "levels": _level_kpis(levels),
        "explain": _explain(levels),
    }
    tables = {"deliveries": deliveries, "usage": usage, "fill": fill, "sectors": sectors, "types": types,
              "regions": regions, "central": central, "transport": transport, "comparison": comparison,
              "steps": step_table, "levels": level_table}
    return Extracted({"weighted_shortage": fair["weighted_shortage"]}, kpis, tables)


# -- leximin levels and what holds them ------------------------------------------------------------

LIMIT_WORDS = {
    "central_supply": "central supply of {product} up to week {period}",
    "region_capacity": "region {region}'s transport capacity in week {period}",
    "delivery_cap": "the delivery cap on {product}",
    "parity": "care/cure parity for {product}",
    "need_met": "need met in full",
    "no_delivery_in_time": "no delivery of {product} possible before the need",
    "earlier_levels": "the pairs held at lower levels",
}

LEVEL_COLUMNS = ["level", "fill_rate", "pairs", "proof", "limit", "product", "region", "period", "weight", "slack"]


def describe(limit: dict) -> str:
    return LIMIT_WORDS[limit["limit"]].format(**limit)


def _slack(limit: dict, central: pd.DataFrame, transport: pd.DataFrame, sectors: pd.DataFrame, d: AllocationData):
    """How much of the limit the final plan leaves unused (units; parity: fill-rate points)."""
    kind = limit["limit"]
    if kind == "central_supply":
        row = central[(central["product"] == limit["product"]) & (central["period"] == limit["period"])]
        return float(row["stock"].iloc[0]) if len(row) else None
    if kind == "region_capacity":
        row = transport[(transport["region"] == limit["region"]) & (transport["period"] == limit["period"])]
        return float(row["capacity"].iloc[0] - row["units"].iloc[0]) if len(row) else None
    if kind == "parity":
        rates = {r.sector: r.fill_rate for r in sectors[sectors["product"] == limit["product"]].itertuples()}
        return float(rates["care"] - d.settings.care_cure_parity * rates["cure"])
    return None


def _level_table(d: AllocationData, levels: list[Level], central, transport, sectors) -> pd.DataFrame:
    rows = []
    for n, lv in enumerate(levels, start=1):
        base = {"level": n, "fill_rate": lv.value, "pairs": len(lv.pairs), "proof": lv.proof}
        if not lv.limits:
            rows.append({**base, "limit": "", "product": "", "region": "", "period": "", "weight": None,
                         "slack": None})
        for lim in lv.limits:
            rows.append({**base, **lim, "slack": _slack(lim, central, transport, sectors, d)})
    return pd.DataFrame(rows, columns=LEVEL_COLUMNS)


def _level_kpis(levels: list[Level]) -> list[dict]:
    return [{"level": n, "fill_rate": lv.value, "pairs": int(len(lv.pairs)), "proof": lv.proof,
             "held_by": [describe(lim) for lim in lv.limits[:3]]} for n, lv in enumerate(levels, start=1)]


def _explain(levels: list[Level]) -> dict:
    """The coordinator's short answer: the lowest level and what holds it, and the limits that hold most pairs."""
    if not levels:
        return {}
    held: dict[str, int] = {}
    for lv in levels:
        for lim in lv.limits:
            if lim["limit"] not in ("earlier_levels", "need_met"):
                key = describe(lim)
                held[key] = held.get(key, 0) + len(lv.pairs)
    top = sorted(held.items(), key=lambda kv: -kv[1])[:5]
    return {"levels": len(levels), "lowest_fill_rate": levels[0].value,
            "lowest_held_by": [describe(lim) for lim in levels[0].limits[:3]],
            "bottlenecks": [{"limit": k, "pairs": v} for k, v in top]}
