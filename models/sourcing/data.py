"""Derived sourcing data shared by the formulation, the checker and the diagnosis.

Pure Python: the semantics of tiers, delivered fractions and region rows live here once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

from stockpile.instance import Instance

INF = math.inf


@dataclass(frozen=True)
class Tier:
    min_quantity: float
    unit_price: float


def tiers(inst: Instance) -> dict[tuple[str, str], list[Tier]]:
    """All-units price tiers per offer, ascending; tier 0 starts at 0."""
    out: dict[tuple[str, str], list[Tier]] = {}
    for o in inst["offers"]:
        out[(o.supplier, o.product)] = [Tier(0.0, o.unit_price)]
    for d in sorted(inst["discounts"], key=lambda d: d.min_quantity):
        rows = out[(d.supplier, d.product)]
        if d.min_quantity == 0:
            rows[0] = Tier(0.0, d.unit_price)  # a tier from 0 replaces the base price
        else:
            rows.append(Tier(d.min_quantity, d.unit_price))
    return out


def tier_of(rows: list[Tier], quantity: float) -> Tier:
    """The tier whose price applies to the whole quantity (largest min_quantity <= q)."""
    chosen = rows[0]
    for t in rows:
        if t.min_quantity <= quantity:
            chosen = t
    return chosen


class SourcingData:
    """Indexed views of a validated sourcing instance."""

    def __init__(self, inst: Instance):
        self.inst = inst
        self.products = {p.id: p for p in inst["products"]}
        self.suppliers = {s.id: s for s in inst["suppliers"]}
        self.offers = {(o.supplier, o.product): o for o in inst["offers"]}
        self.scenarios = {s.id: s for s in inst["scenarios"]}
        self.tiers = tiers(inst)
        self.settings = inst.settings

    @cached_property
    def offers_of_product(self) -> dict[str, list[tuple[str, str]]]:
        out: dict[str, list] = {p: [] for p in self.products}
        for key in self.offers:
            out[key[1]].append(key)
        return out

    @cached_property
    def offers_of_supplier(self) -> dict[str, list[tuple[str, str]]]:
        out: dict[str, list] = {s: [] for s in self.suppliers}
        for key in self.offers:
            out[key[0]].append(key)
        return out

    def upper(self, key: tuple[str, str]) -> float:
        """Most units the offer can carry: its capacity, the share cap, the supplier's capacity."""
        o = self.offers[key]
        p = self.products[key[1]]
        s = self.suppliers[key[0]]
        caps = [p.max_supplier_share * p.demand]
        if o.capacity is not None:
            caps.append(o.capacity)
        if s.capacity is not None:
            caps.append(s.capacity)
        return min(caps)

    def award_bound(self, key: tuple[str, str]) -> float:
        """The model's bound on x[s,p]: `upper`, and no more than its region may carry.

        The tightest big-M for x <= U·y and the tier segments (the diagnosis keeps `upper`,
        so that its reasons name the region cap themselves).
        """
        s = self.suppliers[key[0]]
        p = self.products[key[1]]
        caps = [r.max_share * p.demand for r in self.region_rows(key[1]) if r.region == s.region]
        return min([self.upper(key), *caps])

    def lower(self, key: tuple[str, str]) -> float:
        """Units an award must carry at least."""
        o = self.offers[key]
        p = self.products[key[1]]
        return max(o.min_order, p.min_award_share * p.demand)

    @cached_property
    def _rows_by_product(self) -> dict[str, list]:
        out: dict[str, list] = {}
        for r in self.inst["region_limits"]:
            out.setdefault(r.product, []).append(r)
        return out

    def region_rows(self, product: str) -> list:
        """Every region_limits row that applies to the product: its own rows and the '*' rows."""
        return self._rows_by_product.get(product, []) + self._rows_by_product.get("*", [])

    @cached_property
    def offers_in_region(self) -> dict[tuple[str, str], list[tuple[str, str]]]:
        """(product, region) -> offers of that product by suppliers of that region."""
        out: dict[tuple[str, str], list] = {}
        for key in self.offers:
            out.setdefault((key[1], self.suppliers[key[0]].region), []).append(key)
        return out

    @cached_property
    def delivered(self) -> dict[tuple[str, str], float]:
        """(scenario, supplier) -> delivered fraction; a supplier row overrides its region's."""
        by_region = {(d.scenario, d.region): d.delivered_fraction for d in self.inst["disruptions"] if d.region}
        by_supplier = {(d.scenario, d.supplier): d.delivered_fraction for d in self.inst["disruptions"] if d.supplier}
        out = {}
        for w in self.scenarios:
            for sid, s in self.suppliers.items():
                out[(w, sid)] = by_supplier.get((w, sid), by_region.get((w, s.region), 1.0))
        return out

    def loss_value(self, product: str) -> float:
        """EUR per unit lost in a scenario: shortage_penalty, else disruption_penalty, else 0."""
        p = self.products[product]
        if p.shortage_penalty is not None:
            return p.shortage_penalty
        return self.settings.disruption_penalty or 0.0
