"""sourcing: a buying consortium splits volume across suppliers."""

from stockpile.instance import ModelSpec

from .check import check
from .schema import TABLES, SourcingSettings, validate
from .sweep import sweep_columns

MODEL = ModelSpec(
    kind="sourcing",
    title="Split volume across suppliers (tiers, caps, dual sourcing, disruptions)",
    tables=TABLES,
    settings=SourcingSettings,
    timed=False,
    validate=validate,
    check=check,
    sweep_columns=sweep_columns,
)
