"""Derived ironstock data shared by the formulation, the checker and the diagnosis.

Pure Python: the meaning of supply fractions, policy floors, lots and write-off lives here once.
"""

from __future__ import annotations

import math
from functools import cached_property

from stockpile.instance import Instance

EPS = 1e-9


def periods_per_year(inst: Instance) -> float:
    """settings.periods_per_year, else 52 for weekly periods (period_days unset or 7), else 365/period_days."""
    if inst.settings.periods_per_year is not None:
        return float(inst.settings.periods_per_year)
    if inst.period_days is None or inst.period_days == 7:
        return 52.0
    return 365.0 / inst.period_days


def greedy_shortage(demand: list[float], capacity: list[float], reserve: float) -> list[float]:
    """Least shortage per period a play-out can reach: resupply in full, use all it can.

    Serving demand as early as possible is optimal because every unit short costs the
    same whatever its period: a unit kept back can at best save one later unit.
    """
    stock, out = reserve, []
    for dem, cap in zip(demand, capacity):
        available = stock + cap
        use = min(dem, available)
        out.append(dem - use)
        stock = available - use
    return out


class IronstockData:
    """Indexed views of a validated ironstock instance."""

    def __init__(self, inst: Instance):
        self.inst = inst
        self.T = int(inst.periods)
        self.products = {p.id: p for p in inst["products"]}
        self.scenarios = {s.id: s for s in inst["scenarios"]}
        self.sources = {s.id: s for s in inst["sources"]}
        self.reservations = {r.id: r for r in inst["reservations"]}
        self.settings = inst.settings
        self.periods_per_year = periods_per_year(inst)

    # -- grouping ----------------------------------------------------------------------

    @cached_property
    def sources_of(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {p: [] for p in self.products}
        for sid, s in self.sources.items():
            out[s.product].append(sid)
        return out

    @cached_property
    def reservations_of(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {p: [] for p in self.products}
        for kid, r in self.reservations.items():
            out[r.product].append(kid)
        return out

    @cached_property
    def demand(self) -> dict[tuple[str, str], list[float]]:
        """(scenario, product) -> demand per period, for pairs with positive demand only."""
        out: dict[tuple[str, str], list[float]] = {}
        for row in self.inst["scenario_demand"]:
            if row.demand > 0:
                out.setdefault((row.scenario, row.product), [0.0] * self.T)[row.period] = float(row.demand)
        order = {w: i for i, w in enumerate(self.scenarios)}
        return dict(sorted(out.items(), key=lambda kv: (order[kv[0][0]], kv[0][1])))

    @cached_property
    def pairs(self) -> list[tuple[str, str]]:
        return list(self.demand)

    def resupplied(self, product: str) -> bool:
        """A product with sources or reservations can be resupplied during a crisis."""
        return bool(self.sources_of[product] or self.reservations_of[product])

    # -- supply ------------------------------------------------------------------------

    @cached_property
    def fractions(self) -> dict[tuple[str, str], list[float]]:
        """(scenario, source) -> available fraction per period (period rows override the general row)."""
        general = {(r.scenario, r.source): r.available_fraction
                   for r in self.inst["scenario_supply"] if r.period is None}
        specific = [r for r in self.inst["scenario_supply"] if r.period is not None]
        out = {}
        for key, f in general.items():
            out[key] = [f] * self.T
        for r in specific:
            key = (r.scenario, r.source)
            if key not in out:
                out[key] = [1.0] * self.T
            out[key][r.period] = r.available_fraction
        return out

    def fraction(self, scenario: str, source: str, period: int) -> float:
        row = self.fractions.get((scenario, source))
        return 1.0 if row is None else row[period]

    def source_capacity(self, scenario: str, product: str) -> list[float]:
        """Units per period the product's sources deliver in the scenario (reservations excluded)."""
        out = [0.0] * self.T
        for sid in self.sources_of[product]:
            cap = self.sources[sid].capacity
            row = self.fractions.get((scenario, sid))
            for t in range(self.T):
                out[t] += cap * (1.0 if row is None else row[t])
        return out

    def reservations_active(self, product: str, period: int) -> list[str]:
        return [k for k in self.reservations_of[product] if period >= self.reservations[k].ramp_up_periods]

    def resupply_capacity(self, scenario: str, product: str, reserved: dict[str, float]) -> list[float]:
        """Resupply limit per period given reserved capacities c[k]."""
        base = self.source_capacity(scenario, product)
        for k in self.reservations_of[product]:
            c = reserved.get(k, 0.0)
            for t in range(self.reservations[k].ramp_up_periods, self.T):
                base[t] += c
        return base

    # -- reserve rules -----------------------------------------------------------------

    def floor(self, product: str) -> float:
        """Smallest reserve the policy allows: existing stock and min_cover × baseline."""
        p = self.products[product]
        return max(p.existing_stock, p.min_cover_periods * p.baseline_demand)

    def lots_needed(self, product: str) -> int:
        """Fewest lots that lift the reserve to its floor (lot products only)."""
        p = self.products[product]
        gap = self.floor(product) - p.existing_stock
        if gap <= EPS:
            return 0
        return max(0, math.ceil(gap / p.lot_size - 1e-9))

    def least_reserve(self, product: str) -> float:
        """Smallest allowed reserve, lot rounding included."""
        p = self.products[product]
        if p.lot_size is None:
            return self.floor(product)
        return p.existing_stock + self.lots_needed(product) * p.lot_size

    def writes_off(self, product: str) -> bool:
        p = self.products[product]
        return p.shelf_life is not None and p.rotation_capacity is not None

    def writeoff_threshold(self, product: str) -> float:
        """r × L: the reserve that regular use renews before it expires."""
        p = self.products[product]
        return p.rotation_capacity * p.shelf_life

    def writeoff_rate(self, product: str) -> float:
        """EUR per year per unit of reserve above the threshold: unit_cost × periods_per_year / L."""
        p = self.products[product]
        return p.unit_cost * self.periods_per_year / p.shelf_life

    def writeoff(self, product: str, reserve: float) -> float:
        if not self.writes_off(product):
            return 0.0
        return self.writeoff_rate(product) * max(0.0, reserve - self.writeoff_threshold(product))
