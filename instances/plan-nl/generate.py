"""Regenerate the time series of this plan's steps from the figures below.

    python instances/plan-nl/generate.py

Writes ironstock/scenario_demand.csv, ironstock/scenario_supply.csv and allocation/needs.csv.
Every figure is illustrative (see README.md); nothing is random.
"""

from __future__ import annotations

import csv
from pathlib import Path

HERE = Path(__file__).parent

# ironstock: weekly use in normal times, and how a pandemic wave multiplies it (13 weeks)
BASELINE = {"ffp2_mask": 150_000, "nitrile_glove": 580_000, "isolation_gown": 23_000}
WAVE = [1.5, 2.0, 3.0, 4.0, 4.5, 4.0, 3.5, 3.0, 2.5, 2.0, 1.5, 1.2, 1.0]
GLOVE_DAMPING = 0.5  # gloves are used more in a wave, but half as much more as masks and gowns
PANIC = 1.1  # an export stop makes buyers order 10% more
ASIA = {"ffp2_mask": "asia_ffp2", "nitrile_glove": "asia_gloves", "isolation_gown": "asia_gowns"}
EU = {"ffp2_mask": "eu_ffp2", "nitrile_glove": "eu_gloves", "isolation_gown": "eu_gowns"}

# allocation: 8 crisis weeks; weekly need per institution group at the peak, and the profile
REGIONS = ("noord", "oost", "zuid", "west")
REGION_SIZE = {"noord": 0.17, "oost": 0.21, "zuid": 0.22, "west": 0.40}  # share of the population
PEAK_NEED = {  # national units per week at the peak, per institution type
    "hospital": {"ffp2_mask": 400_000, "nitrile_glove": 1_500_000, "isolation_gown": 36_000},
    "nursing_home": {"ffp2_mask": 240_000, "nitrile_glove": 1_000_000, "isolation_gown": 20_000},
    "home_care": {"ffp2_mask": 150_000, "nitrile_glove": 500_000, "isolation_gown": 5_000},
    "gp": {"ffp2_mask": 50_000, "nitrile_glove": 170_000, "isolation_gown": 1_200},
}
PROFILE = {"cure": [0.55, 0.75, 0.95, 1.0, 0.9, 0.75, 0.6, 0.5],  # hospitals peak in week 3
           "care": [0.4, 0.55, 0.7, 0.85, 1.0, 0.95, 0.8, 0.65]}  # care peaks two weeks later
SECTOR = {"hospital": "cure", "nursing_home": "care", "home_care": "care", "gp": "care"}


def write(path: Path, header: list[str], rows: list[list]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(header)
        out.writerows(rows)


def ironstock() -> None:
    demand = []
    for product, base in BASELINE.items():
        damping = GLOVE_DAMPING if product == "nitrile_glove" else 1.0
        for t, factor in enumerate(WAVE):
            demand.append(["pandemic_wave", product, t, round(base * (1 + damping * (factor - 1)))])
        for t in range(len(WAVE)):
            demand.append(["asia_export_stop", product, t, round(base * PANIC)])
    write(HERE / "ironstock" / "scenario_demand.csv", ["scenario", "product", "period", "demand"], demand)

    supply = []
    for product in BASELINE:
        supply.append(["pandemic_wave", ASIA[product], "", 0.5])  # everyone competes for Asian output
        supply += [["pandemic_wave", EU[product], t, 0.8] for t in range(4)]  # EU lines need a month
        supply.append(["asia_export_stop", ASIA[product], "", 0.6])  # after the stop: 60%
        supply += [["asia_export_stop", ASIA[product], t, 0.0] for t in range(8)]
    write(HERE / "ironstock" / "scenario_supply.csv", ["scenario", "source", "period", "available_fraction"],
          supply)


def allocation() -> None:
    institutions, needs = [], []
    for region in REGIONS:
        for kind, sector in SECTOR.items():
            ident = f"{kind}_{region}"
            institutions.append([ident, sector, kind, region])
            for product, peak in PEAK_NEED[kind].items():
                for t, share in enumerate(PROFILE[sector]):
                    needs.append([ident, product, t, round(peak * REGION_SIZE[region] * share)])
    write(HERE / "allocation" / "institutions.csv", ["id", "sector", "type", "region"], institutions)
    write(HERE / "allocation" / "needs.csv", ["institution", "product", "period", "need"], needs)


if __name__ == "__main__":
    ironstock()
    allocation()
