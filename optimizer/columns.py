"""Column-wise validation of a table: the fast path for tables of many rows.

Validating 700,000 rows one pydantic call at a time costs seconds, almost all of it in
Python calls per cell. Here each column is parsed at once (numbers with numpy) and
checked with the same rules as the record types of `stockpile.schema`; the records are
then made without validating them again. Whenever a table holds anything this path does
not handle in bulk -- a type or validator it does not know, a cell it cannot parse, a rule
broken anywhere -- `validate` returns None and the loader validates that table row by
row, so every message is exactly the per-row one.
"""

from __future__ import annotations

import itertools
import typing
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from . import schema

MIN_ROWS = 2_000  # below this the per-row path is as fast and simpler
_NUMBER_CHARS = set("0123456789.eE+-")
_EXACT_INT = 2**53  # integers a float holds exactly


@dataclass(frozen=True)
class _Field:
    name: str
    kind: str  # id | text | number | integer | literal
    optional: bool
    default: Any
    required: bool
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    choices: frozenset = frozenset()


_PLANS: dict[type, tuple[list[_Field], list[tuple[str, str]]] | None] = {}


def validate(rows: list[dict], row_model: type[BaseModel], min_rows: int | None = None) -> list | None:
    """The records of `rows`, or None when the table must be validated row by row."""
    if len(rows) < (MIN_ROWS if min_rows is None else min_rows) or not rows:
        return None
    plan = _plan(row_model)
    if plan is None:
        return None
    fields, ordered = plan
    names = {f.name for f in fields}
    present = set().union(*rows)
    if not present <= names or present & set(getattr(row_model, "former_names", {})):
        return None
    full = set(map(len, rows)) == {len(present)}  # every row has every present key
    values: dict[str, list] = {}
    for spec in fields:
        column = _column(rows, spec, present, full)
        if column is None:
            return None
        values[spec.name] = column
    for low, high in ordered:
        a = np.array(values[low], dtype=float)  # None -> nan, and nan compares false: no bound
        b = np.array(values[high], dtype=float)
        if np.any(a > b):
            return None
    return _construct(row_model, [f.name for f in fields], values, rows)


def _column(rows: list[dict], spec: _Field, present: set[str], full: bool) -> list | None:
    if spec.name not in present:
        return None if spec.required else [spec.default] * len(rows)
    column = list(map(itemgetter(spec.name), rows)) if full else [row.get(spec.name) for row in rows]
    types = set(map(type, column))
    missing = type(None) in types
    if missing and spec.required:
        return None
    types.discard(type(None))
    if spec.kind in ("id", "text", "literal"):
        if types - {str}:
            return None
        texts = [v for v in column if v is not None] if missing else column
        if spec.kind == "id" and texts and min(map(len, map(str.strip, texts))) == 0:
            return None
        if spec.kind == "literal" and not set(texts) <= spec.choices:
            return None
        return _fill(column, spec.default) if missing else column
    return _numbers(column, types, missing, spec)


def _numbers(column: list, types: set, missing: bool, spec: _Field) -> list | None:
    if types - {str, int, float}:
        return None  # booleans and anything else: per row
    given = [v for v in column if v is not None] if missing else column
    if str in types:
        texts = [v for v in given if type(v) is str]
        if not set("".join(texts)) <= _NUMBER_CHARS:
            return None  # '1_000', 'nan', ' 5', dates ...: per row
    try:
        array = np.array(given, dtype=float)
    except (ValueError, OverflowError):
        return None
    if not np.isfinite(array).all():
        return None
    if spec.ge is not None and np.any(array < spec.ge):
        return None
    if spec.gt is not None and np.any(array <= spec.gt):
        return None
    if spec.le is not None and np.any(array > spec.le):
        return None
    if spec.kind == "integer":
        if np.any(array != np.floor(array)) or np.any(np.abs(array) >= _EXACT_INT):
            return None
        parsed = array.astype(np.int64).tolist()
    else:
        parsed = array.tolist()
    if not missing:
        return parsed
    it = iter(parsed)
    return [spec.default if v is None else next(it) for v in column]


def _fill(column: list, default: Any) -> list:
    return [default if v is None else v for v in column]


def _construct(row_model: type[BaseModel], names: list[str], values: dict[str, list], rows: list[dict]) -> list:
    """Records made directly, as pydantic's model_construct would, without a second validation."""
    new = row_model.__new__
    setattr_ = object.__setattr__
    out = []
    present = set().union(*rows)
    if set(map(len, rows)) == {len(present)}:
        sets = itertools.repeat(present)  # every row has every key; frozen records never change the set
    else:
        sets = map(set, rows)
    for fields_set, record in zip(sets, map(dict, map(zip, itertools.repeat(names), zip(*values.values())))):
        obj = new(row_model)
        setattr_(obj, "__dict__", record)
        setattr_(obj, "__pydantic_fields_set__", fields_set)
        setattr_(obj, "__pydantic_extra__", None)
        setattr_(obj, "__pydantic_private__", None)
        out.append(obj)
    return out


# -- what each field is -------------------------------------------------------------------------


def _plan(row_model: type[BaseModel]):
    if row_model not in _PLANS:
        _PLANS[row_model] = _make_plan(row_model)
    return _PLANS[row_model]


def _make_plan(row_model: type[BaseModel]):
    decorators = row_model.__pydantic_decorators__
    if set(decorators.model_validators) - {"_former"} or decorators.model_serializers or \
            decorators.field_serializers or decorators.root_validators:
        return None
    ordered = []
    for validator in decorators.field_validators.values():
        pair = getattr(validator.func, "ordered_pair", None) or getattr(
            getattr(validator.func, "__func__", None), "ordered_pair", None)
        if pair is None:
            return None
        ordered.append(pair)
    fields = []
    for name, info in row_model.model_fields.items():
        spec = _field(name, info)
        if spec is None:
            return None
        fields.append(spec)
    return fields, ordered


def _field(name: str, info: FieldInfo) -> _Field | None:
    if info.default_factory is not None:
        return None
    annotation, metadata = info.annotation, list(info.metadata)
    args = typing.get_args(annotation)
    optional = type(None) in args
    if optional:
        rest = [a for a in args if a is not type(None)]
        if len(rest) != 1:
            return None
        annotation = rest[0]
    if typing.get_origin(annotation) is typing.Annotated:
        annotation, *extra = typing.get_args(annotation)
        for item in extra:
            metadata.extend(item.metadata if isinstance(item, FieldInfo) else [item])
    required = info.is_required()
    default = None if info.default is PydanticUndefined else info.default
    before = [m.func for m in metadata if type(m).__name__ == "BeforeValidator"]
    after = [m.func for m in metadata if type(m).__name__ == "AfterValidator"]
    bounds: dict[str, float] = {}
    for m in metadata:  # nested Annotated types add bounds: keep the strictest
        for key, pick in (("ge", max), ("gt", max), ("le", min)):
            value = getattr(m, key, None)
            if value is not None:
                bounds[key] = pick(bounds[key], value) if key in bounds else value
    others = [m for m in metadata if type(m).__name__ not in ("BeforeValidator", "AfterValidator", "Ge", "Gt", "Le")]
    if others:
        return None
    common = dict(name=name, optional=optional, default=default, required=required)
    if typing.get_origin(annotation) is Literal:
        if before or after or bounds:
            return None
        choices = typing.get_args(annotation)
        if not all(isinstance(c, str) for c in choices):
            return None
        return _Field(kind="literal", choices=frozenset(choices), **common)
    if annotation is str:
        if after or bounds:
            return None
        if before == [schema._as_id]:
            return _Field(kind="id", **common)
        return _Field(kind="text", **common) if not before else None
    if annotation is float and before == [schema._as_number]:
        if after and after != [schema._positive]:
            return None
        gt = 0.0 if after else bounds.get("gt")
        return _Field(kind="number", ge=bounds.get("ge"), gt=gt, le=bounds.get("le"), **common)
    if annotation is int and before == [schema._as_integer] and not after:
        return _Field(kind="integer", ge=bounds.get("ge"), gt=bounds.get("gt"), le=bounds.get("le"), **common)
    return None
