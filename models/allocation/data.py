"""Derived allocation data and the baseline pro-rata rule, shared by formulation and checker.

Pure Python (no Pyomo): the sparse index of (institution, product) pairs, the periods in
which a delivery can help, pack bounds, and the 2020 pro-rata rule live here once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

from stockpile.instance import Instance

EPS = 1e-9  # slack when rounding a quantity down to whole packs


def whole_packs(quantity: float, pack_size: float) -> int:
    """The number of whole packs that fit in `quantity` (rounded down, tolerant of 2.9999999)."""
    if quantity <= 0:
        return 0
    return int(math.floor(quantity / pack_size + EPS))


class AllocationData:
    """Indexed views of a validated allocation instance.

    Only (institution, product) pairs with a positive total need get decisions; a pair that
    only holds stock keeps it (nobody there uses it, and no rule can move it).
    """

    def __init__(self, inst: Instance):
        self.inst = inst
        self.settings = inst.settings
        self.T = int(inst.periods)
        self.products = {p.id: p for p in inst["products"]}
        self.pack = {p: rec.pack_size for p, rec in self.products.items()}
        self.institutions = {i.id: i for i in inst["institutions"]}
        self.regions = {r.id: r for r in inst["regions"]}
        self.supply: dict[str, list[float]] = {p: [0.0] * self.T for p in self.products}
        for s in inst["supply"]:
            self.supply[s.product][s.period] += s.quantity
        self.need: dict[tuple[str, str], list[float]] = {}
        for n in inst["needs"]:
            if n.need > 0:
                self.need.setdefault((n.institution, n.product), [0.0] * self.T)[n.period] = n.need
        self.stock0: dict[tuple[str, str], float] = {(s.institution, s.product): s.quantity for s in inst["stocks"]}
        # pairs in a stable order: institution order of the table, then product order
        inst_order = {i: k for k, i in enumerate(self.institutions)}
        prod_order = {p: k for k, p in enumerate(self.products)}
        self.pairs: list[tuple[str, str]] = sorted(self.need, key=lambda k: (inst_order[k[0]], prod_order[k[1]]))
        self.total_need = {k: sum(self.need[k]) for k in self.pairs}

    # -- institutions and regions ---------------------------------------------------------

    def region_of(self, i: str) -> str:
        return self.institutions[i].region

    def cost(self, i: str) -> float:
        r = self.regions.get(self.institutions[i].region)
        return r.cost_per_unit if r is not None else 0.0

    def capacity(self, region: str) -> float | None:
        r = self.regions.get(region)
        return r.capacity if r is not None else None

    @cached_property
    def region_labels(self) -> list[str]:
        """Regions of the regions table, then any other region label institutions use."""
        out = list(self.regions)
        seen = set(out)
        for rec in self.institutions.values():
            if rec.region not in seen:
                seen.add(rec.region)
                out.append(rec.region)
        return out

    # -- supply and delivery windows ------------------------------------------------------

    @cached_property
    def cumulative_supply(self) -> dict[str, list[float]]:
        out = {}
        for p, row in self.supply.items():
            acc, total = [], 0.0
            for q in row:
                total += q
                acc.append(total)
            out[p] = acc
        return out

    def first_supply(self, p: str) -> int | None:
        for t, q in enumerate(self.supply[p]):
            if q > 0:
                return t
        return None

    def last_need(self, key: tuple[str, str]) -> int:
        row = self.need[key]
        return max(t for t, q in enumerate(row) if q > 0)

    def first_need(self, key: tuple[str, str]) -> int:
        row = self.need[key]
        return min(t for t, q in enumerate(row) if q > 0)

    def delivery_bound(self, key: tuple[str, str], t: int) -> int:
        """Most packs a delivery to the pair in period t can usefully carry.

        The least of: what has reached the central stock by t, the anti-hoarding cap
        (max_delivery_periods × need in t), and the pair's remaining need from t on rounded
        up to whole packs (a larger delivery can never be used and only costs transport).
        """
        i, p = key
        pack = self.pack[p]
        row = self.need[key]
        packs = whole_packs(self.cumulative_supply[p][t], pack)
        cap = self.settings.max_delivery_periods
        if cap is not None:
            packs = min(packs, whole_packs(cap * row[t], pack))
        remaining = sum(row[t:])
        packs = min(packs, int(math.ceil(remaining / pack - EPS)))
        return max(0, packs)

    @cached_property
    def delivery_keys(self) -> dict[tuple[str, str, int], int]:
        """(institution, product, period) -> pack bound, for every delivery that can help."""
        out = {}
        for key in self.pairs:
            i, p = key
            start = self.first_supply(p)
            if start is None:
                continue
            for t in range(start, self.last_need(key) + 1):
                ub = self.delivery_bound(key, t)
                if ub > 0:
                    out[(i, p, t)] = ub
        return out

    @cached_property
    def sector_need(self) -> dict[tuple[str, str], float]:
        """(sector, product) -> total need over the horizon."""
        out: dict[tuple[str, str], float] = {}
        for (i, p), n in self.total_need.items():
            k = (self.institutions[i].sector, p)
            out[k] = out.get(k, 0.0) + n
        return out

    def parity_products(self) -> list[str]:
        """Products the parity rule applies to: both sectors need them (the rest are exempt)."""
        if self.settings.care_cure_parity is None:
            return []
        return [p for p in self.products
                if self.sector_need.get(("care", p), 0) > 0 and self.sector_need.get(("cure", p), 0) > 0]


# -- the baseline pro-rata rule ---------------------------------------------------------------


@dataclass
class Baseline:
    """Outcome of the pro-rata rule: deliveries and use per (institution, product, period)."""

    deliveries: dict[tuple[str, str, int], float] = field(default_factory=dict)
    use: dict[tuple[str, str, int], float] = field(default_factory=dict)
    central: dict[tuple[str, int], float] = field(default_factory=dict)  # end of period

    def use_of(self, key: tuple[str, str]) -> float:
        return self._use_by_pair.get(key, 0.0)

    @cached_property
    def _use_by_pair(self) -> dict[tuple[str, str], float]:
        out: dict[tuple[str, str], float] = {}
        for (i, p, _), u in self.use.items():
            out[(i, p)] = out.get((i, p), 0.0) + u
        return out


def baseline(d: AllocationData) -> Baseline:
    """The pro-rata rule of the 2020 national consortium (MODELS.md, 4. allocation).

    Per product and period: every institution requests max(0, need − stock at the start of
    the period); on hand = central stock carried + the period's supply; if on hand covers the
    requests each gets its request, otherwise request × on hand / Σ requests; either way
    rounded down to whole packs. Region capacity and the delivery cap are ignored. Each
    institution then uses min(need, stock + delivery).
    """
    out = Baseline()
    by_product: dict[str, list[tuple[str, str]]] = {p: [] for p in d.products}
    for key in d.pairs:
        by_product[key[1]].append(key)
    for p, keys in by_product.items():
        pack = d.pack[p]
        stock = {k: d.stock0.get(k, 0.0) for k in keys}
        carried = 0.0
        for t in range(d.T):
            on_hand = carried + d.supply[p][t]
            requests = {k: max(0.0, d.need[k][t] - stock[k]) for k in keys}
            total = sum(requests.values())
            ratio = 1.0 if total <= on_hand else (on_hand / total if total > 0 else 0.0)
            delivered = 0.0
            for k in keys:
                r = requests[k]
                x = whole_packs(r * ratio, pack) * pack if r > 0 else 0.0
                if x > 0:
                    out.deliveries[(k[0], p, t)] = x
                    delivered += x
                need = d.need[k][t]
                use = min(need, stock[k] + x)
                if need > 0:
                    out.use[(k[0], p, t)] = use
                stock[k] = stock[k] + x - use
            carried = on_hand - delivered
            out.central[(p, t)] = carried
    return out
