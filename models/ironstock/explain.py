"""What sets each product's reserve (explain.csv), from the plan alone.

One more unit of reserve lowers the shortage by one unit in every crisis where the product
still goes short (the least shortage is max(0, max_k(...) − R): slope −1 while positive),
so its expected yearly saving is shortage_penalty × P(short), and it costs holding_cost
plus the write-off rate once the reserve is above r·L. The sign of the difference, with the
floors and the binding limits, says what holds the reserve where it is. Every figure is
re-derived by check.py from shortage.csv, reserve.csv and binding.csv.
"""

from __future__ import annotations

import pandas as pd

from stockpile.checking import tol

from .data import IronstockData

COLUMNS = ["product", "reserve", "least_reserve", "floor_rule", "scenarios_short", "probability_short",
           "short_in", "saving_per_unit", "cost_per_unit", "net_value_per_unit", "net_value_per_eur", "set_by"]


def unit_cost_rate(d: IronstockData, p: str, reserve: float) -> float:
    """EUR/year of one more unit: holding, plus the write-off rate once above r·L."""
    prod = d.products[p]
    rate = prod.holding_cost
    if d.writes_off(p) and reserve >= d.writeoff_threshold(p) - tol(reserve):
        rate += d.writeoff_rate(p)
    return rate


def set_by(d: IronstockData, p: str, reserve: float, net: float, budget_binds: bool, storage_binds: bool) -> str:
    """The rule that holds the reserve (see docs/ironstock.md, "Explain")."""
    at_floor = reserve <= d.least_reserve(p) + tol(reserve)
    eps = tol(net, d.products[p].shortage_penalty)
    if net <= eps:
        if at_floor:
            return "policy floor" if d.floor(p) > d.products[p].existing_stock else "existing stock"
        return "shortage balance"
    limits = [name for name, binds in (("budget", budget_binds), ("storage", storage_binds)) if binds]
    limits = [x for x in limits if (x == "budget" and d.products[p].unit_cost > 0)
              or (x == "storage" and d.products[p].unit_volume > 0)]
    if limits:
        return " and ".join(limits)
    if d.products[p].lot_size is not None:
        return "lots"
    return "within the gap"


def explain_table(d: IronstockData, R: dict[str, float], short: dict[tuple[str, str], float],
                  budget_binds: bool, storage_binds: bool) -> tuple[pd.DataFrame, dict]:
    rows = []
    for p, prod in d.products.items():
        hit = [(w, d.scenarios[w].probability) for (w, q), s in short.items() if q == p and s > tol(s)]
        hit.sort(key=lambda x: -x[1])
        prob = sum(x[1] for x in hit)
        saving = prod.shortage_penalty * prob
        cost = unit_cost_rate(d, p, R[p])
        net = saving - cost
        cover = prod.min_cover_periods * prod.baseline_demand
        rows.append({
            "product": p, "reserve": R[p], "least_reserve": d.least_reserve(p),
            "floor_rule": "min_cover" if cover > prod.existing_stock else "existing_stock",
            "scenarios_short": len(hit), "probability_short": prob,
            "short_in": " ".join(w for w, _ in hit[:5]) + (f" (+{len(hit) - 5})" if len(hit) > 5 else ""),
            "saving_per_unit": saving, "cost_per_unit": cost, "net_value_per_unit": net,
            "net_value_per_eur": net / prod.unit_cost if prod.unit_cost > 0 else None,
            "set_by": set_by(d, p, R[p], net, budget_binds, storage_binds),
        })
    frame = pd.DataFrame(rows, columns=COLUMNS)
    counts = frame["set_by"].value_counts().to_dict()
    summary = {"set_by": {k: int(v) for k, v in sorted(counts.items())},
               "short_in_some_crisis": int((frame["scenarios_short"] > 0).sum())}
    return frame, summary
