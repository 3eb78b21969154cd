"""Ironstock data: products, crisis scenarios and their demand, supply sources, reservations."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from stockpile.errors import Problem
from stockpile.instance import Instance
from stockpile.schema import Id, NonNeg, NonNegInt, Positive, ProductRecord, Record, Settings, Share, Table


class Product(ProductRecord):
    former_names = {"shelf_life_periods": "shelf_life"}

    id: Id = Field(description="Product id.")
    unit_cost: NonNeg = Field(description="EUR per unit bought into the reserve.")
    holding_cost: NonNeg = Field(description="EUR per unit of reserve per year (storage, care, capital).")
    shortage_penalty: NonNeg = Field(description="EUR per unit of crisis demand not met.")
    unit_volume: NonNeg = Field(0, description="m³ of storage per unit.")
    existing_stock: NonNeg = Field(0, description="Units already in the reserve (kept: R ≥ this).")
    baseline_demand: NonNeg = Field(0, description="Units per period used in normal times.")
    min_cover_periods: NonNeg = Field(0, description="Policy floor: R ≥ this × baseline_demand.")
    lot_size: Positive | None = Field(
        None, description="Units per purchase lot: R = existing_stock + n × lot_size, n whole; unset = any amount.")
    shelf_life: Positive | None = Field(
        None, description="Periods of life of a new unit; with rotation_capacity it sets the write-off.")
    rotation_capacity: NonNeg | None = Field(
        None, description="Units per period regular use can take from the reserve (and renew).")


class Scenario(Record):
    id: Id = Field(description="Scenario id.")
    probability: Share = Field(description="Chance of this crisis in a year (scenarios exclude each other).")


class ScenarioDemand(Record):
    scenario: Id = Field(description="A scenario id.")
    product: Id = Field(description="A product id.")
    period: NonNegInt = Field(description="Crisis period, 0..periods-1.")
    demand: NonNeg = Field(description="Units demanded in that crisis period, normal use included.")


class Source(Record):
    id: Id = Field(description="Source id.")
    product: Id = Field(description="The product it supplies.")
    capacity: NonNeg = Field(description="Units per period this source supplies in normal times.")


class ScenarioSupply(Record):
    scenario: Id = Field(description="A scenario id.")
    source: Id = Field(description="A source id.")
    period: NonNegInt | None = Field(None, description="Unset = every period without a row of its own.")
    available_fraction: Share = Field(description="Share of the source's capacity still delivered.")


class Reservation(Record):
    id: Id = Field(description="Reservation id.")
    product: Id = Field(description="The product the reserved line makes.")
    max_capacity: NonNeg = Field(description="Units per period of warm production that can be reserved.")
    fee: NonNeg = Field(description="EUR per year per unit/period of capacity reserved.")
    ramp_up_periods: NonNegInt = Field(0, description="Reserved capacity delivers from this crisis period on.")


class IronstockSettings(Settings):
    budget: NonNeg | None = Field(None, description="EUR for buying stock beyond existing_stock; unset = no limit.")
    storage_capacity: NonNeg | None = Field(None, description="m³ for the whole reserve; unset = no limit.")
    periods_per_year: Positive | None = Field(
        None, description="Periods in a year, for the write-off; unset = 52 for weekly periods, else 365/period_days.")
    playout: bool = Field(True, description="Write the period-by-period play-out table (playout.csv).")
    method: Literal["auto", "monolithic", "decomposed"] = Field(
        "auto", description="monolithic: one model of every scenario; decomposed: mpi-sppy's L-shaped method, "
                            "one subproblem per bundle of scenarios; auto: decomposed above "
                            "decompose_above play-out cells (docs/decomposition.md).")
    decompose_above: NonNegInt = Field(
        1_000_000, description="auto decomposes when (scenario, product) pairs with demand × periods exceed this.")
    processes: NonNegInt = Field(
        1, description="MPI ranks for the decomposed method (mpiexec -n N); 0 or 1 = in this process, serially.")
    decomposition_gap: Share = Field(
        1e-4, description="The decomposed method stops when (upper − lower bound) / upper ≤ this.")
    max_iterations: NonNegInt = Field(500, description="Most L-shaped iterations of the decomposed method.")
    elastic: bool = Field(False, description="Make the policy floor (min_cover_periods × baseline_demand) soft: "
                                             "a plan with shortfall.csv even when the floors do not fit.")
    shortfall_penalty: dict[str, NonNeg] | None = Field(
        None, description="EUR per unit short, per table ('products': the policy floor); unset = lexicographic "
                          "(least shortfall first).")
    bundle_size: NonNegInt = Field(
        0, description="Crisis scenarios per subproblem of the decomposed method; 0 = about 8 subproblems per rank.")


TABLES = {
    "products": Table(Product),
    "scenarios": Table(Scenario),
    "scenario_demand": Table(ScenarioDemand, key=("scenario", "product", "period"),
                             refs={"scenario": "scenarios", "product": "products"}, periods=("period",)),
    "sources": Table(Source, required=False, refs={"product": "products"}),
    "scenario_supply": Table(ScenarioSupply, required=False, key=("scenario", "source", "period"),
                             refs={"scenario": "scenarios", "source": "sources"}, periods=("period",)),
    "reservations": Table(Reservation, required=False, refs={"product": "products"}),
}


def validate(inst: Instance) -> list[Problem]:
    """Rules that span tables, and warnings about data that is valid but probably unintended."""
    problems = []
    for table in inst.settings.shortfall_penalty or {}:
        if table != "products":
            problems.append(Problem(f"'{table}' has no soft rule in ironstock (only 'products': the policy floor)",
                                    file=str(inst.path) if inst.path else None, field="settings.shortfall_penalty"))
    scenarios = inst["scenarios"]
    total = sum(s.probability for s in scenarios)
    if total > 1 + 1e-9:
        problems.append(inst.problem("scenarios", len(scenarios) - 1, "probability",
                                     f"probabilities sum to {total:g}, more than 1"))
    with_demand = {d.scenario for d in inst["scenario_demand"] if d.demand > 0}
    idle = [s.id for s in scenarios if s.id not in with_demand]
    if idle:
        inst.warnings.append(f"scenarios {', '.join(idle)} have no positive demand: they cost nothing")
    for r in inst["reservations"]:
        if inst.periods is not None and r.ramp_up_periods >= inst.periods:
            inst.warnings.append(f"reservation {r.id}: ramp_up_periods {r.ramp_up_periods} ≥ periods "
                                 f"{inst.periods}, so it never delivers within the horizon")
    for p in inst["products"]:
        if (p.shelf_life is None) != (p.rotation_capacity is None):
            given = "shelf_life" if p.shelf_life is not None else "rotation_capacity"
            inst.warnings.append(f"product {p.id}: {given} is set without "
                                 f"{'rotation_capacity' if given == 'shelf_life' else 'shelf_life'}; "
                                 "a write-off needs both, so none is charged")
    return problems
