"""Synthetic Dutch crisis instances for the allocation model, from a seed.

The figures are illustrative (plausible orders of magnitude, not data): 11 regions named
after the Dutch acute-care networks (ROAZ), population shares rounded, weekly norm use per
institution type drawn around typical values, a demand surge that peaks in cure first and
in care two weeks later, and central supply arriving in waves. `generate` returns the
tables as lists of plain records; `write` stores them as an instance folder with CSVs.

Used by instances/allocation-nl-crisis/generate.py (the shipped instance) and for the
national-size measurement in docs/allocation.md (NATIONAL: about 8,000 institutions).
"""

from __future__ import annotations

import csv
import math
import random
from pathlib import Path

# region id -> (name, population in millions, transport cost EUR/unit from the central depot)
REGIONS = {
    "AZNN": ("Acute Zorgnetwerk Noord Nederland", 1.7, 0.05),
    "AZE": ("Acute Zorg Euregio", 1.1, 0.04),
    "NAZZ": ("Netwerk Acute Zorg Zwolle", 0.8, 0.04),
    "AZO": ("Acute Zorgregio Oost", 1.4, 0.03),
    "NAZMN": ("Netwerk Acute Zorg Midden-Nederland", 1.6, 0.02),
    "NAZNW": ("Netwerk Acute Zorg Noordwest", 1.6, 0.03),
    "NHF": ("Netwerk Acute Zorg Noord-Holland en Flevoland", 1.3, 0.03),
    "NAZW": ("Netwerk Acute Zorg West", 1.6, 0.03),
    "ZWN": ("Netwerk Acute Zorg Zuidwest-Nederland", 2.0, 0.03),
    "NAZB": ("Netwerk Acute Zorg Brabant", 2.5, 0.02),
    "NAZL": ("Netwerk Acute Zorg Limburg", 1.1, 0.04),
}

# product id -> (name, unit, pack size, share of total need the central supply covers)
PRODUCTS = {
    "ffp2": ("FFP2 mask", "piece", 20, 0.62),
    "gloves": ("examination gloves", "piece", 100, 0.80),
    "gowns": ("isolation gown", "piece", 10, 0.55),
}

# type -> (sector, priority, weekly norm use per product (median, spread), share needing the
#          product, weeks of norm use held at the start)
TYPES = {
    "hospital": ("cure", 1.5, {"ffp2": (6000, 0.6), "gloves": (90000, 0.5), "gowns": (3000, 0.6)},
                 {"ffp2": 1.0, "gloves": 1.0, "gowns": 1.0}, 2.0),
    "nursing_home": ("care", 1.2, {"ffp2": (180, 0.6), "gloves": (4000, 0.5), "gowns": (120, 0.6)},
                     {"ffp2": 1.0, "gloves": 1.0, "gowns": 0.9}, 0.8),
    "home_care": ("care", 1.0, {"ffp2": (300, 0.7), "gloves": (6000, 0.6), "gowns": (60, 0.6)},
                  {"ffp2": 1.0, "gloves": 1.0, "gowns": 0.3}, 0.5),
    "gp": ("care", 0.8, {"ffp2": (30, 0.5), "gloves": (400, 0.5), "gowns": (12, 0.4)},
           {"ffp2": 1.0, "gloves": 1.0, "gowns": 0.3}, 1.0),
    "disability_care": ("care", 1.0, {"ffp2": (80, 0.6), "gloves": (1500, 0.5), "gowns": (40, 0.6)},
                        {"ffp2": 1.0, "gloves": 1.0, "gowns": 0.5}, 0.5),
}

NATIONAL = {"hospital": 110, "nursing_home": 2400, "home_care": 900, "gp": 4100, "disability_care": 490}
SHIPPED = {"hospital": 24, "nursing_home": 120, "home_care": 40, "gp": 96, "disability_care": 20}


def surge(t: int, peak: int, periods: int) -> float:
    """Demand multiplier: 1 at the start, about 2.4 at the peak, easing to about 1.3."""
    rise = 1.4 * math.exp(-((t - peak) ** 2) / 8.0)
    tail = 0.3 * min(1.0, t / max(1, periods - 1))
    return 1.0 + rise + tail


def generate(counts: dict[str, int] | None = None, seed: int = 2020, periods: int = 13,
             capacity_factor: float = 1.25, parity: float | None = 0.95,
             max_delivery_periods: float | None = 1.43) -> dict:
    """An allocation instance document (tables as lists of records)."""
    counts = counts or SHIPPED
    rng = random.Random(seed)
    region_ids = list(REGIONS)
    weights = [REGIONS[r][1] for r in region_ids]
    institutions, needs, stocks = [], [], []
    need_total = {p: 0.0 for p in PRODUCTS}
    region_need = {r: 0.0 for r in region_ids}
    n = 0
    for typ, count in counts.items():
        sector, priority, norm, share, weeks = TYPES[typ]
        for k in range(count):
            n += 1
            # a type with at least one institution per region covers every region; the rest by population
            if count >= len(region_ids) and k < len(region_ids):
                region = region_ids[k]
            else:
                region = rng.choices(region_ids, weights)[0]
            iid = f"{typ[:2].upper()}{n:05d}"
            institutions.append({"id": iid, "sector": sector, "type": typ, "region": region, "priority": priority})
            peak = 4 if sector == "cure" else 6
            for p, (median, spread) in norm.items():
                if rng.random() > share[p]:
                    continue
                pack = PRODUCTS[p][2]
                base = max(pack, median * math.exp(rng.gauss(0, spread)))
                for t in range(periods):
                    q = max(pack, round(base * surge(t, peak, periods) * rng.uniform(0.9, 1.1)))
                    needs.append({"institution": iid, "product": p, "period": t, "need": q})
                    need_total[p] += q
                    region_need[region] += q
                held = round(base * weeks * rng.uniform(0.3, 1.2) / pack) * pack
                if held > 0:
                    stocks.append({"institution": iid, "product": p, "quantity": held})
    supply = []
    waves = {0: 0.16, 2: 0.20, 5: 0.26, 8: 0.22, 11: 0.16}  # share of the horizon's supply per wave
    for p, (_, _, pack, cover) in PRODUCTS.items():
        total = cover * need_total[p]
        for t, frac in waves.items():
            if t < periods:
                supply.append({"product": p, "period": t, "quantity": round(total * frac / pack) * pack})
    total_need = sum(region_need.values())
    supply_units = sum(s["quantity"] for s in supply)
    regions = []
    for r in region_ids:
        weekly = supply_units / periods * region_need[r] / total_need if total_need else 0.0
        regions.append({"id": r, "name": REGIONS[r][0], "capacity": round(capacity_factor * weekly, -2),
                        "cost_per_unit": REGIONS[r][2]})
    products = [{"id": p, "name": v[0], "unit": v[1], "pack_size": v[2]} for p, v in PRODUCTS.items()]
    settings = {"fairness": "maxmin"}
    if parity is not None:
        settings["care_cure_parity"] = parity
    if max_delivery_periods is not None:
        settings["max_delivery_periods"] = max_delivery_periods
    return {"kind": "allocation", "periods": periods, "period_days": 7, "settings": settings,
            "products": products, "regions": regions, "institutions": institutions, "needs": needs,
            "stocks": stocks, "supply": supply}


TABLE_FIELDS = {
    "products": ["id", "name", "unit", "pack_size"],
    "regions": ["id", "capacity", "cost_per_unit", "notes"],
    "institutions": ["id", "sector", "type", "region", "priority"],
    "needs": ["institution", "product", "period", "need"],
    "stocks": ["institution", "product", "quantity"],
    "supply": ["product", "period", "quantity"],
}


def write(doc: dict, folder: str | Path, name: str, description: str) -> Path:
    """Write the document as folder/instance.yaml plus one CSV per table; returns the YAML path."""
    import yaml

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for table, fields in TABLE_FIELDS.items():
        with open(folder / f"{table}.csv", "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
            w.writeheader()
            for rec in doc[table]:
                row = dict(rec)
                if table == "regions":
                    row["notes"] = row.pop("name", "")
                w.writerow({k: _fmt(row.get(k)) for k in fields})
    head = {"periods": doc["periods"], "period_days": doc["period_days"], "settings": doc["settings"]}
    head.update({table: {"file": f"{table}.csv"} for table in TABLE_FIELDS})
    text = f"kind: allocation\nname: {name}\ndescription: |\n"
    text += "".join(f"  {line}\n" for line in description.strip().splitlines())
    text += yaml.safe_dump(head, sort_keys=False, allow_unicode=True, width=100, default_flow_style=None)
    path = folder / "instance.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _fmt(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
