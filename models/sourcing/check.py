"""Independent check of a sourcing solution from its output tables (no Pyomo)."""

from __future__ import annotations

import math
from collections import defaultdict

import pandas as pd

from optimizer.checking import close, compare_objective, numeric, require_tables, tol
from optimizer.instance import Instance

from .data import SourcingData, tier_of


def check(inst: Instance, summary: dict, tables: dict[str, pd.DataFrame]) -> list[str]:
    out = require_tables(tables, {
        "awards": ["supplier", "product", "quantity", "unit_price"],
        "products": ["product", "unmet"],
        "surge": ["scenario", "supplier", "product", "surge"],
    })
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
    return out
