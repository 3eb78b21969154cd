"""Independent check of an ironstock solution from its output tables (no Pyomo).

The reserve and the reserved capacities fix everything else: the checker re-derives each
period's resupply limit from the instance, replays the play-out balances, and recomputes
every objective term. Without a play-out table it still proves each reported shortage is
reachable: no play-out can do better than serving demand as early as possible.
"""

from __future__ import annotations

import math

import pandas as pd

from stockpile.checking import close, compare_objective, numeric, require_tables, tol
from stockpile.instance import Instance

from .data import IronstockData, greedy_shortage


TABLES = {
    "reserve": ["product", "reserve", "existing_stock", "bought", "lots", "cover_periods", "volume",
                "purchase_cost", "holding_cost", "writeoff_units", "writeoff_cost"],
    "reservations": ["reservation", "product", "capacity", "max_capacity", "ramp_up_periods", "fee_rate", "fee"],
    "shortage": ["scenario", "product", "probability", "demand", "shortage", "fill_rate", "shortage_penalty",
                 "cost", "expected_cost"],
    "binding": ["constraint", "id", "limit", "value", "slack", "binding", "marginal_value"],
    "explain": ["product", "reserve", "least_reserve", "scenarios_short", "probability_short", "saving_per_unit",
                "cost_per_unit", "net_value_per_unit", "set_by"],
    "playout": ["scenario", "product", "period", "demand", "resupply", "resupply_capacity", "use", "shortage",
                "stock"],
}


def check(inst: Instance, summary: dict, tables: dict[str, pd.DataFrame]) -> list[str]:
    needed = {name: cols for name, cols in TABLES.items() if name != "playout" or inst.settings.playout}
    elastic = bool((summary.get("kpis") or {}).get("elastic"))
    if elastic:
        needed["shortfall"] = ["rule", "product", "required", "achieved", "short"]
    out = require_tables(tables, needed)
    if out:
        return out
    floor_short = _shortfall(inst, tables["shortfall"], out) if elastic else {}
    d = IronstockData(inst)
    R = _reserve(d, numeric(tables["reserve"], "reserve"), out, floor_short)
    c = _reservations(d, numeric(tables["reservations"], "capacity"), out)
    if R is None:
        return out
    _limits(d, inst.settings, R, out)
    short = _shortage_rows(d, numeric(tables["shortage"], "shortage"), out)
    _reserve_columns(d, numeric(tables["reserve"], *TABLES["reserve"][1:]), R, out)
    _reservation_columns(d, numeric(tables["reservations"], *TABLES["reservations"][2:]), c, out)
    _shortage_columns(d, numeric(tables["shortage"], *TABLES["shortage"][2:]), short, out)
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
    price = (inst.settings.shortfall_penalty or {}).get("products")
    if price is not None and elastic:
        recomputed["shortfall"] = price * sum(d.floor(p) - R[p] for p in floor_short)
    out.extend(compare_objective(summary, recomputed))
    if (summary.get("kpis") or {}).get("elastic"):
        _kpi(summary["kpis"], "total_shortfall", sum(d.floor(p) - R[p] for p in floor_short), out)

    kpis = summary.get("kpis") or {}
    settings = inst.settings
    expected = {
        "budget_used": sum(d.products[p].unit_cost * (R[p] - d.products[p].existing_stock) for p in d.products),
        "expected_shortage_units": sum(d.scenarios[w].probability * s for (w, p), s in short.items()),
        "reserve_value": sum(d.products[p].unit_cost * R[p] for p in d.products),
        "storage_used": sum(d.products[p].unit_volume * R[p] for p in d.products),
        "reserved_capacity": sum(c.values()),
        "periods_per_year": d.periods_per_year,
        "budget": settings.budget,
        "storage_capacity": settings.storage_capacity,
    }
    for name, value in expected.items():
        _kpi(kpis, name, value, out)
    rows = _binding_rows(d, settings, R, c, expected["budget_used"], expected["storage_used"])
    _binding(tables["binding"], rows, kpis, out)
    claimed = kpis.get("binding")
    if claimed is not None:
        truth = sorted(f"{k}:{i}" if i else k for (k, i), r in rows.items() if r["binding"])
        if sorted(claimed) != truth:
            out.append(f"kpi binding {sorted(claimed)} but the plan binds {truth}")
    for name, limit in (("budget_marginal_value", settings.budget),
                        ("storage_marginal_value", settings.storage_capacity)):
        v = kpis.get(name)
        if limit is None and v is not None:
            out.append(f"kpi {name} is {v} but the limit is not set (expected null)")
        if v is not None and v < -tol(0):
            out.append(f"kpi {name} is negative ({v:g})")
    _decomposition(summary, kpis, out)
    _explain(d, tables["explain"], R, short, rows, out)
    return out


def _explain(d: IronstockData, frame: pd.DataFrame, R, short, rows, out: list[str]) -> None:
    """explain.csv: re-derive each product's figures from shortage.csv and check its set_by claim."""
    frame = numeric(frame, "reserve", "least_reserve", "scenarios_short", "probability_short", "saving_per_unit",
                    "cost_per_unit", "net_value_per_unit")
    budget = rows.get(("budget", ""), {}).get("binding", False)
    storage = rows.get(("storage", ""), {}).get("binding", False)
    listed = set()
    for r in frame.itertuples():
        p = r.product
        if p not in d.products:
            out.append(f"explain.csv row for unknown product '{p}'")
            continue
        listed.add(p)
        prod = d.products[p]
        hit = [w for (w, q), s in short.items() if q == p and s > tol(s)]
        prob = sum(d.scenarios[w].probability for w in hit)
        cost = prod.holding_cost + (d.writeoff_rate(p) if d.writes_off(p)
                                    and R[p] >= d.writeoff_threshold(p) - tol(R[p]) else 0.0)
        net = prod.shortage_penalty * prob - cost
        want = {"reserve": R[p], "least_reserve": d.least_reserve(p), "scenarios_short": float(len(hit)),
                "probability_short": prob, "saving_per_unit": prod.shortage_penalty * prob,
                "cost_per_unit": cost, "net_value_per_unit": net}
        for column, value in want.items():
            got = getattr(r, column)
            if not close(float(got), value, tol(value, prod.shortage_penalty)):
                out.append(f"explain.csv {p}: {column} {got}, recomputed {value:,.6f}")
        claim, eps = str(r.set_by), tol(net, prod.shortage_penalty)
        at_floor = R[p] <= d.least_reserve(p) + tol(R[p])
        holds = {
            "policy floor": at_floor and net <= eps and d.floor(p) > prod.existing_stock,
            "existing stock": at_floor and net <= eps,
            "shortage balance": net <= eps and not at_floor,
            "budget": net > eps and budget,
            "storage": net > eps and storage,
            "budget and storage": net > eps and budget and storage,
            "lots": net > eps and prod.lot_size is not None,
            "within the gap": net > eps,
        }
        if not holds.get(claim, False):
            out.append(f"explain.csv {p}: set_by '{claim}' does not hold (reserve {R[p]:,.4f}, least "
                       f"{d.least_reserve(p):,.4f}, net value per unit {net:,.6f}, budget binding {budget}, "
                       f"storage binding {storage})")
    for p in d.products:
        if p not in listed:
            out.append(f"explain.csv lacks product {p}")


def _kpi(kpis: dict, name: str, value, out: list[str]) -> None:
    """A KPI must be there and equal its recomputed value (null where the value is)."""
    if name not in kpis:
        out.append(f"summary kpis lack {name}")
        return
    got = kpis[name]
    if value is None or got is None:
        if (value is None) != (got is None):
            out.append(f"kpi {name}: summary {got}, recomputed {value}")
        return
    if not isinstance(got, (int, float)) or not close(float(got), float(value), tol(value)):
        out.append(f"kpi {name}: summary {got}, recomputed {value:,.6f}")


def _same(frame: pd.DataFrame, column: str, key: str, expected: dict, out: list[str], table: str) -> None:
    """Every row's `column` equals expected[row key] (NaN where expected is None)."""
    for ident, got in zip(frame[key], frame[column]):
        if ident not in expected:
            continue
        want = expected[ident]
        if want is None:
            if not (isinstance(got, float) and math.isnan(got)):
                out.append(f"{table}.csv {ident}: {column} {got} but it has none")
        elif not (isinstance(got, (int, float)) and close(float(got), want, tol(want))):
            out.append(f"{table}.csv {ident}: {column} {got}, recomputed {want:,.6f}")


def _reserve_columns(d: IronstockData, frame: pd.DataFrame, R: dict[str, float], out: list[str]) -> None:
    prods = d.products
    cols = {
        "existing_stock": {p: prods[p].existing_stock for p in prods},
        "bought": {p: R[p] - prods[p].existing_stock for p in prods},
        "lots": {p: (R[p] - prods[p].existing_stock) / prods[p].lot_size if prods[p].lot_size else None
                 for p in prods},
        "cover_periods": {p: R[p] / prods[p].baseline_demand if prods[p].baseline_demand > 0 else None
                          for p in prods},
        "volume": {p: prods[p].unit_volume * R[p] for p in prods},
        "purchase_cost": {p: prods[p].unit_cost * (R[p] - prods[p].existing_stock) for p in prods},
        "holding_cost": {p: prods[p].holding_cost * R[p] for p in prods},
        "writeoff_units": {p: max(0.0, R[p] - d.writeoff_threshold(p)) if d.writes_off(p) else 0.0 for p in prods},
        "writeoff_cost": {p: d.writeoff(p, R[p]) for p in prods},
    }
    for column, expected in cols.items():
        _same(frame, column, "product", expected, out, "reserve")


def _reservation_columns(d: IronstockData, frame: pd.DataFrame, c: dict[str, float], out: list[str]) -> None:
    res = d.reservations
    for ident, product in zip(frame["reservation"], frame["product"]):
        if ident in res and product != res[ident].product:
            out.append(f"reservations.csv {ident}: product {product}, the instance says {res[ident].product}")
    cols = {
        "max_capacity": {k: res[k].max_capacity for k in res},
        "ramp_up_periods": {k: float(res[k].ramp_up_periods) for k in res},
        "fee_rate": {k: res[k].fee for k in res},
        "fee": {k: res[k].fee * c[k] for k in res},
    }
    for column, expected in cols.items():
        _same(frame, column, "reservation", expected, out, "reservations")


def _shortage_columns(d: IronstockData, frame: pd.DataFrame, short: dict, out: list[str]) -> None:
    keyed = frame.assign(pair=list(zip(frame["scenario"], frame["product"])))
    total = {k: sum(v) for k, v in d.demand.items()}
    prob = {k: d.scenarios[k[0]].probability for k in d.demand}
    pen = {k: d.products[k[1]].shortage_penalty for k in d.demand}
    cols = {
        "probability": prob,
        "demand": total,
        "fill_rate": {k: 1 - short[k] / total[k] for k in d.demand},
        "shortage_penalty": pen,
        "cost": {k: pen[k] * short[k] for k in d.demand},
        "expected_cost": {k: prob[k] * pen[k] * short[k] for k in d.demand},
    }
    for column, expected in cols.items():
        _same(keyed, column, "pair", expected, out, "shortage")


def _binding_rows(d: IronstockData, settings, R, c, budget_used, storage_used) -> dict:
    """(constraint, id) -> limit, value, slack, binding, as the plan gives them."""
    rows = {}

    def add(constraint, ident, limit, value):
        slack = limit - value if constraint in ("budget", "storage", "max_capacity") else value - limit
        rows[(constraint, ident)] = {"limit": limit, "value": value, "slack": slack,
                                     "binding": abs(slack) <= tol(limit, value)}

    if settings.budget is not None:
        add("budget", "", settings.budget, budget_used)
    if settings.storage_capacity is not None:
        add("storage", "", settings.storage_capacity, storage_used)
    for p, prod in d.products.items():
        cover = prod.min_cover_periods * prod.baseline_demand
        add("min_cover" if cover > prod.existing_stock else "existing_stock", p, d.least_reserve(p), R[p])
    for k, r in d.reservations.items():
        if r.max_capacity > 0:
            add("max_capacity", k, r.max_capacity, c[k])
    return rows


def _binding(frame: pd.DataFrame, rows: dict, kpis: dict, out: list[str]) -> None:
    """binding.csv: one row per limit with the recomputed figures; a binding claim must hold;
    budget and storage carry the summary's marginal value, which is 0 where the limit has slack."""
    frame = numeric(frame, "limit", "value", "slack", "marginal_value")
    seen = set()
    for r in frame.itertuples():
        key = (r.constraint, "" if isinstance(r.id, float) or r.id is None else str(r.id))
        if key not in rows:
            out.append(f"binding.csv row {key[0]}:{key[1]} is not a limit of this instance")
            continue
        seen.add(key)
        want = rows[key]
        for column in ("limit", "value", "slack"):
            got = getattr(r, column)
            if not close(float(got), want[column], tol(want["limit"], want["value"])):
                out.append(f"binding.csv {key[0]}:{key[1]}: {column} {got}, recomputed {want[column]:,.6f}")
        claimed = str(r.binding).strip().lower() in ("true", "1")
        if claimed != want["binding"]:
            out.append(f"binding.csv {key[0]}:{key[1]}: binding is {r.binding} but the slack is {want['slack']:,.6f}")
        if key[0] in ("budget", "storage"):
            mv = kpis.get(f"{key[0]}_marginal_value")
            got = r.marginal_value
            if mv is not None and not (math.isfinite(got) and close(float(got), float(mv), tol(mv))):
                out.append(f"kpi {key[0]}_marginal_value {mv} but binding.csv {key[0]} has marginal_value {got}")
            if mv is not None and not want["binding"] and abs(float(mv)) > tol(0):
                out.append(f"kpi {key[0]}_marginal_value is {mv} but the {key[0]} has slack "
                           f"{want['slack']:,.6f} (a limit with slack has marginal value 0)")
    for key in rows:
        if key not in seen:
            out.append(f"binding.csv lacks {key[0]}:{key[1]}" if key[1] else f"binding.csv lacks {key[0]}")


def _decomposition(summary: dict, kpis: dict, out: list[str]) -> None:
    """The decomposed method's bounds: lower ≤ upper = objective, gap = (upper − lower) / upper."""
    dec = kpis.get("decomposition")
    method = kpis.get("method")
    if method is not None and method not in ("monolithic", "decomposed"):
        out.append(f"kpi method '{method}' is neither monolithic nor decomposed")
    if (method == "decomposed") != (dec is not None):
        out.append("kpi decomposition is given exactly when method is decomposed")
    if dec is None:
        return
    try:
        lower, upper, gap = float(dec["lower_bound"]), float(dec["upper_bound"]), float(dec["gap"])
    except (KeyError, TypeError, ValueError):
        out.append("kpi decomposition lacks lower_bound, upper_bound or gap")
        return
    objective = float(summary["objective"])
    if not close(upper, objective, tol(objective)):
        out.append(f"kpi decomposition upper_bound {upper:,.6f} is not the objective {objective:,.6f}")
    if lower > upper + tol(upper):
        out.append(f"kpi decomposition lower_bound {lower:,.6f} above the upper bound {upper:,.6f}")
    if not close(gap, max(0.0, (upper - lower) / max(abs(upper), 1e-9)), 1e-9):
        out.append(f"kpi decomposition gap {gap:g} is not (upper − lower) / upper")


def _shortfall(inst: Instance, frame: pd.DataFrame, out: list[str]) -> dict[str, float]:
    """shortfall.csv rows (elastic mode): each must be a min_cover deficit of a known product."""
    frame = numeric(frame, "required", "achieved", "short")
    d = IronstockData(inst)
    found: dict[str, float] = {}
    for r in frame.itertuples():
        if r.rule != "min_cover" or r.product not in d.products:
            out.append(f"shortfall.csv row {r.rule}/{r.product} is not a soft rule of this instance")
            continue
        need = d.floor(r.product)
        if not close(float(r.required), need, tol(need)):
            out.append(f"shortfall.csv {r.product}: required {r.required}, the floor is {need:,.6f}")
        if not close(float(r.short), float(r.required) - float(r.achieved), tol(need)) or r.short <= 0:
            out.append(f"shortfall.csv {r.product}: short {r.short} is not required − achieved > 0")
        found[r.product] = float(r.achieved)
    return found


def _reserve(d: IronstockData, frame: pd.DataFrame, out: list[str],
             floor_short: dict[str, float] | None = None) -> dict[str, float] | None:
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
        if p in (floor_short or {}):
            if not close(floor_short[p], R[p], slack):
                out.append(f"{p}: shortfall.csv says the reserve reaches {floor_short[p]:,.4f} of the floor "
                           f"{cover:,.4f}, the plan has {R[p]:,.4f}: not a real deficit")
        elif R[p] < cover - slack:
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
    frame = numeric(frame, "period", "demand", "resupply", "resupply_capacity", "use", "shortage", "stock")
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
            if not close(row.demand, dem[t], slack):
                out.append(f"{where}: demand {row.demand:,.4f}, the instance says {dem[t]:,.4f}")
            if not close(row.resupply_capacity, cap[t], slack):
                out.append(f"{where}: resupply_capacity {row.resupply_capacity:,.4f}, recomputed {cap[t]:,.4f}")
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
