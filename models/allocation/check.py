"""Independent check of an allocation plan from its output tables (no Pyomo).

Re-verifies every rule (whole packs, central and institution stocks never negative,
use ≤ need, region capacity, anti-hoarding cap, care/cure parity), recomputes the fill
rates, the weighted shortage and the transport cost from `deliveries` and `usage`, and
re-runs the baseline rule to confirm the baseline figures.
"""

from __future__ import annotations

import math

import pandas as pd

from optimizer.checking import close, numeric, require_tables, tol
from optimizer.instance import Instance

from .data import AllocationData, baseline

NEEDED = {
    "deliveries": ["period", "institution", "product", "packs", "units"],
    "usage": ["period", "institution", "product", "need", "delivery", "use"],
    "fill": ["institution", "product", "need", "use", "shortage", "fill_rate", "sector", "type", "region",
             "baseline_use"],
    "central": ["product", "period", "stock"],
    "transport": ["region", "period", "units", "cost"],
    "sectors": ["sector", "product", "fill_rate"],
    "types": ["type", "product", "fill_rate"],
    "regions": ["region", "product", "fill_rate"],
    "comparison": ["plan", "min_fill_rate", "weighted_shortage", "fill_rate_cure", "fill_rate_care",
                   "transport_cost"],
}


def _num(value) -> float | None:
    if value is None or value == "":
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def _same(reported, expected, magnitude: float = 1.0) -> bool:
    """Equal within tolerance; None (not defined) only matches None."""
    reported, expected = _num(reported), (None if expected is None else float(expected))
    if reported is None or expected is None:
        return reported is None and expected is None
    return close(reported, expected, tol(magnitude, expected))


def check(inst: Instance, summary: dict, tables: dict[str, pd.DataFrame]) -> list[str]:
    out = require_tables(tables, NEEDED)
    if out:
        return out
    d = AllocationData(inst)
    kpis = summary.get("kpis") or {}
    out += _check_plan(d, tables, kpis, summary)
    return out[:200]


def _period(value, d: AllocationData) -> int | None:
    v = _num(value)
    if v is None or not float(v).is_integer() or not 0 <= v < d.T:
        return None
    return int(v)


def _check_plan(d: AllocationData, tables, kpis: dict, summary: dict) -> list[str]:
    out: list[str] = []
    T = d.T

    # -- deliveries: known keys, whole packs, units = packs × pack_size ----------------------
    x: dict[tuple[str, str, int], float] = {}
    dl = numeric(tables["deliveries"], "packs", "units")
    for r in dl.itertuples(index=False):
        t = _period(r.period, d)
        key = (r.institution, r.product, t)
        if r.institution not in d.institutions or r.product not in d.products or t is None:
            out.append(f"delivery ({r.period}, {r.institution}, {r.product}) names no institution/product/period")
            continue
        if key in x:
            out.append(f"delivery {key} listed twice")
        packs, units = r.packs, r.units
        if not (packs >= 0 and abs(packs - round(packs)) <= 1e-9):
            out.append(f"delivery {key}: {packs} packs is not a whole non-negative number")
        if not close(units, packs * d.pack[r.product], tol(units)):
            out.append(f"delivery {key}: {units:g} units != {packs:g} packs × pack_size {d.pack[r.product]:g}")
        x[key] = float(units)

    # -- central stock never negative ------------------------------------------------------------
    sent: dict[tuple[str, int], float] = {}
    for (i, p, t), q in x.items():
        sent[(p, t)] = sent.get((p, t), 0.0) + q
    central_reported = {(r.product, _period(r.period, d)): r.stock
                        for r in numeric(tables["central"], "stock").itertuples(index=False)}
    for p in d.products:
        stock, scale = 0.0, max(d.cumulative_supply[p][-1], 1.0)
        for t in range(T):
            stock += d.supply[p][t] - sent.get((p, t), 0.0)
            if stock < -tol(scale):
                out.append(f"central stock of {p} is {stock:,.4f} after period {t}: more delivered than supplied")
            rep = central_reported.get((p, t))
            if rep is None or not close(rep, stock, tol(scale)):
                out.append(f"central table: stock of {p} after period {t} is {rep}, recomputed {stock:,.4f}")

    # -- usage: use within need, deliveries as in the deliveries table --------------------------
    u: dict[tuple[str, str, int], float] = {}
    us = numeric(tables["usage"], "need", "delivery", "use")
    for r in us.itertuples(index=False):
        t = _period(r.period, d)
        if r.institution not in d.institutions or r.product not in d.products or t is None:
            out.append(f"usage ({r.period}, {r.institution}, {r.product}) names no institution/product/period")
            continue
        key = (r.institution, r.product, t)
        if key in u:
            out.append(f"usage {key} listed twice")
        row = d.need.get((r.institution, r.product))
        need = row[t] if row else 0.0
        if not close(r.need, need, tol(need)):
            out.append(f"usage {key}: need {r.need:g} but the instance says {need:g}")
        if not (r.use >= -tol(need)) or r.use > need + tol(need):
            out.append(f"usage {key}: use {r.use:g} outside [0, need {need:g}]")
        if not close(r.delivery, x.get(key, 0.0), tol(r.delivery)):
            out.append(f"usage {key}: delivery {r.delivery:g} but deliveries.csv has {x.get(key, 0.0):g}")
        u[key] = float(r.use)

    # -- institution stock never negative -----------------------------------------------------
    touched = {(i, p) for (i, p, _) in x} | {(i, p) for (i, p, _) in u}
    by_pair_x: dict[tuple[str, str], dict[int, float]] = {}
    for (i, p, t), q in x.items():
        by_pair_x.setdefault((i, p), {})[t] = q
    by_pair_u: dict[tuple[str, str], dict[int, float]] = {}
    for (i, p, t), q in u.items():
        by_pair_u.setdefault((i, p), {})[t] = q
    for key in touched:
        stock = d.stock0.get(key, 0.0)
        xs, uu = by_pair_x.get(key, {}), by_pair_u.get(key, {})
        scale = stock + sum(xs.values())
        for t in range(T):
            stock += xs.get(t, 0.0) - uu.get(t, 0.0)
            if stock < -tol(scale):
                out.append(f"{key[0]} uses more {key[1]} than it holds in period {t} (stock {stock:,.4f})")
                break

    # -- region capacity, anti-hoarding cap ------------------------------------------------------
    into: dict[tuple[str, int], float] = {}
    for (i, p, t), q in x.items():
        r = d.region_of(i)
        into[(r, t)] = into.get((r, t), 0.0) + q
    for (r, t), q in into.items():
        cap = d.capacity(r)
        if cap is not None and q > cap + tol(cap):
            out.append(f"region {r} receives {q:,.4f} units in period {t}, above its capacity {cap:,.4f}")
    k = d.settings.max_delivery_periods
    if k is not None:
        for (i, p, t), q in x.items():
            row = d.need.get((i, p))
            cap = k * (row[t] if row else 0.0)
            if q > cap + tol(cap):
                out.append(f"delivery ({t}, {i}, {p}) of {q:,.4f} units exceeds max_delivery_periods "
                           f"{k:g} × need {cap / k:g}")

    # -- fill rates per pair and group -------------------------------------------------------------
    use_pair = {key: sum(by_pair_u.get(key, {}).values()) for key in d.pairs}
    fill = numeric(tables["fill"], "need", "use", "shortage", "fill_rate", "baseline_use")
    seen = set()
    for r in fill.itertuples(index=False):
        key = (r.institution, r.product)
        if key not in d.total_need:
            out.append(f"fill row {key} has no positive need in the instance")
            continue
        seen.add(key)
        need, used = d.total_need[key], use_pair[key]
        rec = d.institutions[key[0]]
        if not (close(r.need, need, tol(need)) and close(r.use, used, tol(need))
                and close(r.shortage, need - used, tol(need)) and close(r.fill_rate, used / need)):
            out.append(f"fill {key}: need/use/shortage/fill_rate {r.need:g}/{r.use:g}/{r.shortage:g}/"
                       f"{r.fill_rate:g}, recomputed {need:g}/{used:g}/{need - used:g}/{used / need:g}")
        if (r.sector, r.type, r.region) != (rec.sector, rec.type, rec.region):
            out.append(f"fill {key}: sector/type/region {r.sector}/{r.type}/{r.region} differ from the instance")
    for key in d.pairs:
        if key not in seen:
            out.append(f"fill.csv lacks the pair {key}")
            break

    # parity (per product over the horizon; exempt where one sector does not need it)
    group_need: dict[tuple[str, str, str], float] = {}
    group_use: dict[tuple[str, str, str], float] = {}
    for (i, p), need in d.total_need.items():
        rec = d.institutions[i]
        for col, label in (("sector", rec.sector), ("type", rec.type), ("region", rec.region)):
            for prod in (p, "*"):
                g = (col, label, prod)
                group_need[g] = group_need.get(g, 0.0) + need
                group_use[g] = group_use.get(g, 0.0) + use_pair[(i, p)]

    def rate(col, label, prod="*"):
        n = group_need.get((col, label, prod), 0.0)
        return group_use[(col, label, prod)] / n if n > 0 else None

    kp = d.settings.care_cure_parity
    if kp is not None:
        for p in d.parity_products():
            care, cure = rate("sector", "care", p), rate("sector", "cure", p)
            if care < kp * cure - 1e-6:
                out.append(f"parity: care fill rate of {p} {care:.6f} < {kp:g} × cure fill rate {cure:.6f}")

    for table, col in (("sectors", "sector"), ("types", "type"), ("regions", "region")):
        frame = numeric(tables[table], "fill_rate")
        listed = set()
        for r in frame.itertuples(index=False):
            label, prod = getattr(r, col), r.product
            listed.add((label, prod))
            if (col, label, prod) not in group_need:
                out.append(f"{table}.csv row ({label}, {prod}) matches no institution with need")
            elif not _same(r.fill_rate, rate(col, label, prod)):
                out.append(f"{table}.csv: fill rate of {label}/{prod} is {r.fill_rate}, "
                           f"recomputed {rate(col, label, prod)}")
        missing = [g for g in group_need if g[0] == col and (g[1], g[2]) not in listed]
        if missing:
            out.append(f"{table}.csv lacks ({missing[0][1]}, {missing[0][2]})")

    # -- objective and KPIs ----------------------------------------------------------------------
    rates = [use_pair[k] / d.total_need[k] for k in d.pairs]
    min_fill = min(rates) if rates else None
    weighted = sum(d.institutions[i].priority * (n - use_pair[(i, p)]) for (i, p), n in d.total_need.items())
    cost = sum(d.cost(i) * q for (i, p, t), q in x.items())
    total_need = sum(d.total_need.values())
    if not _same(summary.get("objective"), weighted, weighted):
        out.append(f"objective {summary.get('objective')} but the tables give weighted shortage {weighted:,.6f}")
    terms = summary.get("objective_terms") or {}
    if "weighted_shortage" not in terms:
        out.append("objective_terms lacks 'weighted_shortage'")
    expect = {
        "min_fill_rate": (min_fill, 1.0),
        "weighted_shortage": (weighted, weighted),
        "transport_cost": (cost, cost),
        "fill_rate_cure": (rate("sector", "cure"), 1.0),
        "fill_rate_care": (rate("sector", "care"), 1.0),
    }
    for name, (value, mag) in expect.items():
        if name not in kpis:
            out.append(f"kpis lack '{name}'")
        elif not _same(kpis[name], value, mag):
            out.append(f"kpi {name}: summary {kpis[name]}, recomputed {value}")
    for name, col in (("fill_rate_by_region", "region"), ("fill_rate_by_type", "type")):
        got = kpis.get(name)
        labels = {g[1] for g in group_need if g[0] == col and g[2] == "*"}
        if not isinstance(got, dict) or set(got) != labels:
            out.append(f"kpi {name} should list {sorted(labels)}")
            continue
        for label in labels:
            if not _same(got[label], rate(col, label)):
                out.append(f"kpi {name}[{label}]: {got[label]}, recomputed {rate(col, label)}")

    # transport table
    reported = {}
    for r in numeric(tables["transport"], "units", "cost").itertuples(index=False):
        reported[(r.region, _period(r.period, d))] = (r.units, r.cost)
    for (r, t), q in into.items():
        got = reported.get((r, t))
        c = d.regions[r].cost_per_unit if r in d.regions else 0.0
        if got is None or not close(got[0], q, tol(q)) or not close(got[1], q * c, tol(q * c)):
            out.append(f"transport.csv: region {r} period {t} should carry {q:,.4f} units costing {q * c:,.4f}")
    for key, (units, _) in reported.items():
        if key not in into and abs(units) > tol(0):
            out.append(f"transport.csv: region {key[0]} period {key[1]} lists {units:g} units but none are delivered")

    # -- baseline, comparison, price of fairness -------------------------------------------------
    base = baseline(d)
    b_rates = [base.use_of(k) / d.total_need[k] for k in d.pairs]
    b_min = min(b_rates) if b_rates else None
    b_w = sum(d.institutions[i].priority * (n - base.use_of((i, p))) for (i, p), n in d.total_need.items())
    b_cost = sum(d.cost(i) * q for (i, p, t), q in base.deliveries.items())
    if not _same(kpis.get("baseline_min_fill_rate"), b_min):
        out.append(f"kpi baseline_min_fill_rate {kpis.get('baseline_min_fill_rate')}, the rule gives {b_min}")
    if not _same(kpis.get("baseline_weighted_shortage"), b_w, b_w):
        out.append(f"kpi baseline_weighted_shortage {kpis.get('baseline_weighted_shortage')}, the rule gives {b_w}")
    for r in fill.itertuples(index=False):
        key = (r.institution, r.product)
        if key in d.total_need and not close(r.baseline_use, base.use_of(key), tol(d.total_need[key])):
            out.append(f"fill {key}: baseline_use {r.baseline_use:g}, the rule gives {base.use_of(key):g}")
            break

    def sector_rate(use_of, sector):
        keys = [k for k in d.pairs if d.institutions[k[0]].sector == sector]
        n = sum(d.total_need[k] for k in keys)
        return sum(use_of(k) for k in keys) / n if n > 0 else None

    comp = {r["plan"]: r for r in tables["comparison"].to_dict("records")}
    missing = [p for p in ("optimised", "baseline", "efficient") if p not in comp]
    if missing:
        out.append(f"comparison.csv lacks the row(s) {', '.join(missing)}")
        return out
    rows = {
        "optimised": (min_fill, weighted, rate("sector", "cure"), rate("sector", "care"), cost),
        "baseline": (b_min, b_w, sector_rate(base.use_of, "cure"), sector_rate(base.use_of, "care"), b_cost),
    }
    cols = ("min_fill_rate", "weighted_shortage", "fill_rate_cure", "fill_rate_care", "transport_cost")
    for plan, values in rows.items():
        for col, value in zip(cols, values):
            if not _same(comp[plan][col], value, max(total_need, abs(value or 0))):
                out.append(f"comparison {plan} {col}: {comp[plan][col]}, recomputed {value}")
    eff_w = _num(comp["efficient"]["weighted_shortage"])
    price = _num(kpis.get("price_of_fairness"))
    if eff_w is None or price is None:
        out.append("the efficient plan's weighted shortage or price_of_fairness is missing")
        return out
    if d.settings.fairness == "none":
        if not close(price, 0.0) or not close(eff_w, weighted, tol(weighted)):
            out.append(f"fairness none: price_of_fairness must be 0 and the efficient plan the optimised one "
                       f"(got {price:g}, efficient {eff_w:g} vs {weighted:g})")
    else:
        if not close(price, weighted - eff_w, tol(weighted)):
            out.append(f"price_of_fairness {price:g} != weighted shortage {weighted:g} − efficient {eff_w:g}")
        steps = tables.get("steps")
        gaps = [_num(g) or 0.0 for g in steps["mip_gap"]] if steps is not None and "mip_gap" in steps else []
        slack = tol(weighted) + max([summary.get("mip_gap") or 0.0, *gaps]) * max(abs(weighted), abs(eff_w))
        if eff_w > weighted + slack:
            out.append(f"the efficient plan's weighted shortage {eff_w:g} exceeds the fair plan's {weighted:g}: "
                       "it only minimises shortage, so it cannot be worse")
    return out
