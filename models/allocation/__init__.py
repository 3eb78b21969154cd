"""allocation: share scarce items across cure and care in a crisis (lexicographic max-min)."""

from stockpile.instance import ModelSpec

from .check import check
from .schema import TABLES, AllocationSettings, validate
from .sweep import sweep_columns

MODEL = ModelSpec(
    kind="allocation",
    title="Share scarce items fairly across cure and care (max-min fill rate, then shortage, then transport)",
    tables=TABLES,
    settings=AllocationSettings,
    timed=True,
    validate=validate,
    check=check,
    sweep_columns=sweep_columns,
)
