"""rotation: keep a rolling reserve fresh by rotating lots into regular use."""

from stockpile.instance import ModelSpec

from .check import check
from .schema import TABLES, RotationSettings, validate
from .sweep import sweep_columns

MODEL = ModelSpec(
    kind="rotation",
    title="Rotate reserve lots into regular use before they expire (targets, lots, outlets, storage)",
    tables=TABLES,
    settings=RotationSettings,
    timed=True,
    validate=validate,
    check=check,
    sweep_columns=sweep_columns,
)
