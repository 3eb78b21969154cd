"""The decision models. Each subpackage exposes `MODEL`, an `stockpile.instance.ModelSpec`.

Models are imported on first use, so validating or checking one kind never imports the
others (nor Pyomo: only a model's formulation module does).
"""

from __future__ import annotations

import importlib

KINDS = ("sourcing", "ironstock", "rotation", "allocation")


def known_kinds() -> tuple[str, ...]:
    return KINDS


def get_model(kind: str):
    """The ModelSpec of a kind (imports models.<kind> on first use)."""
    if kind not in KINDS:
        raise KeyError(kind)
    return importlib.import_module(f"stockpile.models.{kind}").MODEL
