"""Independent check of an ironstock solution from its output tables (no Pyomo).

The reserve and the reserved capacities fix everything else: the checker re-derives each
period's resupply limit from the instance, replays the play-out balances, and recomputes
every objective term. Without a play-out table it still proves each reported shortage is
reachable: no play-out can do better than serving demand as early as possible.
"""

from __future__ import annotations

import math

import pandas as pd

from optimizer.checking import close, compare_objective, numeric, require_tables, tol
from optimizer.instance import Instance

from .data import IronstockData, greedy_shortage


def check(inst: Instance, summary: dict, tables: dict[str, pd.DataFrame]) -> list[str]:
    out = require_tables(tables, {
        "reserve": ["product", "reserve"],
        "reservations": ["reservation", "capacity"],
        "shortage": ["scenario", "product", "shortage"],
    })
    if out:
        return out
    d = IronstockData(inst)
    R = _reserve(d, numeric(tables["reserve"], "reserve"), out)
    c = _reservations(d, numeric(tables["reservations"], "capacity"), out)
    if R is None:
        return out
    _limits(d, inst.settings, R, out)
    short = _shortage_rows(d, numeric(tables["shortage"], "shortage"), out)
    if "playout" in tables:
        _playout(d, tables["playout"], R, c, short, out)
    else:
        for (w, p), dem in d.demand.items():
            least = sum(greedy_shortage(dem, d.resupply_capacity(w, p, c), R[p]))
            s = short.get((w, p), 0.0)
            if s < least - tol(least, sum(dem)):
                out.append(f"{w}/{p}: shortage {s:,.4f} is below {least:,.4f}, the least any play-out reaches "
                           f"with reserve {R[p]:,.4f}")

    recomputed = {
        "holding": sum(d.products[p].holding_cost * R[p] for p in d.products),
        "reservation": sum(d.reservations[k].fee * c[k] for k in d.reservations),
        "writeoff": sum(d.writeoff(p, R[p]) for p in d.products),
        "shortage": sum(d.scenarios[w].probability * d.products[p].shortage_penalty * s
                        for (w, p), s in short.items()),
    }
    out.extend(compare_objective(summary, recomputed))

    kpis = summary.get("kpis") or {}
    expected = {
        "budget_used": sum(d.products[p].unit_cost * (R[p] - d.products[p].existing_stock) for p in d.products),
        "expected_shortage_units": sum(d.scenarios[w].probability * s for (w, p), s in short.items()),
        "reserve_value": sum(d.products[p].unit_cost * R[p] for p in d.products),
    }
    for name, value in expected.items():
        if kpis.get(name) is not None and not close(float(kpis[name]), value, tol(value)):
            out.append(f"kpi {name}: summary {kpis[name]:,.6f}, recomputed {value:,.6f}")
    for name, limit in (("budget_marginal_value", inst.settings.budget),
                        ("storage_marginal_value", inst.settings.storage_capacity)):
        v = kpis.get(name)
        if limit is None and v is not None:
            out.append(f"kpi {name} is {v} but the limit is not set (expected null)")
        if v is not None and v < -tol(0):
            out.append(f"kpi {name} is negative ({v:g})")
    return out


def _reserve(d: IronstockData, frame: pd.DataFrame, out: list[str]) -> dict[str, float] | None:
    R: dict[str, float] = {}
    for r in frame.itertuples():
        if r.product not in d.products:
            out.append(f"reserve row for unknown product '{r.product}'")
            continue
        if r.product in R:
            out.append(f"reserve of {r.product} listed twice")
        if not math.isfinite(r.reserve):
            out.append(f"reserve of {r.product} is not a number")
            continue
        R[r.product] = float(r.reserve)
    missing = [p for p in d.products if p not in R]
    if missing:
        out.append(f"reserve.csv lacks product(s) {', '.join(missing)}")
        return None
    for p, prod in d.products.items():
        slack = tol(R[p])
        if R[p] < prod.existing_stock - slack:
            out.append(f"{p}: reserve {R[p]:,.4f} below existing_stock {prod.existing_stock:,.4f}")
        cover = prod.min_cover_periods * prod.baseline_demand
        if R[p] < cover - slack:
            out.append(f"{p}: reserve {R[p]:,.4f} below min_cover_periods × baseline_demand = {cover:,.4f}")
        if prod.lot_size is not None:
            lots = (R[p] - prod.existing_stock) / prod.lot_size
            if abs(lots - round(lots)) * prod.lot_size > slack:
                out.append(f"{p}: reserve {R[p]:,.4f} is existing_stock + {lots:.6f} lots of {prod.lot_size:g}, "
                           "not a whole number of lots")
    return R


def _reservations(d: IronstockData, frame: pd.DataFrame, out: list[str]) -> dict[str, float]:
    c: dict[str, float] = {}
    for r in frame.itertuples():
        if r.reservation not in d.reservations:
            out.append(f"reservations row for unknown reservation '{r.reservation}'")
            continue
        if r.reservation in c:
            out.append(f"reservation {r.reservation} listed twice")
        value = float(r.capacity) if math.isfinite(r.capacity) else 0.0
        cap = d.reservations[r.reservation].max_capacity
        if value < -tol(0) or value > cap + tol(cap):
            out.append(f"reservation {r.reservation}: capacity {value:,.4f} outside [0, {cap:,.4f}]")
        c[r.reservation] = value
    for k in d.reservations:
        if k not in c:
            out.append(f"reservations.csv lacks reservation {k}")
            c[k] = 0.0
    return c


def _limits(d: IronstockData, settings, R: dict[str, float], out: list[str]) -> None:
    spent = sum(d.products[p].unit_cost * (R[p] - d.products[p].existing_stock) for p in d.products)
    if settings.budget is not None and spent > settings.budget + tol(settings.budget):
        out.append(f"purchases cost {spent:,.4f} EUR, above the budget {settings.budget:,.4f}")
    volume = sum(d.products[p].unit_volume * R[p] for p in d.products)
    if settings.storage_capacity is not None and volume > settings.storage_capacity + tol(settings.storage_capacity):
        out.append(f"the reserve takes {volume:,.4f} m³, above storage_capacity {settings.storage_capacity:,.4f}")


def _shortage_rows(d: IronstockData, frame: pd.DataFrame, out: list[str]) -> dict[tuple[str, str], float]:
    short: dict[tuple[str, str], float] = {}
    for r in frame.itertuples():
        key = (r.scenario, r.product)
        if key not in d.demand:
            if math.isfinite(r.shortage) and abs(r.shortage) > tol(0):
                out.append(f"{key[0]}/{key[1]}: shortage {r.shortage:,.4f} but there is no demand")
            continue
        if key in short:
            out.append(f"shortage of {key[0]}/{key[1]} listed twice")
        total = sum(d.demand[key])
        s = float(r.shortage) if math.isfinite(r.shortage) else math.nan
        if not (-tol(0) <= s <= total + tol(total)):
            out.append(f"{key[0]}/{key[1]}: shortage {s:,.4f} outside [0, demand {total:,.4f}]")
        short[key] = s
    for key in d.demand:
        if key not in short:
            out.append(f"shortage.csv lacks {key[0]}/{key[1]}")
            short[key] = sum(d.demand[key])
    return short


def _playout(d: IronstockData, frame: pd.DataFrame, R, c, short, out: list[str]) -> None:
    frame = numeric(frame, "period", "demand", "resupply", "use", "shortage", "stock")
    need = ["scenario", "product", "period", "resupply", "use", "shortage", "stock"]
    missing = [col for col in need if col not in frame.columns]
    if missing:
        out.append(f"playout.csv lacks column(s) {', '.join(missing)}")
        return
    groups = {key: g for key, g in frame.groupby(["scenario", "product"], sort=False)}
    for key in groups:
        if key not in d.demand:
            g = groups[key]
            if (g["use"].abs() > tol(0)).any() or (g["shortage"].abs() > tol(0)).any():
                out.append(f"playout rows for {key[0]}/{key[1]}, which has no demand")
    for (w, p), dem in d.demand.items():
        g = groups.get((w, p))
        if g is None:
            out.append(f"playout.csv lacks {w}/{p}")
            continue
        periods = sorted(int(t) for t in g["period"] if math.isfinite(t))
        if periods != list(range(d.T)):
            out.append(f"playout of {w}/{p} must have one row per period 0..{d.T - 1}")
            continue
        g = g.sort_values("period")
        cap = d.resupply_capacity(w, p, c)
        before = R[p]
        total_short = 0.0
        for row in g.itertuples():
            t = int(row.period)
            where = f"{w}/{p} period {t}"
            slack = tol(dem[t], before, cap[t])
            if row.use < -slack or row.shortage < -slack:
                out.append(f"{where}: negative use or shortage")
            if not close(row.use + row.shortage, dem[t], slack):
                out.append(f"{where}: use {row.use:,.4f} + shortage {row.shortage:,.4f} != demand {dem[t]:,.4f}")
            if row.resupply < -slack or row.resupply > cap[t] + slack:
                out.append(f"{where}: resupply {row.resupply:,.4f} outside [0, {cap[t]:,.4f}]")
            if row.stock < -slack:
                out.append(f"{where}: negative stock {row.stock:,.4f}")
            expected = before + row.resupply - row.use
            if not close(row.stock, expected, slack):
                out.append(f"{where}: stock {row.stock:,.4f} != previous {before:,.4f} + resupply "
                           f"{row.resupply:,.4f} − use {row.use:,.4f}")
            before = row.stock
            total_short += row.shortage
        if not close(total_short, short[(w, p)], tol(total_short, sum(dem))):
            out.append(f"{w}/{p}: playout shortage adds up to {total_short:,.4f}, shortage.csv says "
                       f"{short[(w, p)]:,.4f}")
