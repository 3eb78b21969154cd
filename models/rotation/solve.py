"""Solving a rotation instance: one MIP per product when no storage limit couples them.

The products of a rotation instance share nothing but `storage_capacity`. Without it
(or where the plans of the separate products fit in it), the instance's optimum is the
sum of the products' optima: dropping the storage rows is a relaxation, so the summed
bounds of the separate MIPs bound the whole instance from below, and a combined plan that
fits the storage attains them. One MIP per product is much easier for branch-and-bound
than their product, and the MIPs run in parallel processes (one HiGHS thread each) when
there are several and the machine has the cores. Where the separate plans overflow the
storage, the whole instance is solved as one MIP.

The gap of the combined plan is (objective - summed bounds) / |objective|: every part is
first solved to the requested relative gap; where products of opposite sign make the
combined gap larger than requested, the parts with the widest gaps are solved again to an
absolute gap that their share of the allowance permits, starting from their plan.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from dataclasses import dataclass, field

from stockpile import deadline as run_deadline
from stockpile.instance import Instance
from stockpile.pipeline import Extracted, failed, finished, say
from stockpile.results import Result
from stockpile.solver import Solution, SolveOptions, Status

from .data import RotationData

# An instance with at least this many (lot, period) pairs over all products is worth the
# start-up of worker processes (about a second each: Python, Pyomo and HiGHS imports).
PARALLEL_SIZE = 3000
# The first round of separate solves takes this share of the time limit (at least 5 s), or
# FIRST_ROUND seconds without a limit; the second round has the rest.
FIRST_SHARE = 0.3
FIRST_ROUND = 60.0


@dataclass
class Part:
    """The outcome of one MIP over a group of products."""

    products: tuple[str, ...]
    status: Status
    model_status: str
    objective: float | None = None  # the solver's objective of the plan found
    bound: float | None = None
    issues: dict = field(default_factory=dict)  # (lot, outlet, period) -> units, lot ids of the whole instance
    bought: dict = field(default_factory=dict)  # candidate lot id of the whole instance -> lots bought
    columns: dict = field(default_factory=dict)  # variable name -> value, to start a later solve from
    num_cols: int = 0
    num_rows: int = 0
    num_int: int = 0
    build_seconds: float = 0.0
    handoff_seconds: float = 0.0
    solve_seconds: float = 0.0

    @property
    def gap(self) -> float:
        if self.objective is None or self.bound is None:
            return math.inf
        return max(0.0, self.objective - self.bound)


def restrict(inst: Instance, products: tuple[str, ...], storage: bool) -> Instance:
    """The instance with only these products (and without the storage limit unless asked)."""
    keep = set(products)
    tables = {name: [r for r in rows if (r.id if name == "products" else r.product) in keep]
              for name, rows in inst.tables.items()}
    settings = inst.settings if storage else inst.settings.model_copy(update={"storage_capacity": None})
    return dataclasses.replace(inst, tables=tables, settings=settings, warnings=[])


def solve_part(inst: Instance, products: tuple[str, ...], storage: bool, options: SolveOptions,
               time_limit: float | tuple | None, abs_gap: float | None = None, start: dict | None = None) -> Part:
    """Build and solve the MIP of `products`; the plan comes back in the lot ids of `inst`."""
    from stockpile import solver

    from .formulation import build, plan_of

    if isinstance(time_limit, tuple):  # (wall-clock deadline, rounds of solves still to come) from a worker pool
        deadline, rounds, cap = time_limit
        time_limit = None if deadline is None else max(0.0, (deadline - time.time()) / rounds)
        time_limit = cap if time_limit is None else (time_limit if cap is None else min(time_limit, cap))
    t0 = time.perf_counter()
    part_inst = restrict(inst, products, storage) if len(products) < len(inst["products"]) or not storage else inst
    m = build(part_inst)
    build_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    compiled = solver.compile_model(m)
    opts = dataclasses.replace(options, time_limit=time_limit)
    h = solver.make_highs(compiled, opts)
    if abs_gap is not None:
        h.setOptionValue("mip_rel_gap", 0.0)
        h.setOptionValue("mip_abs_gap", float(abs_gap))
    if time_limit is not None and time_limit <= 0:
        pass  # no time at all (--time-limit 0): no plan, as HiGHS itself would end
    elif start:
        values = [float(start.get(v.name, 0.0)) for v in compiled.columns]
        h.setSolution(_highs_solution(values))
    else:
        _start_from_first_plan(h, m, compiled)
    sol = solver._run(h, compiled, time.perf_counter() - t0, keep=False)
    part = Part(products, sol.status, sol.model_status, sol.objective, sol.bound, num_cols=sol.num_cols,
                num_rows=sol.num_rows, num_int=sol.num_int, build_seconds=build_seconds,
                handoff_seconds=sol.handoff_seconds, solve_seconds=sol.solve_seconds)
    if sol.status.has_solution:
        issues, bought = plan_of(m)
        if part_inst is not inst:  # candidate ids are made unique against the instance's lot ids
            whole = {(c.product, c.ordered): c.id for c in RotationData(inst).candidates}
            rename = {c.id: whole[(c.product, c.ordered)] for c in m.data.candidates}
            issues = {(rename.get(l, l), o, t): q for (l, o, t), q in issues.items()}
            bought = {rename.get(l, l): n for l, n in bought.items()}
        part.issues, part.bought = issues, bought
        part.columns = {v.name: float(v.value) for v in compiled.columns if v.value is not None}
    return part


def _start_from_first_plan(h, m, compiled) -> None:
    """Hand HiGHS the greedy first plan as a complete solution: nothing issued, lots untouched."""
    from .greedy import first_plan

    d = m.data
    bought = first_plan(d)
    if bought is None:
        return
    every = {lot.id: lot for lot in d.lots}

    def initial(l: str) -> float:
        lot = every[l]
        return lot.quantity if not lot.bought else bought.get(l, 0) * d.products[lot.product].lot_size

    value = {}
    for var in (m.issue, m.fresh_issue, m.ship):
        for k in var:
            value[id(var[k])] = 0.0
    for l in m.n:
        value[id(m.n[l])] = float(bought.get(l, 0))
    for l in m.order:
        value[id(m.order[l])] = 1.0 if bought.get(l, 0) > 0 else 0.0
    for (l, t) in m.stock:
        value[id(m.stock[l, t])] = initial(l)
    for p, arrivals in m.ix.arrivals.items():
        level = 0.0
        for t in range(min(arrivals), d.T):
            level += sum(initial(l) for l in arrivals.get(t, ()))
            value[id(m.fresh[p, t])] = level
    h.setSolution(_highs_solution([value.get(id(v), 0.0) for v in compiled.columns]))


def _highs_solution(values: list[float]):
    import highspy

    s = highspy.HighsSolution()
    s.col_value = values
    s.value_valid = True
    return s


def solve(inst: Instance, options: SolveOptions) -> Result:
    from .diagnose import diagnose
    from .formulation import build, tables_of

    started = time.perf_counter()
    deadline = started + options.time_limit if options.time_limit is not None else None
    d = RotationData(inst)
    products = tuple(d.products)
    coupled = d.settings.storage_capacity is not None and any(p.unit_volume > 0 for p in d.products.values())
    groups = [(p,) for p in products] if len(products) > 1 else [products]
    storage = not coupled or len(groups) == 1
    if len(groups) > 1:
        say(options, f"solving rotation '{inst.name}': {len(groups)} products as separate MIPs"
                     + (" (their plans are checked against the shared storage limit afterwards)" if coupled else ""))
    # a first round with a slice of the time; where the products' gaps then add up to more
    # than the whole may miss by, a second round solves the widest to an absolute gap
    first = None if len(groups) == 1 else (FIRST_ROUND if options.time_limit is None
                                           else max(5.0, FIRST_SHARE * options.time_limit))
    parts = _solve_all(inst, groups, storage, options, deadline, d, cap=first)
    timings = _timings(parts)

    late = [i for i, p in enumerate(parts) if not p.status.has_solution and p.status == Status.ERROR]
    if late and len(parts) > 1 and _remaining(deadline) != 0.0:  # a slice too short to find a plan: the rest
        again = _solve_all(inst, [parts[i].products for i in late], storage, options, deadline, d)
        for i, p in zip(late, again):
            parts[i] = p
    if all(p.status.has_solution for p in parts) and len(parts) > 1:
        parts = _close_gap(inst, parts, storage, options, deadline, d)
        timings = _timings(parts)
    bad = [p for p in parts if not p.status.has_solution]
    if not bad and coupled and len(parts) > 1 and not _fits_storage(d, _merge(parts)):
        say(options, "the separate plans overflow the shared storage: solving all products as one MIP")
        parts = [solve_part(inst, products, True, options, _remaining(deadline))]
        timings = _timings(parts)
        bad = [p for p in parts if not p.status.has_solution]
    if bad:
        worst = next((p for p in bad if p.status == Status.INFEASIBLE), bad[0])
        return failed(inst, _as_solution(worst, parts), diagnose, timings, build(inst), options)

    start = time.perf_counter()
    issues, bought = _merge(parts)
    out: Extracted = tables_of(d, issues, bought)
    timings["extract"] = time.perf_counter() - start
    objective = float(sum(out.objective_terms.values()))
    bound = sum(p.bound for p in parts) if all(p.bound is not None for p in parts) else None
    gap = None
    if bound is not None:
        gap = max(0.0, objective - bound) / max(abs(objective), 1e-9)
        gap = 0.0 if gap < 1e-12 else gap
    # the summed bounds are valid whatever stopped each part: the combined gap decides
    proven = bound is not None and objective - bound <= options.mip_gap * max(abs(objective), 1e-9) + 1e-6
    summary = _as_solution(parts[0], parts, Status.OPTIMAL if proven else Status.FEASIBLE, objective, bound, gap)
    gap_text = f", gap {gap:.2%}" if gap is not None else ""
    say(options, f"rotation '{inst.name}': {summary.status.value}, objective {objective:,.2f}{gap_text}")
    return finished(inst, summary, out, timings)


def _solve_all(inst: Instance, groups: list[tuple[str, ...]], storage: bool, options: SolveOptions,
               deadline: float | None, d: RotationData, abs_gaps: list | None = None,
               starts: list | None = None, cap: float | None = None) -> list[Part]:
    """Solve every group, in parallel processes where that pays."""
    abs_gaps = abs_gaps or [None] * len(groups)
    starts = starts or [None] * len(groups)
    workers = min(len(groups), options.threads or os.cpu_count() or 1)
    size = sum(len(lot.alive(d.T)) for lot in d.lots)
    if workers <= 1 or size < PARALLEL_SIZE:
        out = []
        for i, g in enumerate(groups):
            limit = _share(deadline, len(groups) - i)
            limit = cap if limit is None else (limit if cap is None else min(limit, cap))
            out.append(solve_part(inst, g, storage, options, limit, abs_gaps[i], starts[i]))
            _said(options, out[-1])
        return out
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn, not fork: a forked HiGHS thread pool (from an earlier solve in this process) can hang
    order = sorted(range(len(groups)), key=lambda i: -sum(len(lot.alive(d.T)) for lot in d.lots
                                                           if lot.product in groups[i]))
    out: list[Part | None] = [None] * len(groups)
    single = dataclasses.replace(options, threads=1, verbose=False)
    # the time limit of each solve is set when it starts: what is left over the rounds still to come
    wall_deadline = None if deadline is None else time.time() + (deadline - time.perf_counter())
    # HiGHS runs in the workers, each within its share of the time limit: the run's watchdog
    # must wait for them as it waits for a solve in this process
    run_deadline.solver_running(True)
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {}
            for rank, i in enumerate(order):
                rounds = math.ceil((len(groups) - rank) / workers)
                futures[pool.submit(solve_part, inst, groups[i], storage, single,
                                    (wall_deadline, rounds, cap), abs_gaps[i], starts[i])] = i
            for fut in futures:
                out[futures[fut]] = fut.result()
                _said(options, out[futures[fut]])
    finally:
        run_deadline.solver_running(False)
    if all(part is not None and part.status.has_solution for part in out):
        run_deadline.plan_found()
    return out  # type: ignore[return-value]


def _close_gap(inst: Instance, parts: list[Part], storage: bool, options: SolveOptions, deadline: float | None,
               d: RotationData) -> list[Part]:
    """Solve again, to an absolute gap, the parts whose gaps keep the combined gap above the one asked.

    The whole may miss its bound by mip_gap * |objective|. Parts already within an equal share
    of that keep their gap; the rest of the allowance is shared among the others, which
    start from the plan they found.
    """
    total = sum(p.objective for p in parts)
    allowance = options.mip_gap * abs(total)
    if sum(p.gap for p in parts) <= allowance or _remaining(deadline) == 0.0:
        return parts
    redo = [i for i, p in enumerate(parts) if p.gap > allowance / len(parts)]
    left = 0.95 * allowance - sum(p.gap for i, p in enumerate(parts) if i not in redo)
    share = max(left / len(redo), 1e-6 * max(1.0, abs(total)))
    say(options, f"combined gap above {options.mip_gap:.2%}: solving {len(redo)} product(s) again to an absolute "
                 f"gap of {share:,.2f}")
    again = _solve_all(inst, [parts[i].products for i in redo], storage, options, deadline, d,
                       [share] * len(redo), [parts[i].columns for i in redo])
    parts = list(parts)
    for i, p in zip(redo, again):
        if not p.status.has_solution or p.bound is None:
            continue
        bound = max(parts[i].bound if parts[i].bound is not None else -math.inf, p.bound)  # both are valid
        best = p if p.objective <= parts[i].objective + 1e-9 else parts[i]
        parts[i] = dataclasses.replace(best, bound=bound)
    return parts


def _share(deadline: float | None, rounds: int) -> float | None:
    """The time limit of the next solve: what is left, over the rounds of solves still to come."""
    if deadline is None:
        return None
    return max(0.0, deadline - time.perf_counter()) / max(1, rounds)


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.perf_counter())


def _said(options: SolveOptions, p: Part) -> None:
    what = f", objective {p.objective:,.2f}, bound {p.bound:,.2f}" if p.objective is not None and p.bound is not None \
        else ""
    say(options, f"  {'+'.join(p.products)}: {p.status.value}{what} ({p.num_cols} variables, {p.num_int} integer; "
                 f"{p.solve_seconds:.2f}s)")


def _merge(parts: list[Part]) -> tuple[dict, dict]:
    issues, bought = {}, {}
    for p in parts:
        issues.update(p.issues)
        bought.update(p.bought)
    return issues, bought


def _fits_storage(d: RotationData, plan: tuple[dict, dict]) -> bool:
    from .formulation import evaluate

    ev = evaluate(d, *plan)
    volume: dict[int, float] = {}
    for (l, t), q in ev["stock"].items():
        volume[t] = volume.get(t, 0.0) + d.products[ev["lots"][l].product].unit_volume * q
    cap = d.settings.storage_capacity
    return all(v <= cap + 1e-6 * max(1.0, cap) for v in volume.values())


def _timings(parts: list[Part]) -> dict:
    return {"build": sum(p.build_seconds for p in parts), "handoff": sum(p.handoff_seconds for p in parts),
            "solve": sum(p.solve_seconds for p in parts)}


def _as_solution(first: Part, parts: list[Part], status: Status | None = None, objective: float | None = None,
                 bound: float | None = None, gap: float | None = None) -> Solution:
    """One Solution standing for all parts (for the summary and the failure path)."""
    return Solution(
        status=status or first.status, objective=objective, bound=bound, mip_gap=gap,
        handoff_seconds=sum(p.handoff_seconds for p in parts), solve_seconds=sum(p.solve_seconds for p in parts),
        model_status=first.model_status if len(parts) == 1 else "; ".join(
            f"{'+'.join(p.products)}: {p.model_status}" for p in parts),
        num_cols=sum(p.num_cols for p in parts), num_rows=sum(p.num_rows for p in parts),
        num_int=sum(p.num_int for p in parts))
