"""Why an ironstock instance has no feasible plan, in the planner's words.

Only the reserve's floors can make the model infeasible: every crisis may go short at a
cost, and reservations may be zero. So the plan "every reserve at its floor (lot rounding
included), nothing reserved" is feasible exactly when those floors fit the budget and the
storage; this module names the products and figures when they do not.
"""

from __future__ import annotations

from stockpile.instance import Instance

from .data import IronstockData


def _n(x: float) -> str:
    return f"{x:,.0f}" if abs(x - round(x)) < 1e-9 else f"{x:,.2f}"


def _why_floor(d: IronstockData, p: str) -> str:
    prod = d.products[p]
    parts = []
    cover = prod.min_cover_periods * prod.baseline_demand
    if cover > prod.existing_stock:
        parts.append(f"min_cover_periods {prod.min_cover_periods:g} × baseline_demand {_n(prod.baseline_demand)}")
    else:
        parts.append("existing_stock")
    if prod.lot_size is not None and d.least_reserve(p) > d.floor(p) + 1e-9:
        parts.append(f"rounded up to lots of {_n(prod.lot_size)}")
    return ", ".join(parts)


def diagnose(inst: Instance) -> str | None:
    d = IronstockData(inst)
    settings = inst.settings
    reasons = []
    least = {p: d.least_reserve(p) for p in d.products}
    if settings.budget is not None:
        spend = {p: d.products[p].unit_cost * (least[p] - d.products[p].existing_stock) for p in d.products}
        need = sum(spend.values())
        if need > settings.budget * (1 + 1e-9) + 1e-6:
            named = sorted((p for p in spend if spend[p] > 0), key=lambda p: -spend[p])
            detail = "; ".join(f"{p}: {_n(least[p] - d.products[p].existing_stock)} units to reach "
                               f"{_n(least[p])} ({_why_floor(d, p)}) at {d.products[p].unit_cost:g} EUR = "
                               f"{_n(spend[p])} EUR" for p in named)
            reasons.append(f"the policy floors cost {_n(need)} EUR to buy but the budget is "
                           f"{_n(settings.budget)} EUR ({detail})")
    if settings.storage_capacity is not None:
        volume = {p: d.products[p].unit_volume * least[p] for p in d.products}
        need = sum(volume.values())
        if need > settings.storage_capacity * (1 + 1e-9) + 1e-9:
            named = sorted((p for p in volume if volume[p] > 0), key=lambda p: -volume[p])
            detail = "; ".join(f"{p}: {_n(least[p])} units ({_why_floor(d, p)}) × {d.products[p].unit_volume:g} m³ "
                               f"= {_n(volume[p])} m³" for p in named)
            reasons.append(f"the smallest reserve allowed takes {_n(need)} m³ but storage_capacity is "
                           f"{_n(settings.storage_capacity)} m³ ({detail})")
    return "; ".join(reasons) if reasons else None
