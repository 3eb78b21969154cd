"""Whole packs from an LP plan: round down, hand out what is left greedily, repair parity.

Used by the `rounded` pack method (see docs/allocation.md): the lexicographic steps are
solved with pack counts relaxed to real numbers, and this module turns the final LP plan
into whole packs while keeping every rule:

1. each pair's cumulative deliveries are rounded down (so it loses less than one pack over
   the horizon; central stock and the delivery cap still hold), and where a pack moved into
   a later period overfills a region, packs are taken back from the highest fill rates;
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
DONORS_TRIED = 16  # donors examined per period when lifting the minimum


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
    T = d.T
    # 1. round each pair's cumulative deliveries down: it loses less than one pack over the horizon
    packs: dict[tuple[str, str], dict[int, int]] = {key: {} for key in d.pairs}
    for key in d.pairs:
        i, p = key
        acc, before = 0.0, 0
        for t in range(T):
            if (i, p, t) not in bounds:
                continue
            acc += max(0.0, lp_packs.get((i, p, t), 0.0))
            now = int(math.floor(acc + EPS))
            k = min(bounds[(i, p, t)], now - before)
            if k > 0:
                packs[key][t] = k
                before += k
    # 2. a pack moved into a later period may overfill its region: take packs back, highest fill first
    by_region: dict[tuple[str, int], list[tuple[str, str]]] = {}
    for key, row in packs.items():
        for t in row:
            by_region.setdefault((d.region_of(key[0]), t), []).append(key)
    for (r, t), keys in by_region.items():
        cap = d.capacity(r)
        if cap is None:
            continue
        load = sum(packs[key][t] * d.pack[key[1]] for key in keys)
        if load <= cap + EPS:
            continue
        fill = {key: sum(_uses(d, key, packs[key])) / d.total_need[key] for key in keys}
        keys = sorted(keys, key=lambda q: -fill[q])
        while load > cap + EPS:
            for key in keys:
                if load <= cap + EPS:
                    break
                if packs[key].get(t, 0) > 0:
                    packs[key][t] -= 1
                    load -= d.pack[key[1]]

    # 3. hand out the central stock left over; central stock (packs) at the end of each period,
    #    region load (units) per period
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

    if mode == "fair":
        _lift_minimum(d, packs, uses, total, load)
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


def _lift_minimum(d: AllocationData, packs, uses, total, load) -> None:
    """Move single packs from the highest to the lowest fill rate while that raises the minimum.

    A move takes one pack of product p in period t from a donor and gives it to the pair with
    the lowest fill rate, in the same period: the central stock is unchanged; the receiver's
    delivery cap and region capacity are checked. It stops when the lowest pair cannot be
    lifted any more.
    """
    T = d.T
    bounds = d.delivery_keys
    parity = set(d.parity_products()) if d.settings.care_cure_parity else set()
    fill = {key: total[key] / d.total_need[key] for key in d.pairs}
    donors: dict[tuple[str, int], list] = {}
    for key, row in packs.items():
        for t, k in row.items():
            if k > 0:
                donors.setdefault((key[1], t), []).append((-fill[key], key))
    for heap in donors.values():
        heapq.heapify(heap)
    low = [(fill[key], n, key) for n, key in enumerate(d.pairs)]
    heapq.heapify(low)
    counter = len(low)
    moves = 0
    while low and moves < 50 * len(d.pairs):
        f_b, _, b = heapq.heappop(low)
        if f_b != fill[b]:
            continue
        i, p = b
        pack = d.pack[p]
        r_b = d.region_of(i)
        cap = d.capacity(r_b)
        moved = False
        for t in range(T):
            if (i, p, t) not in bounds or packs[b].get(t, 0) + 1 > bounds[(i, p, t)]:
                continue
            if _gain(d, b, uses[b], t) <= EPS:
                continue
            heap = donors.get((p, t))
            if not heap:
                continue
            # look at the few highest-filled donors: the first one the rules allow gives the pack
            kept, found = [], None
            while heap and len(kept) < DONORS_TRIED and found is None:
                entry = heapq.heappop(heap)
                a = entry[1]
                if -entry[0] != fill[a] or packs[a].get(t, 0) < 1:
                    continue  # stale entry
                kept.append(entry)
                if a == b:
                    continue
                r_a = d.region_of(a[0])
                if cap is not None and r_a != r_b and load.get((r_b, t), 0.0) + pack > cap + EPS:
                    continue
                if p in parity and d.institutions[a[0]].sector == "care" and d.institutions[i].sector == "cure":
                    continue  # a move from care to cure could break the parity rule
                trial_b = dict(packs[b]); trial_b[t] = trial_b.get(t, 0) + 1
                trial_a = dict(packs[a]); trial_a[t] -= 1
                ub, ua = _uses(d, b, trial_b), _uses(d, a, trial_a)
                new_b, new_a = sum(ub) / d.total_need[b], sum(ua) / d.total_need[a]
                if min(new_a, new_b) <= fill[b] + 1e-12:
                    continue
                found = (a, r_a, trial_a, trial_b, ua, ub, new_a, new_b)
                kept.pop()
            for entry in kept:
                heapq.heappush(heap, entry)
            if found is None:
                continue
            a, r_a, trial_a, trial_b, ua, ub, new_a, new_b = found
            packs[b], packs[a] = trial_b, trial_a
            uses[b], uses[a] = ub, ua
            total[b], total[a] = sum(ub), sum(ua)
            fill[b], fill[a] = new_b, new_a
            load[(r_b, t)] = load.get((r_b, t), 0.0) + pack
            load[(r_a, t)] = load.get((r_a, t), 0.0) - pack
            if trial_a[t] > 0:
                heapq.heappush(heap, (-new_a, a))
            heapq.heappush(heap, (-new_b, b))
            counter += 2
            heapq.heappush(low, (new_b, counter, b))
            heapq.heappush(low, (new_a, counter + 1, a))
            moves += 1
            moved = True
            break
        if not moved:
            break
