"""Independent check of an allocation plan from its output tables (no Pyomo).

Re-verifies every rule (whole packs, central and institution stocks never negative,
use ≤ need, region capacity, anti-hoarding cap, care/cure parity), recomputes the fill
rates, the weighted shortage and the transport cost from `deliveries` and `usage`, every
column of `usage`, the KPIs of the summary, the leximin levels (every pair within one pack
of its level, the pair counts, and the unused part of each limit said to hold a level),
and re-runs the baseline rule to confirm the baseline figures. A result table that the
summary lists, or that every allocation result has, is required.
"""

from __future__ import annotations

import math

import pandas as pd

from stockpile.checking import close, numeric, require_tables, tol
from stockpile.instance import Instance

from .data import AllocationData, baseline

NEEDED = {
    "deliveries": ["period", "institution", "product", "packs", "units"],
    "usage": ["period", "institution", "product", "need", "delivery", "use", "shortage", "stock"],
    "fill": ["institution", "product", "need", "use", "shortage", "fill_rate", "sector", "type", "region",
             "baseline_use"],
    "central": ["product", "period", "stock"],
    "transport": ["region", "period", "units", "cost"],
    "sectors": ["sector", "product", "fill_rate"],
    "types": ["type", "product", "fill_rate"],
    "regions": ["region", "product", "fill_rate"],
    "comparison": ["plan", "min_fill_rate", "weighted_shortage", "fill_rate_cure", "fill_rate_care",
                   "transport_cost"],
    "steps": ["step", "status"],
    "levels": ["level", "fill_rate", "pairs", "proof", "limit", "product", "region", "period", "slack"],
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
    for listed in summary.get("tables") or []:
        name = str(listed).removesuffix(".csv")
        if name not in tables:
            out.append(f"missing result table {name}.csv (listed in summary.json)")
    if out:
        return out
    d = AllocationData(inst)
    kpis = summary.get("kpis") or {}
    out += _check_plan(d, tables, kpis, summary)
    out += _check_kpis(d, tables, kpis)
    out += _check_levels(d, tables, kpis)
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
    usage_stock: dict[tuple[str, str, int], float] = {}
    us = numeric(tables["usage"], "need", "delivery", "use", "shortage", "stock")
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
        if not close(r.shortage, need - r.use, tol(need)):
            out.append(f"usage {key}: shortage {r.shortage:g} but need − use is {need - r.use:g}")
        u[key] = float(r.use)
        usage_stock[key] = float(r.stock)

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
            rep = usage_stock.get((key[0], key[1], t))
            if rep is not None and not close(rep, stock, tol(scale)):
                out.append(f"usage ({key[0]}, {key[1]}, {t}): stock {rep:g}, recomputed {stock:,.4f}")
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


def _check_kpis(d: AllocationData, tables, kpis: dict) -> list[str]:
    """The KPIs not covered by the plan check, recomputed from the (checked) tables."""
    out = []
    fill = numeric(tables["fill"], "need", "use")
    need, used = float(fill["need"].sum()), float(fill["use"].sum())
    delivered = float(numeric(tables["deliveries"], "units")["units"].sum())
    comp = {r["plan"]: r for r in tables["comparison"].to_dict("records")}
    base = baseline(d)

    def sector_rate(sector):
        keys = [k for k in d.pairs if d.institutions[k[0]].sector == sector]
        n = sum(d.total_need[k] for k in keys)
        return sum(base.use_of(k) for k in keys) / n if n > 0 else None

    expect = {
        "fill_rate": (used / need if need > 0 else None, 1.0),
        "units_needed": (need, need),
        "units_used": (used, need),
        "units_delivered": (delivered, delivered),
        "baseline_fill_rate_cure": (sector_rate("cure"), 1.0),
        "baseline_fill_rate_care": (sector_rate("care"), 1.0),
        "efficient_weighted_shortage": (_num(comp.get("efficient", {}).get("weighted_shortage")), need),
    }
    for name, (value, mag) in expect.items():
        if name not in kpis:
            out.append(f"kpis lack '{name}'")
        elif not _same(kpis[name], value, mag):
            out.append(f"kpi {name}: summary {kpis[name]}, recomputed {value}")
    if kpis.get("fairness") != d.settings.fairness:
        out.append(f"kpi fairness {kpis.get('fairness')!r} but the instance says {d.settings.fairness!r}")
    if kpis.get("pack_method") != d.settings.pack_method:
        out.append(f"kpi pack_method {kpis.get('pack_method')!r} but the instance says {d.settings.pack_method!r}")
    return out


def _check_levels(d: AllocationData, tables, kpis: dict) -> list[str]:
    """Leximin levels: numbering, pair counts, every pair within one pack of its level, the limits' slack."""
    out: list[str] = []
    lv = numeric(tables["levels"], "level", "fill_rate", "pairs", "slack")
    fill = numeric(tables["fill"], "fill_rate", "level", "level_fill_rate") if "level" in tables["fill"] else None
    if d.settings.fairness != "leximin":
        if len(lv):
            out.append(f"levels.csv has rows but fairness is {d.settings.fairness}")
        if kpis.get("levels"):
            out.append(f"kpi levels is set but fairness is {d.settings.fairness}")
        return out
    if fill is None:
        return ["fill.csv lacks the column level (fairness leximin)"]
    value: dict[int, float] = {}
    pairs: dict[int, int] = {}
    for r in lv.itertuples(index=False):
        if not (r.level == r.level) or not float(r.level).is_integer():
            out.append(f"levels.csv: level {r.level} is not a whole number")
            continue
        n = int(r.level)
        if n in value and (not close(value[n], r.fill_rate, 1e-12) or pairs[n] != r.pairs):
            out.append(f"levels.csv: level {n} has two different fill rates or pair counts")
        value[n], pairs[n] = float(r.fill_rate), int(r.pairs)
    if d.pairs and sorted(value) != list(range(1, len(value) + 1)):
        out.append(f"levels.csv: levels {sorted(value)} are not numbered 1..{len(value)}")
    ordered = [value[n] for n in sorted(value)]
    if any(b < a - 1e-9 for a, b in zip(ordered, ordered[1:])):
        out.append("levels.csv: the level fill rates are not increasing")
    counted: dict[int, int] = {}
    for r in fill.itertuples(index=False):
        key = (r.institution, r.product)
        if key not in d.total_need:
            continue
        n = int(r.level) if r.level == r.level else None
        if n not in value:
            out.append(f"fill {key}: level {r.level} is not in levels.csv")
            continue
        counted[n] = counted.get(n, 0) + 1
        if not close(r.level_fill_rate, value[n], 1e-9):
            out.append(f"fill {key}: level_fill_rate {r.level_fill_rate} but level {n} is {value[n]}")
        if d.settings.pack_method == "exact":
            # within one pack of the level (the floors may have been lowered: the steps table says so)
            slack = d.pack[key[1]] / d.total_need[key] + 1e-6
            lowered = "steps" in tables and tables["steps"]["note"].astype(str).str.contains("floors").any()
            if r.fill_rate < value[n] - slack and not lowered:
                out.append(f"fill {key}: fill rate {r.fill_rate:.6f} is more than one pack below its level "
                           f"{value[n]:.6f}")
    for n, count in pairs.items():
        if counted.get(n, 0) != count:
            out.append(f"levels.csv: level {n} holds {count} pairs but fill.csv puts {counted.get(n, 0)} there")
    # the unused part of each limit said to hold a level, from the checked tables
    central = {(r.product, int(r.period)): r.stock for r in numeric(tables["central"], "period", "stock").itertuples()}
    transport = {(r.region, int(r.period)): (r.capacity, r.units)
                 for r in numeric(tables["transport"], "period", "capacity", "units").itertuples()}
    sectors = {(r.sector, r.product): r.fill_rate for r in numeric(tables["sectors"], "fill_rate").itertuples()}
    for r in lv.itertuples(index=False):
        expected = None
        if r.limit == "central_supply":
            expected = central.get((r.product, int(float(r.period))))
        elif r.limit == "region_capacity":
            cap, units = transport.get((r.region, int(float(r.period))), (None, None))
            expected = None if cap is None or cap != cap else cap - units
        elif r.limit == "parity" and d.settings.care_cure_parity is not None:
            care, cure = sectors.get(("care", r.product)), sectors.get(("cure", r.product))
            expected = None if care is None or cure is None else care - d.settings.care_cure_parity * cure
        elif r.limit not in ("delivery_cap", "need_met", "no_delivery_in_time", "earlier_levels", ""):
            out.append(f"levels.csv: unknown limit {r.limit!r}")
            continue
        if expected is None:
            if r.slack == r.slack:
                out.append(f"levels.csv: level {r.level} {r.limit} has slack {r.slack} where none is defined")
        elif not (r.slack == r.slack) or not close(r.slack, expected, tol(expected)):
            out.append(f"levels.csv: level {r.level} {r.limit} {r.product}{r.region} {r.period}: slack {r.slack}, "
                       f"recomputed {expected:g}")
    got = kpis.get("levels")
    if not isinstance(got, list) or len(got) != len(value):
        out.append(f"kpi levels should list {len(value)} levels")
    else:
        for item in got:
            n = item.get("level") if isinstance(item, dict) else None
            if n not in value or not _same(item.get("fill_rate"), value[n]) or item.get("pairs") != pairs[n]:
                out.append(f"kpi levels: {item} differs from levels.csv")
    ex = kpis.get("explain") or {}
    if value and (ex.get("levels") != len(value) or not _same(ex.get("lowest_fill_rate"), value[1])):
        out.append("kpi explain: levels / lowest_fill_rate differ from levels.csv")
    if value and "lp_min_fill_rate" in kpis and not _same(kpis["lp_min_fill_rate"], value[1]):
        out.append(f"kpi lp_min_fill_rate {kpis['lp_min_fill_rate']} but level 1 is {value[1]}")
    return out
