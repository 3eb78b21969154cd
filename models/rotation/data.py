"""Derived rotation data shared by the formulation and the diagnosis.

Pure Python: the windows of a lot (alive, issuable to an outlet, usable toward the
target) and the candidate purchase lots are defined here once. The checker does not use
this module: it re-derives every rule from the contract on its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

from stockpile.instance import Instance


@dataclass(frozen=True)
class LotInfo:
    """A lot on hand at the start (quantity known) or a candidate purchase (quantity decided).

    start: first period the lot is on hand (0, or the arrival period of a purchase).
    expiry: first period in which it is no longer usable (written off at its start).
    """

    id: str
    product: str
    start: int
    expiry: int
    quantity: float | None = None  # None: a purchase lot, lot_size * n units
    ordered: int | None = None  # order period of a purchase lot

    @property
    def bought(self) -> bool:
        return self.quantity is None

    def alive(self, periods: int) -> range:
        """Periods at whose end the lot holds stock (start <= t < expiry, within the horizon)."""
        return range(self.start, max(self.start, min(self.expiry, periods)))

    def issuable(self, periods: int, min_remaining_life: int) -> range:
        """Periods t it may be issued to an outlet: t < expiry and expiry - t >= the outlet's minimum."""
        return range(self.start, max(self.start, min(self.expiry, periods, self.expiry - min_remaining_life + 1)))

    def usable(self, periods: int, min_remaining_life: int) -> range:
        """Periods t at whose end it counts toward the target: expiry - (t + 1) >= the product's minimum."""
        return range(self.start, max(self.start, min(self.expiry, periods, self.expiry - min_remaining_life)))

    def writeoff_period(self, periods: int) -> int | None:
        """Period in which what is left is written off; None if it outlives the horizon."""
        if self.expiry <= self.start:
            return self.start  # expired before it was ever on hand (a lot with expiry <= 0)
        return self.expiry if self.expiry < periods else None


class RotationData:
    """Indexed views of a validated rotation instance."""

    def __init__(self, inst: Instance):
        self.inst = inst
        self.T: int = int(inst.periods)
        self.products = {p.id: p for p in inst["products"]}
        self.settings = inst.settings
        self._targets = {(t.product, t.period): t.target for t in inst["targets"]}
        self.outlets = {(o.id, o.product): o for o in inst["outlets"]}

    @cached_property
    def periods_per_year(self) -> float:
        """52 for weekly periods (period_days unset or 7), else 365 / period_days."""
        days = self.inst.period_days
        return 52.0 if days is None or days == 7 else 365.0 / float(days)

    def holding(self, product: str) -> float:
        """EUR per unit held at the end of one period (holding_cost is per year)."""
        return self.products[product].holding_cost / self.periods_per_year

    def target(self, product: str, period: int) -> float:
        """Usable units required at the end of `period` (a targets row overrides the product's)."""
        return self._targets.get((product, period), self.products[product].target)

    @cached_property
    def outlets_of(self) -> dict[str, list[tuple[str, str]]]:
        out: dict[str, list] = {p: [] for p in self.products}
        for key in self.outlets:
            out[key[1]].append(key)
        return out

    @cached_property
    def existing(self) -> list[LotInfo]:
        return [LotInfo(lot.id, lot.product, 0, lot.expiry, float(lot.quantity)) for lot in self.inst["lots"]]

    @cached_property
    def candidates(self) -> list[LotInfo]:
        """One candidate purchase lot per product and order period whose arrival lies in the horizon."""
        taken = {lot.id for lot in self.inst["lots"]}
        out = []
        for p, prod in self.products.items():
            for o in range(0, self.T - prod.lead_time):
                arrival = o + prod.lead_time
                out.append(LotInfo(unique_id(f"{p}@order{o}", taken), p, arrival, arrival + prod.shelf_life,
                                   None, o))
        return out

    @cached_property
    def max_lots(self) -> dict[str, int]:
        """Most lots worth buying in one order (candidate lot id -> n); 0 leaves the candidate out.

        Let `top` be the largest target the lot can count toward and `ls` the lot size. A
        purchase of Q >= top + 2*ls units could buy `ls` units less, and where its stock ever
        fell below top + ls, skip its first `ls` units issued, without breaking a rule: its
        own stock stays >= top wherever it counts toward a target. That never raises a cost
        when no outlet of the product pays more than unit_cost, so then n <= ceil(top/ls) + 1
        keeps an optimal plan (and a lot that never counts is not worth buying at all).
        Otherwise outlets can absorb the lot at a profit, and the bound adds what they can
        take from it: n <= floor((top + outlet capacity) / ls) + 1.
        """
        out = {}
        for lot in self.candidates:
            prod = self.products[lot.product]
            usable = lot.usable(self.T, prod.min_remaining_life)
            top = max((self.target(lot.product, t) for t in usable), default=0.0)
            keys = self.outlets_of[lot.product]
            if all(self.outlets[k].price <= prod.unit_cost for k in keys):
                out[lot.id] = 0 if top <= 0 else int(math.ceil(top / prod.lot_size - 1e-9)) + 1
                continue
            capacity = sum(self.outlets[k].capacity * len(lot.issuable(self.T, self.outlets[k].min_remaining_life))
                           for k in keys)
            out[lot.id] = 0 if top + capacity <= 0 else int(math.floor((top + capacity) / prod.lot_size)) + 1
        return out

    @cached_property
    def pooled(self) -> dict[str, list[LotInfo]]:
        """Lots that behave alike for the rest of the horizon, per product.

        A lot with expiry e >= T + max(product min_remaining_life, outlet min_remaining_life - 1)
        counts toward the target and is accepted by every outlet of its product in every
        period it is on hand, and it is not written off within the horizon. Such lots of one
        product (on hand or bought) are interchangeable once they are on hand, so the model
        keeps one "fresh" stock for them instead of one stock per lot; the result tables
        assign its issues to the lots first-in first-out.
        """
        out: dict[str, list[LotInfo]] = {p: [] for p in self.products}
        for lot in self.lots:
            prod = self.products[lot.product]
            need = max([prod.min_remaining_life] + [self.outlets[k].min_remaining_life - 1
                                                     for k in self.outlets_of[lot.product]])
            if lot.expiry >= self.T + need and lot.expiry > lot.start:
                out[lot.product].append(lot)
        return out

    @cached_property
    def existing_of(self) -> dict[str, list[LotInfo]]:
        out: dict[str, list] = {p: [] for p in self.products}
        for lot in self.existing:
            out[lot.product].append(lot)
        return out

    @cached_property
    def _existing_usable(self) -> dict[tuple[str, int], float]:
        out: dict[tuple[str, int], float] = {}
        for lot in self.existing:
            for t in lot.usable(self.T, self.products[lot.product].min_remaining_life):
                out[(lot.product, t)] = out.get((lot.product, t), 0.0) + lot.quantity
        return out

    def existing_usable(self, product: str, period: int) -> float:
        """Units of the lots on hand that could still count toward the target at the end of `period`."""
        return self._existing_usable.get((product, period), 0.0)

    @cached_property
    def lots(self) -> list[LotInfo]:
        """Every lot the model carries: the existing ones and the purchase candidates worth having."""
        return self.existing + [c for c in self.candidates if self.max_lots[c.id] > 0]

    @cached_property
    def tracked(self) -> list[LotInfo]:
        """Lots the model follows one by one: all but the pooled purchase lots."""
        pooled = {lot.id for lots in self.pooled.values() for lot in lots}
        return [lot for lot in self.lots if lot.id not in pooled]

    def initial_upper(self, lot: LotInfo) -> float:
        """Largest initial quantity of a lot."""
        if lot.quantity is not None:
            return lot.quantity
        return self.max_lots[lot.id] * self.products[lot.product].lot_size


def unique_id(base: str, taken: set[str]) -> str:
    """`base`, or `base~2`, `base~3`, ... if an existing lot already has that id."""
    name, k = base, 1
    while name in taken:
        k += 1
        name = f"{base}~{k}"
    taken.add(name)
    return name


# Remaining-life bands of the stock-age profile: (label, lowest, highest) in periods left
# after the end of the period; the last band is open.
LIFE_BANDS = (("life_0_3", 0, 3), ("life_4_12", 4, 12), ("life_13_25", 13, 25), ("life_26_51", 26, 51),
              ("life_52_plus", 52, None))


def life_band(remaining: int) -> str:
    for label, lo, hi in LIFE_BANDS:
        if remaining >= lo and (hi is None or remaining <= hi):
            return label
    return LIFE_BANDS[0][0]
