"""Building blocks of the model schemas: field types, the record base, table specs.

Each model declares its tables as pydantic records plus a `Table` spec (key, references,
period fields); the loader applies the declarative rules, the model adds the rest.
"""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar

from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator,
                      model_validator)


def _as_id(value: Any) -> Any:
    """Ids are strings; YAML numbers become their shortest decimal form (1 -> '1')."""
    if isinstance(value, bool):
        raise ValueError("expected an id (text or number), got a true/false value")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"expected an id, got {value}")
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    if isinstance(value, str) and not value.strip():
        raise ValueError("expected a non-empty id")
    return value


DECIMAL = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_FLOAT_MAX = sys.float_info.max


def parse_number(value: Any) -> float | int:
    """A finite decimal number from a number or numeric text; ValueError says what is wrong.

    Text must be plain decimal ('12', '-0.5', '1e6'): Python's float() would also take
    '1_000', 'infinity' and 'nan', which the contract does not allow.
    """
    if isinstance(value, bool):
        raise ValueError("expected a number, got a true/false value")
    if isinstance(value, str):
        text = value.strip()
        if not DECIMAL.fullmatch(text):
            raise ValueError(f"expected a number, got '{value}'")
        value = float(text)
        if not math.isfinite(value):
            raise ValueError(f"expected a finite number, got '{text}' (too large)")
        return value
    if isinstance(value, int):
        if abs(value) > _FLOAT_MAX:
            raise ValueError("expected a finite number, got an integer too large for a number")
        return value
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {value}")
    return value


def _as_number(value: Any) -> Any:
    """Accept numeric strings ('1e6'); reject booleans, NaN, infinities and non-decimal text."""
    if isinstance(value, (bool, str, int, float)):
        return parse_number(value)
    return value


def _as_integer(value: Any) -> Any:
    value = _as_number(value)
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"expected a whole number, got {value:g}")
        value = int(value)
    return value


def _positive(value: float) -> float:
    if value <= 0:
        raise ValueError(f"expected a number > 0, got {value:g}")
    return value


Id = Annotated[str, BeforeValidator(_as_id)]
Number = Annotated[float, BeforeValidator(_as_number)]
NonNeg = Annotated[float, BeforeValidator(_as_number), Field(ge=0)]
Positive = Annotated[float, BeforeValidator(_as_number), AfterValidator(_positive)]
Share = Annotated[float, BeforeValidator(_as_number), Field(ge=0, le=1)]
Integer = Annotated[int, BeforeValidator(_as_integer)]
NonNegInt = Annotated[int, BeforeValidator(_as_integer), Field(ge=0)]


def ordered(low: str, high: str):
    """A row validator: `low` may not exceed `high` (a bound left unset is no bound).

    Contradictory bounds are invalid input. The check runs when the later-declared of the
    two fields is validated, so the error names that field.
    """

    def check(cls, value, info: ValidationInfo):
        other = high if info.field_name == low else low
        bound = info.data.get(other)
        if value is None or bound is None:
            return value
        lo, hi = (value, bound) if info.field_name == low else (bound, value)
        if lo > hi:
            if info.field_name == low:
                raise ValueError(f"{low} {lo:g} is above {high} {hi:g}")
            raise ValueError(f"{high} {hi:g} is below {low} {lo:g}")
        return value

    return field_validator(low, high)(check)


def _reject_former_names(cls, data: Any) -> Any:
    """A field under its former name is an error that names the new one."""
    if isinstance(data, dict) and cls.former_names:
        for old, new in cls.former_names.items():
            if old in data:
                raise ValueError(f"field '{old}' is now called '{new}' (see docs/fields.md)")
    return data


class Record(BaseModel):
    """One row of an instance table. Unknown fields are errors; `notes` is free text.

    `former_names` maps a field's former name to its current one: input that still uses
    the former name is rejected with a message naming the new one.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    former_names: ClassVar[dict[str, str]] = {}

    notes: str | None = Field(None, description="Free text, ignored by the model.")

    _former = model_validator(mode="before")(classmethod(_reject_former_names))


class ProductRecord(Record):
    """Every products table accepts a free-text unit and name."""

    name: str | None = Field(None, description="Display name.")
    unit: str | None = Field(None, description="What one unit is (piece, box, ...).")


class Settings(BaseModel):
    """Model options; unknown keys are errors (a former name is named as such)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    former_names: ClassVar[dict[str, str]] = {}

    _former = model_validator(mode="before")(classmethod(_reject_former_names))


@dataclass(frozen=True)
class Table:
    """Declarative rules for one table, applied by the loader.

    key: fields that identify a row (duplicates are errors); () for none.
    refs: field -> table whose single-field key the value must name.
    periods: integer fields that must lie within 0..periods-1 (an ISO date may stand for one).
    dates: integer period fields without that range (e.g. an expiry) that may also be a date.
    """

    row: type[Record]
    required: bool = True
    key: tuple[str, ...] = ("id",)
    refs: dict[str, str] = field(default_factory=dict)
    periods: tuple[str, ...] = ()
    dates: tuple[str, ...] = ()
    description: str = ""
