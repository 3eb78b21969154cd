"""Rotation data: products with a shelf life, existing lots, per-period targets, outlets."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field

from stockpile.errors import Problem
from stockpile.instance import Instance
from stockpile.schema import Id, Integer, NonNeg, NonNegInt, Positive, ProductRecord, Record, Settings, Table

PositiveInt = Annotated[NonNegInt, Field(ge=1)]


class Product(ProductRecord):
    former_names: ClassVar[dict[str, str]] = {"storage_volume": "unit_volume"}

    id: Id
    target: NonNeg = Field(description="Units of usable reserve required at the end of every period "
                                        "(a targets row overrides it for its period).")
    min_remaining_life: NonNegInt = Field(
        description="Periods a unit must have left before expiry, at the end of a period, to count toward the target.")
    shelf_life: PositiveInt = Field(description="Periods of life a newly bought unit has on arrival (>= 1).")
    unit_cost: NonNeg = Field(description="EUR per unit bought.")
    holding_cost: NonNeg = Field(0, description="EUR per unit per year in stock, charged on the end-of-period stock "
                                                 "as holding_cost / periods_per_year per period.")
    disposal_cost: NonNeg = Field(0, description="EUR per unit written off.")
    lead_time: NonNegInt = Field(0, description="Periods from order to arrival (0 = arrives the period it is ordered).")
    lot_size: Positive = Field(1, description="Units per purchase lot; purchases are whole multiples.")
    order_cost: NonNeg = Field(0, description="EUR per order placed (per product and period with a purchase).")
    unit_volume: NonNeg = Field(0, description="m³ per unit in storage.")


class Lot(Record):
    id: Id
    product: Id
    quantity: Positive = Field(description="Units in the lot at the start of period 0 (> 0).")
    expiry: Integer = Field(description="First period in which the lot is no longer usable; it is written off at "
                                        "the start of that period. May be <= 0 (written off at once) or >= periods.")


class Target(Record):
    product: Id
    period: Integer
    target: NonNeg = Field(description="Units of usable reserve required at the end of this period.")


class Outlet(Record):
    id: Id
    product: Id
    capacity: NonNeg = Field(description="Units per period the outlet can take into regular use.")
    min_remaining_life: NonNegInt = Field(
        0, description="Periods left before expiry that the outlet requires in the period of issue.")
    price: NonNeg = Field(0, description="EUR per unit the outlet pays.")
    shipment_cost: NonNeg = Field(0, description="EUR per period in which anything of the product is shipped to it.")


class RotationSettings(Settings):
    storage_capacity: NonNeg | None = Field(
        None, description="m³ of storage for the end-of-period stock of all lots; unset = unlimited.")


TABLES = {
    "products": Table(Product, description="Reserve products, their target, shelf life and costs."),
    "lots": Table(Lot, required=False, refs={"product": "products"}, dates=("expiry",),
                  description="Lots on hand at the start of period 0."),
    "targets": Table(Target, required=False, key=("product", "period"), refs={"product": "products"},
                     periods=("period",), description="Per-period overrides of a product's target."),
    "outlets": Table(Outlet, required=False, key=("id", "product"), refs={"product": "products"},
                     description="Regular users that take reserve stock into use (one row per product)."),
}


def validate(inst: Instance) -> list[Problem]:
    """Rules that span tables (the declarative ones are applied by the loader)."""
    problems: list[Problem] = []
    targeted = {t.product for t in inst["targets"] if t.target > 0}
    for p in inst["products"]:
        if p.shelf_life - 1 < p.min_remaining_life and (p.target > 0 or p.id in targeted):
            inst.warnings.append(
                f"product {p.id}: shelf_life {p.shelf_life} leaves a new unit at most {p.shelf_life - 1} periods "
                f"of life at the end of its arrival period, less than min_remaining_life {p.min_remaining_life}: "
                "purchases never count toward the target")
    products = {p.id for p in inst["products"]}
    with_outlet = {o.product for o in inst["outlets"]}
    for lot in inst["lots"]:
        if lot.product in products and lot.product not in with_outlet and 0 < lot.expiry < (inst.periods or 0):
            inst.warnings.append(
                f"lot {lot.id} of {lot.product} expires in period {lot.expiry} and no outlet takes {lot.product}: "
                "it can only be written off")
    return problems
