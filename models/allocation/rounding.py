"""Whole packs from an LP plan: round down, hand out what is left greedily, repair parity.

Used by the `rounded` pack method (see docs/allocation.md): the lexicographic steps are
solved with pack counts relaxed to real numbers, and this module turns the final LP plan
into whole packs while keeping every rule:

1. each delivery is rounded down (never more than the LP sent in that period, so central
   stock, region capacity and the delivery cap still hold);
2. period by period, the central stock left over is handed out one pack at a time, to
   the pair with the lowest fill rate (`fair`) or the largest priority-weighted gain
   (`efficient`), wherever the pack raises use and the central stock of every later
   period, the region capacity and the delivery cap allow it;
3. if the care/cure parity no longer holds, cure use is lowered from the top (the highest
   cure fill rates first) until it does.

Pure Python; use is simulated with the "use stock when it is needed" rule.
"""

from __future__ import annotations

import heapq
import math

from .data import AllocationData

EPS = 1e-6


def _uses(d: AllocationData, key, packs: dict[int, int]) -> list[float]:
    """Per-period use of a pair when it uses stock as soon as it is needed."""
    i, p = key
    stock = d.stock0.get(key, 0.0)
    row = d.need[key]
    out = []
    for t in range(d.T):
        stock += packs.get(t, 0) * d.pack[p]
        used = min(row[t], stock)
        out.append(used)
        stock -= used
    return out


def _gain(d: AllocationData, key, uses: list[float], t: int) -> float:
    """Extra units used if one more pack arrives at the pair in period t."""
    row = d.need[key]
    short = sum(row[s] - uses[s] for s in range(t, d.T))
    return min(d.pack[key[1]], max(0.0, short))


def round_plan(d: AllocationData, lp_packs: dict[tuple[str, str, int], float], mode: str = "fair"
               ) -> tuple[dict[tuple[str, str, int], int], dict[tuple[str, str], float]]:
    """Whole packs per delivery and total use per pair, from the LP's fractional packs."""
    bounds = d.delivery_keys
    packs: dict[tuple[str, str], dict[int, int]] = {key: {} for key in d.pairs}
    for (i, p, t), ub in bounds.items():
        k = min(ub, int(math.floor(lp_packs.get((i, p, t), 0.0) + EPS)))
        if k > 0:
            packs[(i, p)][t] = k

    # central stock (packs) at the end of each period, region load (units) per period
    T = d.T
    central = {p: [d.cumulative_supply[p][t] / d.pack[p] for t in range(T)] for p in d.products}
    load: dict[tuple[str, int], float] = {}
    sent = {p: [0] * T for p in d.products}
    for (i, p), row in packs.items():
        for t, k in row.items():
            sent[p][t] += k
            r = d.region_of(i)
            load[(r, t)] = load.get((r, t), 0.0) + k * d.pack[p]
    for p, row in sent.items():
        acc = 0
        for t in range(T):
            acc += row[t]
            central[p][t] -= acc
    uses = {key: _uses(d, key, packs[key]) for key in d.pairs}
    total = {key: sum(u) for key, u in uses.items()}

    # parity: cure use per product may not outgrow k × the care fill rate × cure need
    k_par = d.settings.care_cure_parity
    parity = set(d.parity_products())
    sector_use: dict[tuple[str, str], float] = {}
    for (i, p), u in total.items():
        g = (d.institutions[i].sector, p)
        sector_use[g] = sector_use.get(g, 0.0) + u

    def cure_room(p):
        care_fill = sector_use.get(("care", p), 0.0) / d.sector_need[("care", p)]
        return care_fill * d.sector_need[("cure", p)] / k_par - sector_use.get(("cure", p), 0.0) if k_par else math.inf

    keys_at: dict[int, list[tuple[str, str]]] = {}
    for (i, p, t) in bounds:
        keys_at.setdefault(t, []).append((i, p))

    def priority(key, t):
        if mode == "fair":
            return (total[key] / d.total_need[key], -d.institutions[key[0]].priority)
        g = _gain(d, key, uses[key], t)
        return (-d.institutions[key[0]].priority * g, total[key] / d.total_need[key])

    for t in range(T):
        heap = [(priority(key, t), n, key) for n, key in enumerate(keys_at.get(t, []))]
        heapq.heapify(heap)
        counter = len(heap)
        while heap:
            _, _, key = heapq.heappop(heap)
            i, p = key
            pack = d.pack[p]
            if packs[key].get(t, 0) + 1 > bounds[(i, p, t)]:
                continue
            if min(central[p][t:]) < 1 - EPS:
                continue
            r = d.region_of(i)
            cap = d.capacity(r)
            if cap is not None and load.get((r, t), 0.0) + pack > cap + EPS:
                continue
            gain = _gain(d, key, uses[key], t)
            if gain <= EPS:
                continue
            sector = d.institutions[i].sector
            if sector == "cure" and p in parity and gain > cure_room(p) + EPS:
                continue
            packs[key][t] = packs[key].get(t, 0) + 1
            for s in range(t, T):
                central[p][s] -= 1
            load[(r, t)] = load.get((r, t), 0.0) + pack
            uses[key] = _uses(d, key, packs[key])
            before, total[key] = total[key], sum(uses[key])
            sector_use[(sector, p)] = sector_use.get((sector, p), 0.0) + total[key] - before
            counter += 1
            heapq.heappush(heap, (priority(key, t), counter, key))

    _repair_parity(d, total)
    out = {(i, p, t): k for (i, p), row in packs.items() for t, k in row.items() if k > 0}
    return out, total


def _repair_parity(d: AllocationData, total: dict[tuple[str, str], float]) -> None:
    """Lower cure use from the top until care fill ≥ k × cure fill for every parity product."""
    k = d.settings.care_cure_parity
    for p in d.parity_products():
        care = [q for q in d.pairs if q[1] == p and d.institutions[q[0]].sector == "care"]
        cure = [q for q in d.pairs if q[1] == p and d.institutions[q[0]].sector == "cure"]
        care_fill = sum(total[q] for q in care) / d.sector_need[("care", p)]
        allowed = care_fill * d.sector_need[("cure", p)] / k if k > 0 else math.inf
        used = sum(total[q] for q in cure)
        if used <= allowed * (1 - 1e-9):
            continue
        target = allowed * (1 - 1e-9)
        # a level L such that Σ min(total, L × need) over cure pairs = target
        lo, hi = 0.0, 1.0
        for _ in range(60):
            mid = (lo + hi) / 2
            if sum(min(total[q], mid * d.total_need[q]) for q in cure) > target:
                hi = mid
            else:
                lo = mid
        for q in cure:
            total[q] = min(total[q], lo * d.total_need[q])
