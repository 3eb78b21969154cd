"""Sourcing data: products, suppliers, offers, discount tiers, region limits, disruptions."""

from __future__ import annotations

from pydantic import Field, ValidationInfo, field_validator

from stockpile.errors import Problem, did_you_mean
from stockpile.instance import Instance
from stockpile.schema import Id, NonNeg, NonNegInt, Positive, ProductRecord, Record, Settings, Share, Table, ordered


class Product(ProductRecord):
    id: Id
    demand: Positive = Field(description="Units over the contract horizon (> 0).")
    shortage_penalty: NonNeg | None = Field(
        None, description="EUR per unit unmet; unset = demand must be met in full.")
    min_suppliers: NonNegInt = Field(1, description="Awards required (0 allows buying nothing).")
    max_suppliers: NonNegInt | None = Field(None, description="Most awards allowed; unset = no limit.")
    max_supplier_share: Share = Field(1, description="Largest share of demand one supplier may get.")
    min_award_share: Share = Field(0, description="Smallest share of demand an awarded supplier gets.")

    # Contradictory bounds are invalid input; the error names the later field.
    _suppliers_ordered = ordered("min_suppliers", "max_suppliers")
    _shares_ordered = ordered("min_award_share", "max_supplier_share")


class Supplier(Record):
    id: Id
    region: Id = Field(description="Free label, e.g. NL, EU, Asia.")
    capacity: NonNeg | None = Field(None, description="Units over all products; unset = unlimited.")
    fixed_cost: NonNeg = Field(0, description="EUR if awarded any product.")


class Offer(Record):
    supplier: Id
    product: Id
    unit_price: NonNeg = Field(description="EUR per unit below every discount tier.")
    capacity: NonNeg | None = Field(None, description="Units; unset = unlimited.")
    min_order: NonNeg = Field(0, description="Units if awarded.")
    award_cost: NonNeg = Field(0, description="EUR per awarded supplier-product pair.")
    surge_capacity: NonNeg = Field(0, description="Extra units deliverable in a disruption if awarded.")


class Discount(Record):
    supplier: Id
    product: Id
    min_quantity: NonNeg = Field(description="Units from which this all-units price applies.")
    unit_price: NonNeg = Field(description="EUR per unit for the whole quantity.")


class RegionLimit(Record):
    product: Id = Field(description="A product id, or * for every product (each on its own demand).")
    region: Id = Field(description="A supplier region label.")
    max_share: Share = Field(1, description="Most of the product's demand bought in the region.")
    min_share: Share = Field(0, description="Least of the product's demand bought in the region.")

    _shares_ordered = ordered("min_share", "max_share")


class Scenario(Record):
    id: Id
    probability: Share = Field(description="Probability of the scenario; the rest is 'nothing happens'.")


class Disruption(Record):
    scenario: Id
    supplier: Id | None = Field(None, description="The supplier hit (or give region).")
    region: Id | None = Field(None, validate_default=True, description="The region hit (or give supplier).")
    delivered_fraction: Share = Field(description="Share of awarded quantity and of surge capacity delivered.")

    @field_validator("region")
    @classmethod
    def _one_target(cls, value, info: ValidationInfo):
        if "supplier" not in info.data:
            return value  # the supplier field itself is invalid; reported there
        supplier = info.data["supplier"]
        if supplier is not None and value is not None:
            raise ValueError(f"give exactly one of supplier or region, not both (supplier '{supplier}', "
                             f"region '{value}')")
        if supplier is None and value is None:
            raise ValueError("give exactly one of supplier or region (neither is given)")
        return value


class SourcingSettings(Settings):
    risk_weight: NonNeg = Field(1, description="Weight of the expected disruption cost.")
    disruption_penalty: NonNeg | None = Field(
        None, description="EUR per unit lost in a scenario, for products without shortage_penalty.")


TABLES = {
    "products": Table(Product),
    "suppliers": Table(Supplier),
    "offers": Table(Offer, key=("supplier", "product"), refs={"supplier": "suppliers", "product": "products"}),
    "discounts": Table(Discount, required=False, key=("supplier", "product", "min_quantity"),
                       refs={"supplier": "suppliers", "product": "products"}),
    "region_limits": Table(RegionLimit, required=False, key=("product", "region")),
    "scenarios": Table(Scenario, required=False),
    "disruptions": Table(Disruption, required=False, key=(),
                         refs={"scenario": "scenarios", "supplier": "suppliers"}),
}


def validate(inst: Instance) -> list[Problem]:
    """Rules that span tables."""
    problems = []
    offers = {(o.supplier, o.product) for o in inst["offers"]}
    for i, d in enumerate(inst["discounts"]):
        if (d.supplier, d.product) not in offers:
            problems.append(inst.problem("discounts", i, "product",
                                         f"no offer of supplier '{d.supplier}' for product '{d.product}'"))
    products = {p.id for p in inst["products"]}
    regions = sorted({s.region for s in inst["suppliers"]})
    for i, r in enumerate(inst["region_limits"]):
        if r.product != "*" and r.product not in products:
            problems.append(inst.problem("region_limits", i, "product",
                                         f"'{r.product}' is not a product id (or *)" + did_you_mean(r.product, products)))
        if r.region not in regions:
            problems.append(inst.problem("region_limits", i, "region",
                                         f"no supplier is in region '{r.region}'" + did_you_mean(r.region, regions)))
    seen: dict[tuple, int] = {}
    for i, d in enumerate(inst["disruptions"]):
        if d.region is not None and d.region not in regions:
            problems.append(inst.problem("disruptions", i, "region",
                                         f"no supplier is in region '{d.region}'" + did_you_mean(d.region, regions)))
        key = (d.scenario, "supplier", d.supplier) if d.supplier is not None else (d.scenario, "region", d.region)
        if key in seen:
            problems.append(inst.problem("disruptions", i, key[1],
                                         f"second row for scenario '{d.scenario}' and {key[1]} '{key[2]}' "
                                         f"(first in row {seen[key] + 1})"))
        seen.setdefault(key, i)
    total = sum(s.probability for s in inst["scenarios"])
    if total > 1 + 1e-9:
        problems.append(inst.problem("scenarios", len(inst["scenarios"]) - 1, "probability",
                                     f"probabilities sum to {total:g}, more than 1"))
    if inst["scenarios"] and inst.settings.disruption_penalty is None:
        loose = [p.id for p in inst["products"] if p.shortage_penalty is None]
        if loose:
            inst.warnings.append(
                f"products {', '.join(loose)} have no shortage_penalty and settings.disruption_penalty is "
                "unset: units lost in disruption scenarios cost nothing for them")
    return problems
