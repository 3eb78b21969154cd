"""Allocation data: institutions, needs, stocks, central supply, products, regions."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from stockpile.errors import Problem, did_you_mean
from stockpile.instance import Instance
from stockpile.schema import Id, NonNeg, NonNegInt, Positive, ProductRecord, Record, Settings, Table

SECTORS = ("cure", "care")


class Institution(Record):
    id: Id
    sector: Literal["cure", "care"] = Field(description="cure (hospitals) or care (nursing homes, home care, GPs, ...).")
    type: Id = Field(description="Free label: hospital, nursing_home, home_care, gp, disability_care, ...")
    region: Id = Field(description="Region label; must be a regions id when that table is given.")
    priority: NonNeg = Field(1, description="Weight of one unit of shortage in step 2 of the objective.")


class Need(Record):
    institution: Id
    product: Id
    period: NonNegInt
    need: NonNeg = Field(description="Units the institution must use in the period (no row = 0).")


class Stock(Record):
    institution: Id
    product: Id
    quantity: NonNeg = Field(description="Units on hand at the institution at the start of period 0.")


class Supply(Record):
    product: Id
    period: NonNegInt
    quantity: NonNeg = Field(description="Units arriving at the central stock in the period; "
                                         "the central reserve on hand is the supply of period 0.")


class Product(ProductRecord):
    id: Id
    pack_size: Positive = Field(1, description="Units per pack; deliveries are whole packs.")


class Region(Record):
    id: Id
    capacity: NonNeg | None = Field(None, description="Units per period deliverable into the region, all products "
                                                      "together; unset = unlimited.")
    cost_per_unit: NonNeg = Field(0, description="EUR per unit delivered into the region.")


class AllocationSettings(Settings):
    care_cure_parity: NonNeg | None = Field(
        None, description="k: per product, care fill rate ≥ k × cure fill rate over the horizon; unset = no rule.")
    max_delivery_periods: Positive | None = Field(
        None, description="Anti-hoarding: a delivery is at most this × the institution's need in that period.")
    fairness: Literal["leximin", "maxmin", "none"] = Field(
        "leximin", description="leximin: raise the lowest fill rates level by level (progressive filling); "
                               "maxmin: only the minimum, exact in whole packs; none: skip that step.")
    pack_method: Literal["exact", "rounded"] = Field(
        "exact", description="exact: whole packs by MIP, proven within --mip-gap; rounded: each step an LP, then "
                             "whole packs by a rounding heuristic (a quick draft, never proven).")
    elastic: bool = Field(
        False, description="Accepted for every model; needs are already soft here (shortage), so it changes "
                           "nothing in the plan. Writes an empty shortfall table.")
    shortfall_penalty: dict[str, NonNeg] | None = Field(
        None, description="Accepted for every model; allocation has no hard rule to price, so it is not used.")

TABLES = {
    "institutions": Table(Institution),
    "needs": Table(Need, key=("institution", "product", "period"),
                   refs={"institution": "institutions", "product": "products"}, periods=("period",)),
    "stocks": Table(Stock, required=False, key=("institution", "product"),
                    refs={"institution": "institutions", "product": "products"}),
    "supply": Table(Supply, key=("product", "period"), refs={"product": "products"}, periods=("period",)),
    "products": Table(Product),
    "regions": Table(Region, required=False),
}


def validate(inst: Instance) -> list[Problem]:
    """Rules that span tables."""
    problems = []
    if inst.raw.get("regions") is not None:
        regions = {r.id for r in inst["regions"]}
        for i, rec in enumerate(inst["institutions"]):
            if rec.region not in regions:
                problems.append(inst.problem("institutions", i, "region",
                                             f"'{rec.region}' is not an id in table 'regions'"
                                             + did_you_mean(rec.region, sorted(regions))))
    needed = {n.product for n in inst["needs"] if n.need > 0}
    for p in inst["products"]:
        if p.id not in needed:
            inst.warnings.append(f"product {p.id} has no positive need: nothing of it is allocated")
    if not any(n.need > 0 for n in inst["needs"]):
        inst.warnings.append("no institution has a positive need: every fill rate is undefined")
    return problems
