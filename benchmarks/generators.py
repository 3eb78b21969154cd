"""Seeded, deterministic benchmark instances for every model at four sizes.

Each generator returns the instance document (kind, periods, settings) and its tables as
lists of plain records, using only the field names of the model contract
(docs: /work/shared/spec/MODELS.md, mirrored in each model's schema). `write_instance`
writes `instance.yaml` plus one CSV per table, so a benchmark times loading from files.

The same (kind, size, seed) always gives byte-identical files.
"""

from __future__ import annotations

import csv
import math
import random
from pathlib import Path

import yaml

VERSION = 3  # bump when a generator changes, so cached work folders are rebuilt

SIZE_NAMES = ("small", "medium", "large", "national")

# Dimensions per kind and size. The national sizes are those of a Dutch national stockpile.
SIZES: dict[str, dict[str, dict[str, int]]] = {
    "sourcing": {
        "small": dict(products=10, suppliers=5, tiers=2, scenarios=2),
        "medium": dict(products=50, suppliers=12, tiers=3, scenarios=3),
        "large": dict(products=100, suppliers=20, tiers=4, scenarios=4),
        "national": dict(products=200, suppliers=30, tiers=4, scenarios=5),
    },
    "ironstock": {
        "small": dict(products=5, scenarios=20, periods=8),
        "medium": dict(products=15, scenarios=100, periods=13),
        "large": dict(products=30, scenarios=250, periods=26),
        "national": dict(products=50, scenarios=500, periods=26),
    },
    "rotation": {
        "small": dict(products=2, lots=20, periods=13),
        "medium": dict(products=5, lots=100, periods=26),
        "large": dict(products=10, lots=250, periods=52),
        "national": dict(products=20, lots=500, periods=104),
    },
    "allocation": {
        "small": dict(institutions=40, products=3, periods=4),
        "medium": dict(institutions=400, products=5, periods=8),
        "large": dict(institutions=2000, products=10, periods=13),
        "national": dict(institutions=8000, products=10, periods=13),
    },
}

KINDS = tuple(SIZES)

# Ironstock's scenario-count study of the decomposed method (python -m benchmarks.decomposition).
IRONSTOCK_STUDY = {
    "national-1k": dict(products=50, scenarios=1000, periods=26),
    "national-2k": dict(products=50, scenarios=2000, periods=26),
    "national-5k": dict(products=50, scenarios=5000, periods=26),
}


def _r(x: float, digits: int = 4) -> float | int:
    """A tidy number for the CSV: whole numbers as int, others rounded."""
    x = round(float(x), digits)
    return int(x) if x.is_integer() else x


# -- sourcing ------------------------------------------------------------------------------


def sourcing(size: str, seed: int = 1):
    dims = SIZES["sourcing"][size]
    rng = random.Random(f"sourcing-{size}-{seed}")
    n_p, n_s, n_t, n_w = dims["products"], dims["suppliers"], dims["tiers"], dims["scenarios"]
    regions = ["NL", "EU", "Asia", "US"]

    suppliers = []
    for j in range(n_s):
        suppliers.append({"id": f"S{j + 1:03d}", "region": regions[j % len(regions)],
                          "fixed_cost": _r(rng.choice([0, 0, 2000, 5000, 10000]))})
    products = []
    for i in range(n_p):
        demand = rng.randint(20, 400) * 100
        base_price = rng.uniform(0.2, 8.0)
        products.append({
            "id": f"P{i + 1:03d}", "demand": demand,
            "shortage_penalty": _r(base_price * rng.uniform(5, 10), 2),
            "min_suppliers": rng.choice([1, 1, 2]),
            "max_suppliers": rng.choice(["", "", 4]),
            "max_supplier_share": rng.choice([1, 0.8, 0.6]),
            "min_award_share": rng.choice([0, 0, 0.1]),
            "_price": base_price,
        })

    # each product is offered by 30 % of the suppliers (3 to 8), at least one outside Asia and 3 in all
    per_product = max(3, min(8, round(0.3 * n_s)))
    offers, discounts = [], []
    load = {s["id"]: 0.0 for s in suppliers}
    for p in products:
        chosen = rng.sample(suppliers, per_product)
        if all(s["region"] == "Asia" for s in chosen[:2]):
            chosen[0] = next(s for s in suppliers if s["region"] != "Asia" and s not in chosen)
        for s in chosen:
            factor = {"Asia": 0.8, "US": 1.0, "EU": 1.05, "NL": 1.15}[s["region"]]
            price = p["_price"] * factor * rng.uniform(0.9, 1.2)
            offers.append({
                "supplier": s["id"], "product": p["id"], "unit_price": _r(price),
                "capacity": _r(p["demand"] * rng.uniform(0.4, 1.0), 0),
                "min_order": _r(p["demand"] * rng.choice([0, 0.02, 0.05]), 0),
                "award_cost": _r(rng.choice([0, 100, 250, 500])),
                "surge_capacity": _r(p["demand"] * rng.choice([0, 0, 0.1, 0.2]), 0),
            })
            load[s["id"]] += p["demand"] / per_product
            for k in range(1, n_t):  # all-units tiers at 10 %, 25 %, 50 % of demand
                q = p["demand"] * (0.1, 0.25, 0.5, 0.75)[k - 1]
                discounts.append({"supplier": s["id"], "product": p["id"], "min_quantity": _r(q, 0),
                                  "unit_price": _r(price * (1 - 0.04 * k) * rng.uniform(0.98, 1.02))})
    for s in suppliers:
        s["capacity"] = _r(load[s["id"]] * rng.uniform(1.5, 3.0), 0)
    for p in products:
        del p["_price"]

    region_limits = [{"product": "*", "region": "Asia", "max_share": 0.6, "min_share": ""}]
    scenarios, disruptions = [], []
    for w in range(n_w):
        sid = f"W{w + 1}"
        scenarios.append({"id": sid, "probability": _r(rng.uniform(0.02, 0.1), 3)})
        if w % 2 == 0:
            disruptions.append({"scenario": sid, "supplier": "", "region": regions[(w // 2 + 2) % len(regions)],
                                "delivered_fraction": _r(rng.uniform(0.1, 0.5), 2)})
        for s in rng.sample(suppliers, min(2, n_s)):
            disruptions.append({"scenario": sid, "supplier": s["id"], "region": "",
                                "delivered_fraction": _r(rng.choice([0, 0.25, 0.5]), 2)})
    doc = {"kind": "sourcing", "name": f"bench-sourcing-{size}",
           "description": f"benchmark instance, sourcing {size} (seed {seed})",
           "settings": {"risk_weight": 1, "disruption_penalty": 10}}
    tables = {"products": products, "suppliers": suppliers, "offers": offers, "discounts": discounts,
              "region_limits": region_limits, "scenarios": scenarios, "disruptions": disruptions}
    return doc, tables


# -- ironstock -----------------------------------------------------------------------------


def ironstock(size: str, seed: int = 1):
    dims = SIZES["ironstock"].get(size) or IRONSTOCK_STUDY[size]
    rng = random.Random(f"ironstock-{size}-{seed}")
    n_p, n_w, T = dims["products"], dims["scenarios"], dims["periods"]

    products, sources, reservations = [], [], []
    base = {}
    for i in range(n_p):
        pid = f"P{i + 1:03d}"
        cost = rng.uniform(0.5, 40)
        b = rng.randint(10, 500) * 10
        base[pid] = b
        row = {"id": pid, "unit_cost": _r(cost), "holding_cost": _r(cost * rng.uniform(0.1, 0.25)),
               "shortage_penalty": _r(cost * rng.uniform(15, 60), 2), "unit_volume": _r(rng.uniform(0.001, 0.05), 5),
               "existing_stock": _r(b * rng.choice([0, 1, 2, 4]), 0), "baseline_demand": b,
               "min_cover_periods": rng.choice([0, 0, 1, 2]),
               "lot_size": rng.choice(["", "", "", "", b * 2]),
               "shelf_life": "", "rotation_capacity": ""}
        if rng.random() < 0.5:
            row["shelf_life"] = rng.choice([104, 156, 260])
            row["rotation_capacity"] = _r(b * rng.uniform(0.2, 0.8), 0)
        products.append(row)
        sources.append({"id": f"{pid}-dom", "product": pid, "capacity": _r(b * rng.uniform(0.3, 0.6), 0)})
        sources.append({"id": f"{pid}-imp", "product": pid, "capacity": _r(b * rng.uniform(0.5, 1.0), 0)})
        if rng.random() < 0.3:
            reservations.append({"id": f"{pid}-warm", "product": pid, "max_capacity": _r(b * rng.uniform(0.5, 1.5), 0),
                                 "fee": _r(cost * rng.uniform(0.2, 1.0)), "ramp_up_periods": rng.randint(1, 4)})

    scenarios, demand_rows, supply_rows = [], [], []
    for w in range(n_w):
        sid = f"W{w + 1:03d}"
        scenarios.append({"id": sid, "probability": _r(0.25 / n_w, 8)})
        peak_t = rng.uniform(1, max(2, T / 2))
        width = rng.uniform(1.5, max(2, T / 3))
        hit = rng.sample(list(base), max(1, round(n_p * rng.uniform(0.2, 0.8))))
        hit_set = set(hit)
        for pid, b in base.items():
            peak = rng.uniform(2, 8) if pid in hit_set else rng.uniform(1.0, 1.3)
            for t in range(T):
                factor = 1 + (peak - 1) * math.exp(-(((t - peak_t) / width) ** 2))
                demand_rows.append({"scenario": sid, "product": pid, "period": t, "demand": _r(b * factor, 0)})
            if pid in hit_set and rng.random() < 0.6:  # import falls away, recovers late
                f = _r(rng.uniform(0, 0.5), 2)
                supply_rows.append({"scenario": sid, "source": f"{pid}-imp", "period": "", "available_fraction": f})
                for t in range(max(1, 3 * T // 4), T):
                    supply_rows.append({"scenario": sid, "source": f"{pid}-imp", "period": t,
                                        "available_fraction": _r(min(1.0, f + 0.5), 2)})
    budget = sum(p["unit_cost"] * p["baseline_demand"] * 6 for p in products)
    storage = sum(p["unit_volume"] * p["baseline_demand"] * 10 for p in products)
    doc = {"kind": "ironstock", "name": f"bench-ironstock-{size}",
           "description": f"benchmark instance, ironstock {size} (seed {seed})", "periods": T,
           "settings": {"budget": _r(budget, 0), "storage_capacity": _r(storage, 2)}}
    tables = {"products": products, "scenarios": scenarios, "scenario_demand": demand_rows,
              "sources": sources, "scenario_supply": supply_rows, "reservations": reservations}
    return doc, tables


# -- rotation ------------------------------------------------------------------------------


def rotation(size: str, seed: int = 1):
    dims = SIZES["rotation"][size]
    rng = random.Random(f"rotation-{size}-{seed}")
    n_p, n_lots, T = dims["products"], dims["lots"], dims["periods"]

    products, lots, outlets, targets = [], [], [], []
    volume = 0.0
    for i in range(n_p):
        pid = f"P{i + 1:03d}"
        target = rng.randint(50, 500) * 100
        mrl = max(1, round(T * rng.uniform(0.05, 0.15)))
        shelf = mrl + max(4, round(T * rng.uniform(0.4, 0.8)))
        lead = rng.randint(0, max(0, min(4, T // 6)))
        cost = rng.uniform(1, 20)
        vol = _r(rng.uniform(0.002, 0.02), 4)
        products.append({
            "id": pid, "target": target, "min_remaining_life": mrl, "shelf_life": shelf, "unit_cost": _r(cost),
            # holding: 0.4 % of the cost a week, given per year (x 52)
            "holding_cost": _r(cost * 0.208, 5), "disposal_cost": _r(cost * 0.05), "lead_time": lead,
            "lot_size": max(1, target // 10), "order_cost": rng.choice([200, 500, 1000]), "unit_volume": vol,
        })
        volume += 4 * target * vol  # room for the starting lots (about 3 x target) and the purchases
        # one fresh lot covers the target until the first purchase can arrive; the rest are mixed ages
        n_mine = max(1, n_lots // n_p)
        lots.append({"id": f"{pid}-L001", "product": pid, "quantity": _r(target * 1.05, 0),
                     "expiry": lead + mrl + 2 + rng.randint(0, max(1, shelf // 2))})
        for k in range(1, n_mine):
            lots.append({"id": f"{pid}-L{k + 1:03d}", "product": pid,
                         "quantity": _r(target * rng.uniform(0.02, 0.15), 0), "expiry": rng.randint(-1, shelf)})
        for j, name in enumerate(("hospitals", "ggd", "export")):
            outlets.append({"id": name, "product": pid, "capacity": _r(target * rng.uniform(0.01, 0.06), 0),
                            "min_remaining_life": rng.randint(0, mrl), "price": _r(cost * rng.uniform(0.2, 0.9)),
                            "shipment_cost": rng.choice([0, 50, 150, 300])})
        if i % 3 == 0 and T >= 8:  # a temporary higher target (a seasonal wave) for every third product
            for t in range(T // 2, T // 2 + max(1, T // 8)):
                targets.append({"product": pid, "period": t, "target": _r(target * 1.2, 0)})
    doc = {"kind": "rotation", "name": f"bench-rotation-{size}",
           "description": f"benchmark instance, rotation {size} (seed {seed})", "periods": T,
           "settings": {"storage_capacity": _r(volume, 2)}}
    tables = {"products": products, "lots": lots, "targets": targets, "outlets": outlets}
    return doc, tables


# -- allocation ----------------------------------------------------------------------------


def allocation(size: str, seed: int = 1):
    dims = SIZES["allocation"][size]
    rng = random.Random(f"allocation-{size}-{seed}")
    n_i, n_p, T = dims["institutions"], dims["products"], dims["periods"]
    n_r = {"small": 3, "medium": 6, "large": 11, "national": 11}[size]  # the 11 acute-care regions at scale

    kinds = [  # type, sector, share, priority, weekly need range
        ("hospital", "cure", 0.05, 2, (500, 5000)),
        ("gp", "cure", 0.15, 1, (10, 100)),
        ("nursing_home", "care", 0.35, 1.5, (50, 500)),
        ("home_care", "care", 0.30, 1, (20, 200)),
        ("disability_care", "care", 0.15, 1, (20, 300)),
    ]
    products = [{"id": f"P{k + 1:02d}", "pack_size": rng.choice([1, 5, 10, 20, 50])} for k in range(n_p)]
    regions = [f"R{r + 1:02d}" for r in range(n_r)]
    institutions, needs, stocks = [], [], []
    weekly = [[0.0] * T for _ in range(n_p)]
    region_week = {r: [0.0] * T for r in regions}
    wave = [1 + 0.8 * math.exp(-(((t - T / 3) / max(1.0, T / 4)) ** 2)) for t in range(T)]
    for i in range(n_i):
        u = rng.random()
        acc = 0.0
        for typ, sector, share, prio, (lo, hi) in kinds:
            acc += share
            if u <= acc:
                break
        iid = f"I{i + 1:05d}"
        region = regions[i % n_r]
        institutions.append({"id": iid, "sector": sector, "type": typ, "region": region, "priority": prio})
        for k, prod in enumerate(products):
            if typ != "hospital" and rng.random() > 0.6:
                continue
            base = rng.uniform(lo, hi)
            for t in range(T):
                need = round(base * wave[t] * rng.uniform(0.9, 1.1))
                if need > 0:
                    needs.append({"institution": iid, "product": prod["id"], "period": t, "need": need})
                    weekly[k][t] += need
                    region_week[region][t] += need
            if rng.random() < 0.6:
                stocks.append({"institution": iid, "product": prod["id"], "quantity": round(base * rng.uniform(0, 1))})
    supply = []
    for k, prod in enumerate(products):
        reserve = sum(weekly[k][: min(2, T)]) * rng.uniform(0.3, 0.6)
        for t in range(T):
            q = weekly[k][t] * rng.uniform(0.4, 0.8) + (reserve if t == 0 else 0)
            supply.append({"product": prod["id"], "period": t, "quantity": round(q)})
    region_rows = [{"id": r, "capacity": round(max(region_week[r]) * rng.uniform(0.55, 0.85)),  # binds in the peak weeks
                    "cost_per_unit": _r(rng.uniform(0.05, 0.5), 3)} for r in regions]
    doc = {"kind": "allocation", "name": f"bench-allocation-{size}",
           "description": f"benchmark instance, allocation {size} (seed {seed})", "periods": T,
           "settings": {"care_cure_parity": 0.9, "max_delivery_periods": 1.43}}  # fairness: the default, leximin
    tables = {"institutions": institutions, "products": products, "regions": region_rows, "needs": needs,
              "stocks": stocks, "supply": supply}
    return doc, tables


GENERATORS = {"sourcing": sourcing, "ironstock": ironstock, "rotation": rotation, "allocation": allocation}


def generate(kind: str, size: str, seed: int = 1):
    """(document, tables) of one benchmark instance."""
    if kind not in GENERATORS:
        raise KeyError(f"unknown model '{kind}' (one of {', '.join(GENERATORS)})")
    if size not in SIZES[kind] and not (kind == "ironstock" and size in IRONSTOCK_STUDY):
        raise KeyError(f"unknown size '{size}' (one of {', '.join(SIZES[kind])})")
    return GENERATORS[kind](size, seed)


def write_instance(folder: Path, doc: dict, tables: dict[str, list[dict]]) -> Path:
    """instance.yaml + one CSV per table in `folder`; returns the instance path."""
    folder.mkdir(parents=True, exist_ok=True)
    out = dict(doc)
    for name, rows in tables.items():
        if not rows:
            continue
        columns = list(rows[0])
        with open(folder / f"{name}.csv", "w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        out[name] = {"file": f"{name}.csv"}
    path = folder / "instance.yaml"
    path.write_text(yaml.safe_dump(out, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def counts(tables: dict[str, list[dict]]) -> str:
    """'products=200 offers=3000 ...' for the results table."""
    return " ".join(f"{name}={len(rows)}" for name, rows in tables.items() if rows)


def prepare(kind: str, size: str, seed: int, work: Path) -> tuple[Path, str]:
    """The instance of (kind, size, seed) under `work`, generated once per generator VERSION."""
    folder = work / f"{kind}-{size}-s{seed}"
    stamp = folder / ".complete"
    if stamp.is_file() and stamp.read_text().split("\n")[0] == str(VERSION):
        return folder / "instance.yaml", stamp.read_text().split("\n", 1)[1].strip()
    doc, tables = generate(kind, size, seed)
    path = write_instance(folder, doc, tables)
    description = counts(tables)
    stamp.write_text(f"{VERSION}\n{description}\n")
    return path, description
