"""Step 1 of the allocation objective: leximin levels (LP) or the max-min in whole packs (MIP).

Leximin (progressive filling, docs/allocation.md "Leximin"): with the pairs still free,
maximise z such that every free pair has fill rate ≥ z and every held pair keeps its
level. The LP's dual gives weights y ≥ 0 on the free pairs' rows "f ≥ z", Σ y = 1, with
Σ y_k f_k ≤ z* for every plan that keeps the held pairs at their levels; so a pair with
y_k > 0 cannot rise above z* unless another free pair falls below it. Those pairs are
held at z*, and the loop goes on with the rest. The rows with a non-zero dual are the
limits that hold the level.

Max-min in whole packs: the optimum is one of the fill rates a pair can reach with a whole
number of packs; a search over those values with a feasibility MIP at each proves it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from stockpile.solver import KeptModel, KeptRun, Status

from .lp import CAP, CAPACITY, EARLIER, NEED, PARITY, SUPPLY, AllocationMatrix

DUAL_TOL = 1e-10  # a floor row's dual above this is a proof that the pair is held (simplex duals are exact zeros off the basis)
LEVEL_SLACK = 1e-9  # a held pair's bound is its level minus this (solver tolerance)
INF = math.inf


@dataclass
class Level:
    value: float
    pairs: np.ndarray  # indices of the pairs held at this level
    proof: str  # dual | need_met | primal | cut
    limits: list[dict] = field(default_factory=list)  # what holds the level, by weight


@dataclass
class LevelsOutcome:
    levels: list[Level]
    floor: np.ndarray  # level per pair
    level_of: np.ndarray  # level number (1-based) per pair
    runs: list[KeptRun]
    cut: bool  # the time limit stopped the filling: the last level holds every pair left
    values: np.ndarray | None  # the last LP's plan (fractional packs)


def _limits(M: AllocationMatrix, run: KeptRun, held: np.ndarray) -> list[dict]:
    """The rows and bounds with a non-zero dual in the level's LP: the certificate's limits."""
    d = M.d
    weights: dict[tuple, float] = {}

    def add(key, w):
        if w > DUAL_TOL:
            weights[key] = weights.get(key, 0.0) + w

    rd, cd = np.abs(run.row_dual), np.abs(run.col_dual)
    for r in np.flatnonzero(rd[M.central.start:M.central.stop] > DUAL_TOL):
        p, t = M.central_rows[r]
        add((SUPPLY, p, "", t), rd[M.central.start + r])
    for r in np.flatnonzero(rd[M.regions.start:M.regions.stop] > DUAL_TOL):
        reg, t = M.region_rows[r]
        add((CAPACITY, "", reg, t), rd[M.regions.start + r])
    for r, p in enumerate(M.parity_products):
        add((PARITY, p, "", ""), rd[M.parity.start + r])
    # pack bounds of single deliveries: increment rows and Y's column bounds
    inc = np.flatnonzero(rd[M.increments.start:M.increments.stop] > DUAL_TOL)
    for r in inc:
        kind, p, _, t = M.ub_why[M.inc_key[r]]
        add((kind, p, "", t if kind == SUPPLY else ""), rd[M.increments.start + r])
    for c in np.flatnonzero(cd[:M.K] > DUAL_TOL):
        if run.col_value[c] > M.col_lower[c] + 1e-9:  # at its upper bound
            kind, p, _, t = M.ub_why[c]
            add((kind, p, "", t if kind == SUPPLY else ""), cd[c])
    f = slice(M.col_f, M.col_f + M.P)
    for n in np.flatnonzero(cd[f] > DUAL_TOL):
        if held[n]:
            add((EARLIER, "", "", ""), cd[M.col_f + n])
        else:
            kind, p, _, t = M.fmax_why[n]
            add((kind, p, "", t if kind != NEED else ""), cd[M.col_f + n])
    total = sum(weights.values()) or 1.0
    out = [{"limit": k[0], "product": k[1], "region": k[2], "period": k[3], "weight": w / total}
           for k, w in weights.items()]
    out.sort(key=lambda r: -r["weight"])
    return out


def leximin(kept: KeptModel, M: AllocationMatrix, deadline: float | None, say) -> LevelsOutcome:
    """Progressive filling on the LP with fractional packs; every level proven by the LP dual."""
    P = M.P
    free = np.ones(P, dtype=bool)
    floor = np.zeros(P)
    level_of = np.zeros(P, dtype=np.int64)
    levels: list[Level] = []
    runs: list[KeptRun] = []
    kept.set_objective(M.cost_maxmin())
    floors = np.arange(M.floors.start, M.floors.stop)
    values = None
    z_last = 0.0
    cut = False
    while free.any():
        left = None if deadline is None else deadline - time.perf_counter()
        if left is not None and left <= 0:
            cut = True
            break
        kept.set_time_limit(left)
        run = kept.run(mip=False)
        runs.append(run)
        if run.status != Status.OPTIMAL:
            cut = True
            break
        values = run.col_value
        z = float(values[M.col_z])
        f = values[M.col_f:M.col_f + P]
        if z >= 1 - 1e-9:
            held, proof = free.copy(), "need_met"
        else:
            dual = np.abs(run.row_dual[M.floors.start:M.floors.stop])
            held = free & (dual > DUAL_TOL)
            proof = "dual"
            if not held.any():
                held, proof = free & (f <= z + 1e-7), "primal"
        if not held.any():
            held, proof = free.copy(), "primal"
        limits = _limits(M, run, ~free) if proof != "need_met" else [
            {"limit": NEED, "product": "", "region": "", "period": "", "weight": 1.0}]
        idx = np.flatnonzero(held)
        levels.append(Level(z, idx, proof, limits))
        floor[idx] = z
        level_of[idx] = len(levels)
        free &= ~held
        z_last = z
        # hold them: their floor row is dropped and the level becomes a bound on f
        kept.set_row_bounds(floors[idx], np.full(len(idx), -INF), np.full(len(idx), INF))
        lo = np.minimum(np.maximum(z - LEVEL_SLACK, 0.0), M.fmax[idx])
        kept.set_col_bounds(M.col_f + idx, lo, M.fmax[idx])
        # z starts the next level from here (a bound, not a row: no extra work for the solver)
        kept.set_col_bounds(np.array([M.col_z]), np.array([max(z - LEVEL_SLACK, 0.0)]), np.array([1.0]))
        say(f"leximin level {len(levels)}: fill rate {z:.6f} holds {len(idx)} pairs ({proof}); "
            f"{int(free.sum())} left ({run.seconds:.2f}s)")
    if cut and free.any():
        # every free pair is at least the last proven level; they are held there, unproven beyond
        idx = np.flatnonzero(free)
        levels.append(Level(z_last, idx, "cut", []))
        floor[idx] = z_last
        level_of[idx] = len(levels)
    # drop the floor rows and z for what follows
    kept.set_row_bounds(floors, np.full(P, -INF), np.full(P, INF))
    kept.set_col_bounds(np.array([M.col_z]), np.array([0.0]), np.array([1.0]))
    return LevelsOutcome(levels, floor, level_of, runs, cut, values)


def maxmin_lp(kept: KeptModel, M: AllocationMatrix, deadline: float | None) -> KeptRun:
    """max z over the LP with fractional packs (an upper bound on the whole-pack max-min)."""
    kept.set_objective(M.cost_maxmin())
    kept.set_time_limit(None if deadline is None else max(0.0, deadline - time.perf_counter()))
    run = kept.run(mip=False)
    floors = np.arange(M.floors.start, M.floors.stop)
    kept.set_row_bounds(floors, np.full(M.P, -INF), np.full(M.P, INF))
    return run


# -- max-min in whole packs ---------------------------------------------------------------------


def _candidates(M: AllocationMatrix, lo: float, hi: float) -> np.ndarray:
    """Every fill rate in [lo, hi] that some pair reaches with a whole number of packs.

    A pair's fill rate with cumulative packs Y is the least of 1, its bound without
    deliveries, and rhs_j + (pack/N)·Y_j over its use rows: so when it is the pair at the
    minimum (and takes all it can) the max-min is one of these values.
    """
    vals = [M.fmax[(M.fmax >= lo) & (M.fmax <= hi)], np.array([1.0]) if lo <= 1.0 <= hi else np.zeros(0)]
    step = M.pack_of_pair[M.use_pair] / M.N[M.use_pair]
    rhs = M.row_upper[M.uses.start:M.uses.stop]
    m_lo = np.maximum(np.ceil((lo - rhs) / step - 1e-9), 0)
    m_hi = np.floor((hi - rhs) / step + 1e-9)
    for r in np.flatnonzero(m_hi >= m_lo):
        vals.append(rhs[r] + step[r] * np.arange(m_lo[r], m_hi[r] + 1))
    out = np.unique(np.concatenate(vals)) if vals else np.zeros(0)
    return out[(out >= lo - 1e-12) & (out <= hi + 1e-12)]


@dataclass
class MaxminOutcome:
    z: float  # the whole-pack max-min of the best plan found
    upper: float  # proven upper bound (z when proven)
    proven: bool
    tests: int
    values: np.ndarray | None  # the best plan found
    seconds: float


def _feasible(kept: KeptModel, M: AllocationMatrix, c: float, deadline: float | None):
    """A whole-pack plan with every fill rate ≥ c, or None (proven), or 'unknown' (time)."""
    f = np.arange(M.col_f, M.col_f + M.P)
    if (M.fmax < c - 1e-12).any():
        return None, 0.0
    kept.set_col_bounds(f, np.full(M.P, c), M.fmax)
    left = None if deadline is None else max(0.0, deadline - time.perf_counter())
    kept.set_time_limit(left)
    run = kept.run(mip=True)
    if run.status.has_solution:
        return run.col_value, run.seconds
    if run.status == Status.INFEASIBLE:
        return None, run.seconds
    return "unknown", run.seconds


def maxmin_exact(kept: KeptModel, M: AllocationMatrix, z_lp: float, deadline: float | None, say) -> MaxminOutcome:
    """The max-min fill rate in whole packs, proven by a search over the reachable values.

    Each test is a feasibility MIP (objective 0, every pair's f ≥ c, Y integer). First a
    plan below z_LP is found (one pack of the worst pair at a time), then the values a pair
    can reach in [that plan's minimum, z_LP] are searched by bisection: feasible at c_i and
    proven infeasible at c_{i+1} means the optimum is c_i (without parity: then the pair at
    the minimum takes all it can, so the optimum is such a value). With parity a cure pair
    may sit between two such values, so the last interval is halved down to 1e-6.
    """
    kept.set_objective(np.zeros(M.num_cols))
    M.set_whole_packs(kept, True)
    seconds, tests = 0.0, 0
    best, lo = None, 0.0
    f = slice(M.col_f, M.col_f + M.P)
    step = float(np.max(M.pack_of_pair / M.N)) if M.P else 1.0
    hi = z_lp + 1e-9  # the LP bound (no whole-pack plan does better)
    unknown = False
    c, widen = max(0.0, z_lp - step), 1
    while True:  # a first plan
        got, s = _feasible(kept, M, c, deadline)
        seconds += s; tests += 1
        if isinstance(got, str):
            unknown = True
            break
        if got is not None:
            best, lo = got, max(c, float(got[f].min()) if M.P else c)
            break
        hi = c
        if c <= 0:
            break
        widen *= 2
        c = max(0.0, z_lp - widen * step)
    if best is not None and not unknown:
        cand = _candidates(M, lo, hi)
        cand = cand[cand > lo + 1e-12]
        a, b = 0, len(cand)  # cand[:a] feasible-known region, cand[b:] infeasible
        while a < b:
            mid = (a + b) // 2
            got, s = _feasible(kept, M, float(cand[mid]), deadline)
            seconds += s; tests += 1
            if isinstance(got, str):
                unknown = True
                break
            if got is None:
                b = mid
                hi = float(cand[mid])
            else:
                best, lo = got, max(float(cand[mid]), float(got[f].min()))
                a = int(np.searchsorted(cand, lo, side="right"))
        if not unknown and M.parity_products:
            while hi - lo > 1e-6:
                mid = (lo + hi) / 2
                got, s = _feasible(kept, M, mid, deadline)
                seconds += s; tests += 1
                if isinstance(got, str):
                    unknown = True
                    break
                if got is None:
                    hi = mid
                else:
                    best, lo = got, max(mid, float(got[f].min()))
        say(f"max-min in whole packs: {lo:.6f} ({tests} feasibility tests, {seconds:.2f}s"
            f"{'' if not unknown else ', stopped by the time limit'})")
    kept.set_col_bounds(np.arange(M.col_f, M.col_f + M.P), np.zeros(M.P), M.fmax)
    proven = not unknown and best is not None
    return MaxminOutcome(lo, lo if proven else hi, proven, tests, best, seconds)
