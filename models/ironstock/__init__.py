"""ironstock: how large a strategic reserve per product, against crisis scenarios."""

from stockpile.instance import ModelSpec

from .check import check
from .schema import TABLES, IronstockSettings, validate
from .sweep import sweep_columns

MODEL = ModelSpec(
    kind="ironstock",
    title="Size a strategic reserve against crisis scenarios (resupply, reservations, budget, expiry)",
    tables=TABLES,
    settings=IronstockSettings,
    timed=True,
    validate=validate,
    check=check,
    sweep_columns=sweep_columns,
)
