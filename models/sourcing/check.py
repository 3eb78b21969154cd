"""Independent check of a sourcing solution from its output tables (no Pyomo)."""

from __future__ import annotations

import math
from collections import defaultdict

import pandas as pd

from stockpile.checking import close, compare_objective, numeric, require_tables, tol
from stockpile.instance import Instance

from .data import SourcingData, tier_of


RESULT_COLUMNS = {
    "awards": ["supplier", "product", "region", "quantity", "share", "unit_price", "tier_min_quantity", "cost",
               "award_cost", "surge_capacity"],
    "products": ["product", "demand", "bought", "unmet", "unmet_cost", "suppliers", "purchase_cost",
                 "average_unit_price"],
    "suppliers": ["supplier", "region", "awarded", "products", "quantity", "capacity", "utilisation",
                  "purchase_cost", "award_cost", "fixed_cost"],
    "regions": ["product", "region", "quantity", "share"],
    "scenarios": ["scenario", "probability", "product", "undelivered", "surge", "lost", "lost_share", "loss_value"],
    "surge": ["scenario", "supplier", "product", "surge", "unit_price", "cost"],
}


def check(inst: Instance, summary: dict, tables: dict[str, pd.DataFrame]) -> list[str]:
    out = require_tables(tables, RESULT_COLUMNS)
    if out:
        return out
    d = SourcingData(inst)
    awards = numeric(tables["awards"], "quantity", "unit_price")
    unmet_rows = numeric(tables["products"], "unmet")
    surge = numeric(tables["surge"], "surge")

    x: dict[tuple[str, str], float] = {}
    reported: dict[tuple[str, str], float] = {}  # unit_price in the table
    for r in awards.itertuples():
        key = (r.supplier, r.product)
        if key not in d.offers:
            out.append(f"award {key} has no offer")
            continue
        if key in x:
            out.append(f"award {key} listed twice")
        if not math.isfinite(r.quantity) or not math.isfinite(r.unit_price):
            out.append(f"award {key}: quantity and unit_price must be numbers")
            continue
        if not r.quantity >= -tol(0):
            out.append(f"award {key} has negative quantity {r.quantity}")
        x[key] = max(0.0, float(r.quantity))
        reported[key] = float(r.unit_price)
    unmet = {}
    for r in unmet_rows.itertuples():
        if not math.isfinite(r.unmet):
            out.append(f"{r.product}: unmet must be a number")
            continue
        unmet[r.product] = float(r.unmet)
    by_product: dict[str, dict[str, float]] = defaultdict(dict)  # product -> supplier -> quantity
    by_supplier: dict[str, float] = defaultdict(float)
    for (s, p), q in x.items():
        by_product[p][s] = q
        by_supplier[s] += q

    # demand balance, unmet only where a shortage penalty is set
    for p, prod in d.products.items():
        mine = by_product.get(p, {})
        bought = sum(mine.values())
        u = unmet.get(p, 0.0)
        if prod.shortage_penalty is None and u > tol(prod.demand):
            out.append(f"{p}: unmet {u:g} but the product has no shortage_penalty")
        if u < -tol(prod.demand):
            out.append(f"{p}: negative unmet {u:g}")
        if not close(bought + u, prod.demand, tol(prod.demand)):
            out.append(f"{p}: bought {bought:,.4f} + unmet {u:,.4f} != demand {prod.demand:,.4f}")
        n = len(mine)  # awards with zero quantity count too
        if n < prod.min_suppliers:
            out.append(f"{p}: {n} awards, fewer than min_suppliers {prod.min_suppliers}")
        if prod.max_suppliers is not None and n > prod.max_suppliers:
            out.append(f"{p}: {n} awards, more than max_suppliers {prod.max_suppliers}")
        for r in d.region_rows(p):
            flow = sum(q for s, q in mine.items() if d.suppliers[s].region == r.region)
            if flow > r.max_share * prod.demand + tol(prod.demand):
                out.append(f"{p}: region {r.region} gets {flow:,.4f}, above max_share {r.max_share:g} of demand")
            if flow < r.min_share * prod.demand - tol(prod.demand):
                out.append(f"{p}: region {r.region} gets {flow:,.4f}, below min_share {r.min_share:g} of demand")

    # per award: capacity, minimum, share cap, tier price paid
    purchase = 0.0
    for key, q in x.items():
        o, prod = d.offers[key], d.products[key[1]]
        slack = tol(q, prod.demand)
        if o.capacity is not None and q > o.capacity + slack:
            out.append(f"award {key}: {q:,.4f} above offer capacity {o.capacity:,.4f}")
        if q < d.lower(key) - slack:
            out.append(f"award {key}: {q:,.4f} below its minimum {d.lower(key):,.4f}")
        if q > prod.max_supplier_share * prod.demand + slack:
            out.append(f"award {key}: share {q / prod.demand:.6f} above max_supplier_share")
        price = tier_of(d.tiers[key], q).unit_price
        if not close(price, reported[key]):
            out.append(f"award {key}: quantity {q:,.4f} pays {price:g}/unit under the tiers, "
                       f"table says {reported[key]:g}")
        purchase += price * q
    for s, sup in d.suppliers.items():
        total = by_supplier.get(s, 0.0)
        if sup.capacity is not None and total > sup.capacity + tol(total):
            out.append(f"supplier {s}: {total:,.4f} units above its capacity {sup.capacity:,.4f}")

    # scenarios: surge within the delivered fraction of awarded surge capacity; lost units
    e: dict[tuple[str, str, str], float] = {}
    for r in surge.itertuples():
        key = (r.supplier, r.product)
        if r.scenario not in d.scenarios or key not in d.offers:
            out.append(f"surge row ({r.scenario}, {r.supplier}, {r.product}) names no scenario/offer")
            continue
        if key not in x:
            out.append(f"surge from {key} in {r.scenario} without an award")
        cap = d.delivered[(r.scenario, r.supplier)] * d.offers[key].surge_capacity
        if r.surge > cap + tol(cap) or r.surge < -tol(0):
            out.append(f"surge {r.surge:,.4f} from {key} in {r.scenario} outside [0, {cap:,.4f}]")
        if not math.isfinite(r.surge):
            out.append(f"surge from {key} in {r.scenario} must be a number")
            continue
        e[(r.scenario, *key)] = float(r.surge)
    made_up: dict[tuple[str, str], float] = defaultdict(float)  # (scenario, product) -> surge units
    surge_cost: dict[str, float] = defaultdict(float)  # scenario -> EUR, at the offers' base unit_price
    for (w, s, p), v in e.items():
        made_up[(w, p)] += v
        surge_cost[w] += d.offers[(s, p)].unit_price * v
    disruption = 0.0
    for w, scen in d.scenarios.items():
        for p in d.products:
            undelivered = sum((1 - d.delivered[(w, s)]) * q for s, q in by_product.get(p, {}).items())
            lost = max(0.0, undelivered - made_up[(w, p)])  # the least lost the rules allow
            disruption += scen.probability * d.loss_value(p) * lost
        disruption += scen.probability * surge_cost[w]
    disruption *= inst.settings.risk_weight

    awarded_suppliers = {s for (s, _) in x}
    recomputed = {
        "purchase": purchase,
        "award": sum(d.offers[k].award_cost for k in x),
        "fixed": sum(d.suppliers[s].fixed_cost for s in awarded_suppliers),
        "unmet": sum((d.products[p].shortage_penalty or 0.0) * max(0.0, u) for p, u in unmet.items()
                     if p in d.products),
        "disruption": disruption,
    }
    out.extend(compare_objective(summary, recomputed))
    out.extend(_derived_figures(d, summary, tables, x, unmet, e))
    return out


# -- every other column and KPI, recomputed from quantities, unmet and surge ---------------


def _derived_figures(d: SourcingData, summary: dict, tables: dict[str, pd.DataFrame],
                     x: dict, unmet: dict, e: dict) -> list[str]:
    """Recompute every column of every result table and every KPI from the plan itself."""
    out: list[str] = []
    awards = {}
    for (s, p), q in x.items():
        tier = tier_of(d.tiers[(s, p)], q)
        o, dem = d.offers[(s, p)], d.products[p].demand
        awards[(s, p)] = {"region": d.suppliers[s].region, "share": q / dem, "tier_min_quantity": tier.min_quantity,
                          "cost": q * tier.unit_price, "award_cost": o.award_cost, "surge_capacity": o.surge_capacity}
    out += _compare("awards", tables["awards"], ("supplier", "product"), awards)

    products = {}
    for p, prod in d.products.items():
        mine = [(k, a) for k, a in awards.items() if k[1] == p]
        bought = sum(x[k] for k, _ in mine)
        purchase = sum(a["cost"] for _, a in mine)
        u = unmet.get(p, 0.0)
        products[(p,)] = {"demand": prod.demand, "bought": bought, "unmet_cost": u * (prod.shortage_penalty or 0.0),
                          "suppliers": len(mine), "purchase_cost": purchase,
                          "average_unit_price": purchase / bought if bought > 0 else None}
    out += _compare("products", tables["products"], ("product",), products)

    suppliers = {}
    for s, sup in d.suppliers.items():
        mine = [(k, a) for k, a in awards.items() if k[0] == s]
        qty = sum(x[k] for k, _ in mine)
        suppliers[(s,)] = {"region": sup.region, "awarded": bool(mine), "products": len(mine), "quantity": qty,
                           "capacity": sup.capacity, "utilisation": qty / sup.capacity if sup.capacity else None,
                           "purchase_cost": sum(a["cost"] for _, a in mine),
                           "award_cost": sum(a["award_cost"] for _, a in mine),
                           "fixed_cost": sup.fixed_cost if mine else 0.0}
    out += _compare("suppliers", tables["suppliers"], ("supplier",), suppliers)

    regions: dict[tuple, dict] = {}
    for (s, p), q in x.items():
        row = regions.setdefault((p, d.suppliers[s].region), {"quantity": 0.0, "share": 0.0})
        row["quantity"] += q
        row["share"] += q / d.products[p].demand
    out += _compare("regions", tables["regions"], ("product", "region"), regions)

    scenarios = {}
    for w, scen in d.scenarios.items():
        for p, prod in d.products.items():
            undelivered = sum((1 - d.delivered[(w, s)]) * q for (s, pp), q in x.items() if pp == p)
            made_up = sum(v for (ww, _s, pp), v in e.items() if ww == w and pp == p)
            lost = max(0.0, undelivered - made_up)
            scenarios[(w, p)] = {"probability": scen.probability, "undelivered": undelivered, "surge": made_up,
                                 "lost": lost, "lost_share": lost / prod.demand, "loss_value": d.loss_value(p)}
    out += _compare("scenarios", tables["scenarios"], ("scenario", "product"), scenarios)

    surge = {(w, s, p): {"unit_price": d.offers[(s, p)].unit_price, "cost": v * d.offers[(s, p)].unit_price}
             for (w, s, p), v in e.items()}
    out += _compare("surge", tables["surge"], ("scenario", "supplier", "product"), surge)

    bought = sum(x.values())
    purchase = sum(a["cost"] for a in awards.values())
    shares: dict[str, float] = defaultdict(float)
    for (s, _p), q in x.items():
        shares[d.suppliers[s].region] += q / bought if bought else 0.0
    kpis = {
        "units_bought": bought,
        "units_unmet": sum(max(0.0, u) for u in unmet.values()),
        "suppliers_awarded": len({s for s, _ in x}),
        "awards": len(x),
        "average_unit_price": purchase / bought if bought else None,
        "region_shares": dict(shares) if bought else {},
        "expected_units_lost": sum(d.scenarios[w].probability * r["lost"] for (w, _p), r in scenarios.items()),
    }
    out += _compare_kpis(summary.get("kpis") or {}, kpis)
    return out


def _same(cell, want) -> bool:
    """A table cell (text) against a recomputed value: empty for None, True/False, text, number."""
    text = "" if cell is None else str(cell).strip()
    if want is None:
        return text in ("", "nan", "None")
    if isinstance(want, bool):
        return text == str(want)
    if isinstance(want, str):
        return text == want
    try:
        value = float(text)
    except ValueError:
        return False
    return math.isfinite(value) and close(value, float(want), tol(value, float(want)))


def _compare(name: str, frame: pd.DataFrame, keys: tuple[str, ...], expected: dict[tuple, dict]) -> list[str]:
    """Violations where a table's rows or cells differ from the recomputed ones."""
    out, seen = [], set()
    for row in frame.to_dict("records"):
        key = tuple(str(row[k]) for k in keys)
        label = f"{name}.csv row {', '.join(key)}"
        if key not in expected:
            out.append(f"{label}: no such row in the plan")
            continue
        if key in seen:
            out.append(f"{label}: listed twice")
        seen.add(key)
        for col, want in expected[key].items():
            if not _same(row.get(col), want):
                out.append(f"{label}: {col} is {row.get(col)!r}, the plan gives {want!r}")
    for key in expected:
        if key not in seen:
            out.append(f"{name}.csv lacks the row {', '.join(key)}")
    return out


def _compare_kpis(reported: dict, expected: dict) -> list[str]:
    out = []
    for name, want in expected.items():
        if name not in reported:
            out.append(f"kpis lack '{name}'")
        elif isinstance(want, dict):
            got = reported[name] if isinstance(reported[name], dict) else {}
            if set(got) != set(want) or any(not _same(got[k], v) for k, v in want.items()):
                out.append(f"kpi {name} is {reported[name]!r}, the tables give {want!r}")
        elif not _same(reported[name], want):
            out.append(f"kpi {name} is {reported[name]!r}, the tables give {want!r}")
    return out
