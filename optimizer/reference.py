"""Field reference generated from the schemas: the schema is the documentation of the data."""

from __future__ import annotations

import typing

from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from stockpile.models import get_model, known_kinds

_SKIP = {"notes", "name", "unit"}


def _type_name(info: FieldInfo) -> str:
    """'number (≥ 0)' etc., looking inside Optional[Annotated[...]] too."""
    ann, metadata = info.annotation, list(info.metadata)
    args = [a for a in typing.get_args(ann) if a is not type(None)]
    if type(None) in typing.get_args(ann) and args:
        ann = args[0]
    if typing.get_origin(ann) is typing.Annotated:
        base, *extra = typing.get_args(ann)
        for item in extra:
            metadata.extend(item.metadata if isinstance(item, FieldInfo) else [item])
        ann = base
    name = {str: "text", float: "number", int: "integer", bool: "true/false"}.get(ann, getattr(ann, "__name__", str(ann)))
    bounds = [f"≥ {m.ge:g}" for m in metadata if getattr(m, "ge", None) is not None]
    bounds += [f"≤ {m.le:g}" for m in metadata if getattr(m, "le", None) is not None]
    return name + (f" ({', '.join(bounds)})" if bounds else "")


def _default(info: FieldInfo) -> str:
    if info.is_required():
        return "required"
    if info.default is None:
        return "unset"
    if info.default is PydanticUndefined:
        return ""
    return f"{info.default:g}" if isinstance(info.default, float) else str(info.default)


def _meaning(name: str, info: FieldInfo, table) -> str:
    """The field's description (and whether it may be a date), or what the table spec says."""
    text = _description(name, info, table)
    if table is not None and (name in table.periods or name in table.dates):
        text += " Or an ISO date, with `start_date`."
    return text


def _description(name: str, info: FieldInfo, table) -> str:
    if info.description:
        return info.description
    if table is not None and name in table.refs:
        return f"An `id` of `{table.refs[name]}`."
    if table is not None and name in table.periods:
        return "Period, 0..periods-1."
    if table is not None and table.key == (name,):
        return "Unique id of the row."
    if table is not None and name in table.key:
        return f"Part of the row's key ({', '.join(table.key)})."
    return ""


def _rows(model: type, table=None) -> list[str]:
    lines = ["| field | type | default | meaning |", "|---|---|---|---|"]
    for name, info in model.model_fields.items():
        if name in _SKIP:
            continue
        lines.append(f"| `{name}` | {_type_name(info)} | {_default(info)} | {_meaning(name, info, table)} |")
    return lines


def markdown(kinds: typing.Iterable[str] | None = None) -> str:
    """Markdown tables of every model's tables and settings."""
    out = ["# Field reference", "",
           "Generated from the pydantic schemas (`python -m stockpile.reference > docs/fields.md`).",
           "Every table also accepts a free-text `notes`; every `products` table a `name` and a `unit`.",
           "Top level: `kind`, `name`, `description`, `periods`, `period_days` (default 7), `start_date` (ISO date,",
           "the first day of period 0: then period fields may be dates, see docs/engine.md) and `settings`.", ""]
    for kind in kinds or known_kinds():
        spec = get_model(kind)
        out += [f"## {kind}", "", spec.title + ".", ""]
        out += ["### settings", ""] + _rows(spec.settings) + [""]
        for table_name, table in spec.tables.items():
            flags = "required" if table.required else "optional"
            key = f"; key: {', '.join(table.key)}" if table.key else ""
            refs = "".join(f"; `{f}` → `{t}`" for f, t in table.refs.items())
            out += [f"### {table_name} ({flags}{key}{refs})", ""] + _rows(table.row, table) + [""]
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(markdown(), end="")
