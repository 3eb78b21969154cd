"""Instance files -> validated `Instance`: read YAML/JSON, resolve table files, validate.

Reading (file -> document of plain records) and validation (document -> typed Instance)
are separate so that a sweep can edit the document and validate it again.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import gc
import json
import math
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from . import columns
from .calendar import as_date, first_day, period_of
from .documents import DocumentError, parse_json, parse_yaml
from .errors import InputError, Problem, did_you_mean
from .instance import Instance, Origin
from .schema import Table, parse_number
from .tablefiles import read_csv, read_text, read_xlsx

BASE_KEYS = ("kind", "name", "description", "periods", "period_days", "start_date", "settings")
MAX_PROBLEMS = 25  # enough to fix a file in one go, few enough to read


@dataclass
class Document:
    """An instance file with its table files read in: plain dicts, not yet validated."""

    data: dict[str, Any]
    path: Path
    origins: dict[str, Origin] = field(default_factory=dict)
    shown: str | None = None  # how messages name the source (default: the path)

    def copy(self) -> "Document":
        return Document(copy.deepcopy(self.data), self.path, dict(self.origins), self.shown)


def load(source: str | Path | Mapping, folder: str | Path | None = None) -> Instance:
    """Read and validate an instance; raises InputError listing every problem.

    `source` is an instance file, or the document itself as a dict whose tables may be
    lists of records or pandas DataFrames (`{file: ...}` references then resolve against
    `folder`, default the current directory).
    """
    with _collector_paused():
        if isinstance(source, Mapping):
            return validate(read_data(source, folder))
        return validate(read(source))


@contextlib.contextmanager
def _collector_paused():
    """Python's cycle collector off while loading: a national instance makes millions of
    small objects and no cycles, and every full collection would walk them all again
    (this alone made loading several times slower)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def read(path: str | Path) -> Document:
    path = Path(path)
    shown = str(path)
    missing = _missing_file(path, shown)
    if missing:
        text = f"instance file not found: {shown}" if missing == "not found" else missing
        raise InputError(Problem(text))
    text = read_text(path, shown)
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            data = parse_json(text)
        elif suffix in (".yaml", ".yml"):
            data = parse_yaml(text)
        else:
            raise InputError(Problem("expected a .yaml, .yml or .json instance file", file=shown))
    except json.JSONDecodeError as exc:
        raise InputError(Problem(f"invalid JSON at line {exc.lineno}: {exc.msg}", file=shown)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        reason = getattr(exc, "problem", None) or "could not parse"
        raise InputError(Problem(f"invalid YAML{at}: {reason}", file=shown)) from None
    except DocumentError as exc:
        raise InputError(Problem(f"refused: {exc}", file=shown)) from None
    return _document(data, path, shown)


def read_data(data: Mapping, folder: str | Path | None = None) -> Document:
    """A document given as Python data (dicts, lists of records, DataFrames)."""
    data = {str(k): _records_of(v) for k, v in dict(data).items()}
    path = Path(folder or ".") / "<data>"
    return _document(data, path, "<data>")


def _records_of(value: Any) -> Any:
    """A pandas DataFrame -> list of records (empty cells left out); anything else as is."""
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        return value
    if isinstance(value, pd.DataFrame):
        frame = value.astype(object).where(value.notna(), None)
        return [{str(k): _plain(v) for k, v in rec.items() if v is not None}
                for rec in frame.to_dict(orient="records")]
    return value


def _plain(value: Any) -> Any:
    """numpy scalars -> Python numbers (pydantic takes int/float, not numpy.int64)."""
    item = getattr(value, "item", None)
    if item is not None and not isinstance(value, (str, bytes)) and getattr(value, "shape", None) == ():
        return item()
    return value


def _missing_file(path: Path, shown: str) -> str | None:
    """Why `path` cannot be read as a file (None if it can): an OSError such as a name too
    long, or a symlink loop, becomes a plain message instead of a traceback."""
    try:
        if path.is_file():
            return None
        if path.is_symlink():
            return f"{shown} is a symbolic link that leads to no file (a loop, or its target is missing)"
        if path.exists():
            return f"{shown} is not a regular file"
    except OSError as exc:
        name = shown if len(shown) <= 80 else shown[:77] + "..."
        return f"cannot open {name}: {exc.strerror or exc}"
    return "not found"


def _document(data: Any, path: Path, shown: str) -> Document:
    if not isinstance(data, dict):
        raise InputError(Problem("expected a mapping of keys (kind, settings, tables)", file=shown))

    from stockpile.models import get_model, known_kinds

    kind = data.get("kind")
    if kind is None:
        raise InputError(Problem(f"missing required key 'kind' (one of {', '.join(known_kinds())})", file=shown))
    if not isinstance(kind, str) or kind not in known_kinds():
        raise InputError(
            Problem(
                f"unknown kind '{kind}', expected one of {', '.join(known_kinds())}"
                + did_you_mean(str(kind), known_kinds()),
                file=shown,
                field="kind",
            )
        )
    spec = get_model(kind)
    doc = Document(data, path, shown=shown)
    problems = []
    for name, value in list(data.items()):
        if name in BASE_KEYS:
            continue
        if name not in spec.tables:
            problems.append(
                Problem(
                    f"unknown key '{name}' for kind {kind}" + did_you_mean(name, [*BASE_KEYS, *spec.tables]),
                    file=shown,
                )
            )
            continue
        try:
            data[name], doc.origins[name] = _read_table(name, value, path, shown, spec.tables[name].row)
        except InputError as exc:
            problems.extend(exc.problems)
    if problems:
        raise InputError(problems)
    return doc


def validate(doc: Document) -> Instance:
    """Validate a document against its model's schema and rules."""
    from stockpile.models import get_model

    data, shown = doc.data, doc.shown or str(doc.path)
    spec = get_model(data["kind"])
    problems: list[Problem] = []

    periods = _validate_periods(data, spec.timed, shown, problems)
    period_days = _number_or_none(data.get("period_days")) if not problems else None
    start_date = _validate_start_date(data, spec.timed, shown, problems)
    settings = None
    raw_settings = data.get("settings") or {}
    if not isinstance(raw_settings, dict):
        problems.append(Problem("expected a mapping of settings", file=shown, field="settings"))
        raw_settings = {}
    try:
        settings = spec.settings(**{str(k): v for k, v in raw_settings.items()})
    except ValidationError as exc:
        for err in exc.errors():
            problems.append(_problem_from_pydantic(err, spec.settings, dict(file=shown, field="settings"), "settings."))
    calendar = Calendar(start_date, period_days, periods)

    tables: dict[str, list] = {}
    for name, table in spec.tables.items():
        origin = doc.origins.get(name, Origin(shown))
        if name not in data or data[name] is None:
            if table.required:
                problems.append(Problem(f"table '{name}' is required", file=shown))
            tables[name] = []
            continue
        records, table_problems = _validate_table(name, table, data[name], origin, calendar)
        tables[name] = records
        problems.extend(table_problems)

    if problems:
        raise InputError(problems[:MAX_PROBLEMS])

    instance = Instance(
        kind=data["kind"],
        name=str(data.get("name") or doc.path.stem),
        description=str(data.get("description") or ""),
        settings=settings,
        tables=tables,
        periods=periods,
        period_days=period_days,
        start_date=start_date,
        path=doc.path,
        origins={n: doc.origins.get(n, Origin(shown)) for n in spec.tables},
        raw=data,
    )
    problems.extend(_declared_rules(instance))
    if not problems:
        problems.extend(spec.validate(instance))
    if problems:
        raise InputError(problems[:MAX_PROBLEMS])
    return instance


# -- reading tables ---------------------------------------------------------------------


def _read_table(name: str, value: Any, instance_path: Path, shown: str, row_model) -> tuple[list[dict], Origin]:
    if isinstance(value, list):
        bad = [i for i, rec in enumerate(value) if not isinstance(rec, dict)]
        if bad:
            raise InputError(
                Problem("expected a record (a mapping of field: value)", file=shown, table=name, row=bad[0] + 1)
            )
        return value, Origin(shown)
    if isinstance(value, dict) and "file" in value:
        extra = set(value) - {"file", "sheet"}
        if extra:
            raise InputError(
                Problem(f"unknown key '{sorted(map(str, extra))[0]}' in a table file reference (expected file, sheet)",
                        file=shown, table=name)
            )
        return _read_table_file(name, value["file"], value.get("sheet"), instance_path, shown, row_model)
    raise InputError(
        Problem("expected a list of records or {file: path.csv|path.xlsx}", file=shown, table=name)
    )


def _read_table_file(name: str, relative: Any, sheet: Any, instance_path: Path, shown: str,
                     row_model) -> tuple[list[dict], Origin]:
    where = dict(file=shown, table=name, field="file")
    if not isinstance(relative, str) or not relative.strip():
        raise InputError(Problem("expected a relative file path", **where))
    rel = Path(relative)
    try:
        folder = instance_path.parent.resolve()
        target = (folder / rel).resolve()
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop (Python < 3.13)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "a symbolic link loop"
        raise InputError(Problem(f"file '{relative[:80]}' cannot be opened: {reason}", **where)) from None
    if rel.is_absolute() or not target.is_relative_to(folder):
        raise InputError(
            Problem(f"file '{relative}' lies outside the instance's folder; use a relative path inside it", **where)
        )
    missing = _missing_file(target, relative)
    if missing:
        text = f"file '{relative}' not found" if missing == "not found" else f"file {missing}"
        raise InputError(Problem(text, **where))
    file_shown = str(instance_path.parent / rel)
    suffix = target.suffix.lower()
    if suffix == ".csv":
        if sheet is not None:
            raise InputError(Problem("'sheet' applies to .xlsx files only", file=shown, table=name, field="sheet"))
        found = read_csv(target, file_shown, name, numeric_fields(row_model))
    elif suffix in (".xlsx", ".xlsm"):
        found = read_xlsx(target, file_shown, name, sheet)
    else:
        raise InputError(Problem(f"file '{relative}': expected .csv or .xlsx", **where))
    return found.rows, Origin(found.shown, lines=found.lines, header=found.header)


# -- validating ---------------------------------------------------------------------------


def _number_or_none(value: Any) -> float | None:
    return None if value is None else float(value)


def _validate_periods(data: dict, timed: bool, shown: str, problems: list[Problem]) -> int | None:
    kind = data["kind"]
    periods = data.get("periods")
    if not timed:
        for key in ("periods", "period_days", "start_date"):
            if data.get(key) is not None:
                problems.append(Problem(f"'{key}' does not apply to kind {kind} (it has no time periods)",
                                        file=shown, field=key))
        return None
    if periods is None:
        problems.append(Problem(f"'periods' is required for kind {kind} (number of periods, ≥ 1)",
                                file=shown, field="periods"))
        return None
    try:
        as_float = float(parse_number(periods))
    except (TypeError, ValueError, OverflowError):
        as_float = math.nan
    if not as_float.is_integer() or as_float < 1:
        shown_value = periods if not isinstance(periods, int) or len(str(periods)) < 40 else "a huge number"
        problems.append(Problem(f"expected a whole number of periods ≥ 1, got {shown_value!r}",
                                file=shown, field="periods"))
        return None
    days = data.get("period_days")
    if days is not None:
        try:
            ok = parse_number(days) > 0
        except (TypeError, ValueError):
            ok = False
        if not ok:
            problems.append(Problem(f"expected a number of days > 0, got {days!r}", file=shown, field="period_days"))
    return int(as_float)


def _validate_start_date(data: dict, timed: bool, shown: str, problems: list[Problem]) -> dt.date | None:
    value = data.get("start_date")
    if value is None or not timed:
        return None
    try:
        day = as_date(value)
    except ValueError as exc:
        day, message = None, str(exc)
    else:
        message = f"expected an ISO date (YYYY-MM-DD), got {value!r}"
    if day is None:
        problems.append(Problem(message, file=shown, field="start_date"))
    return day


_ISO_SOMEWHERE = re.compile(r"\d{4}-\d\d-\d\d")


@dataclass(frozen=True)
class Calendar:
    """What converting a date cell to a period needs."""

    start: dt.date | None
    period_days: float | None
    periods: int | None


def numeric_fields(row_model) -> set[str]:
    """Fields whose values are numbers (their decimal commas are converted in ';' files)."""
    return {name for name, info in row_model.model_fields.items() if _base_type(info.annotation) in (int, float)}


def _base_type(annotation: Any) -> Any:
    """float for `Number | None`, `Annotated[float, ...]` and the like."""
    for _ in range(4):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if typing.get_origin(annotation) is typing.Annotated or (type(None) in typing.get_args(annotation)
                                                                 and len(args) == 1):
            annotation = args[0]
        else:
            break
    return annotation


def _validate_table(name: str, table: Table, rows: list[dict], origin: Origin, calendar: Calendar):
    """Header, dates, then the records of one table: (records, problems)."""
    if origin.header is not None:
        header_problems = _header_problems(name, table, origin)
        if header_problems:
            return [], header_problems
    rows, problems = _convert_dates(name, table, rows, origin, calendar)
    if problems:
        return [], problems
    if table.required and not rows and origin.header is not None:
        # a required table's file with a header and nothing under it is an export gone wrong,
        # more often than a table meant to be empty: say so here rather than let a reference
        # to it fail elsewhere (an empty list written inline is taken as meant)
        return [], [Problem("the file has a header but no rows (the table is required)", file=origin.file, table=name)]
    records = columns.validate(rows, table.row)
    if records is not None:
        return records, []
    return _validate_records(name, rows, table.row, origin)


def _header_problems(name: str, table: Table, origin: Origin) -> list[Problem]:
    """One problem per misnamed or missing column, instead of one per row."""
    fields = table.row.model_fields
    former = table.row.former_names
    problems = []
    for column in origin.header or ():
        if not column or column in fields:
            continue
        if column in former:
            message = f"column '{column}' in the header is now called '{former[column]}' (see docs/fields.md)"
        else:
            message = f"unknown column '{column}' in the header" + did_you_mean(column, list(fields))
        problems.append(Problem(message, file=origin.file, table=name, field=column))
    for fieldname, info in fields.items():
        if info.is_required() and fieldname not in (origin.header or ()):
            problems.append(Problem(f"required column '{fieldname}' is missing from the header",
                                    file=origin.file, table=name, field=fieldname))
    return problems


def _convert_dates(name: str, table: Table, rows: list[dict], origin: Origin,
                   calendar: Calendar) -> tuple[list[dict], list[Problem]]:
    """Rows with every date in a period or date field replaced by its period number.

    The document's rows are not changed (a sweep validates edited copies again)."""
    problems: list[Problem] = []
    converted: list[dict] | None = None
    for fieldname in (*table.periods, *table.dates):
        column = [row.get(fieldname) for row in rows]
        texts = [v for v in column if type(v) is str]
        if not (texts and _ISO_SOMEWHERE.search("\n".join(texts))) and (
                len(texts) == len(column) or not any(isinstance(v, dt.date) for v in column)):
            continue  # no date here (checked on the whole column at once)
        for index, value in enumerate(column):
            try:
                day = as_date(value)
            except ValueError as exc:
                problems.append(Problem(str(exc), **origin.locate(name, index, fieldname)))
                continue
            if day is None:
                continue
            period, problem = _period_of_date(day, fieldname in table.periods, calendar)
            if problem:
                problems.append(Problem(problem, **origin.locate(name, index, fieldname)))
                continue
            if converted is None:
                converted = list(rows)
            converted[index] = {**converted[index], fieldname: period}
    return (converted if converted is not None else rows), problems[:MAX_PROBLEMS]


def _period_of_date(day: dt.date, bounded: bool, calendar: Calendar) -> tuple[int | None, str | None]:
    if calendar.start is None:
        return None, f"the date {day} needs a top-level start_date (the first day of period 0)"
    period = period_of(day, calendar.start, calendar.period_days)
    if bounded and period < 0:
        return None, f"the date {day} is before start_date {calendar.start}"
    if bounded and calendar.periods is not None and period >= calendar.periods:
        end = first_day(calendar.periods, calendar.start, calendar.period_days) - dt.timedelta(days=1)
        return None, f"the date {day} is past the horizon (period {calendar.periods - 1} ends on {end})"
    return period, None


def _validate_records(name: str, rows: list[dict], row_model, origin: Origin):
    records, problems = [], []
    unknown_reported: set[str] = set()
    for index, raw in enumerate(rows):
        try:
            records.append(row_model(**{str(k): v for k, v in raw.items()}))
        except ValidationError as exc:
            for err in exc.errors():
                loc = origin.locate(name, index)
                problem = _problem_from_pydantic(err, row_model, loc)
                if err["type"] == "extra_forbidden":
                    # one report per unknown column, not one per row
                    if problem.field in unknown_reported:
                        continue
                    unknown_reported.add(problem.field)
                problems.append(problem)
        if len(problems) >= MAX_PROBLEMS:
            break
    return records, problems


_PHRASES = {
    "missing": "required field is missing",
    "string_type": "expected text",
    "float_type": "expected a number",
    "int_type": "expected a whole number",
    "greater_than_equal": "expected a number ≥ {ge}",
    "less_than_equal": "expected a number ≤ {le}",
    "greater_than": "expected a number > {gt}",
    "finite_number": "expected a finite number",
    "literal_error": "expected {expected}",
}


def _problem_from_pydantic(err: dict, model, where: dict, prefix: str = "") -> Problem:
    loc = [str(p) for p in err.get("loc", ()) if not isinstance(p, int)]
    fieldname = loc[0] if loc else None
    kind = err["type"]
    given = err.get("input")
    if kind == "extra_forbidden":
        message = f"unknown field '{prefix}{fieldname}'" + did_you_mean(fieldname, list(model.model_fields))
    elif kind in _PHRASES:
        message = _PHRASES[kind].format(**(err.get("ctx") or {}))
        if kind != "missing":
            message += f", got {given!r}"
    else:
        message = err["msg"]
        if message.startswith("Value error, "):
            message = message[len("Value error, "):]
        if message.lower().startswith("input should be"):
            message = "expected" + message[len("input should be"):] + f", got {given!r}"
    where = dict(where)
    where["field"] = f"{prefix}{fieldname}" if fieldname else where.get("field")
    return Problem(message, **where)


def _declared_rules(instance: Instance) -> list[Problem]:
    """Duplicate keys, dangling references and period ranges, as each Table declares.

    Each rule is first tested on whole columns (sets, C-speed); only a table that breaks it
    is walked row by row to say where (at most MAX_PROBLEMS rows per rule)."""
    spec = instance.model
    problems: list[Problem] = []
    ids: dict[str, set[str]] = {}
    for name, table in spec.tables.items():
        if len(table.key) == 1:
            ids[name] = set(map(attrgetter(table.key[0]), instance[name]))
    for name, table in spec.tables.items():
        rows = instance[name]
        if table.key:
            keys = list(zip(*(map(attrgetter(k), rows) for k in table.key)))
            if len(set(keys)) < len(keys):
                problems.extend(_duplicates(instance, name, table.key, keys))
        for fieldname, target in table.refs.items():
            known = ids.get(target, set())
            if set(map(attrgetter(fieldname), rows)) - known - {None}:
                problems.extend(_dangling(instance, name, fieldname, target, known))
        if instance.periods is not None:
            for fieldname in table.periods:
                distinct = set(map(attrgetter(fieldname), rows)) - {None}
                if any(not 0 <= v < instance.periods for v in distinct):
                    problems.extend(_out_of_range(instance, name, fieldname))
    return problems


def _duplicates(instance: Instance, name: str, key: tuple[str, ...], keys: list[tuple]) -> list[Problem]:
    out: list[Problem] = []
    seen: dict[tuple, int] = {}
    for i, values in enumerate(keys):
        if values in seen:
            shown = ", ".join(f"{k}={v}" for k, v in zip(key, values))
            out.append(instance.problem(name, i, key[-1], f"duplicate {shown} (first in row {seen[values] + 1})"))
            if len(out) >= MAX_PROBLEMS:
                break
        else:
            seen[values] = i
    return out


def _dangling(instance: Instance, name: str, fieldname: str, target: str, known: set) -> list[Problem]:
    out: list[Problem] = []
    choices = sorted(known)
    for i, rec in enumerate(instance[name]):
        value = getattr(rec, fieldname)
        if value is not None and value not in known:
            out.append(instance.problem(name, i, fieldname,
                                        f"'{value}' is not an id in table '{target}'" + did_you_mean(value, choices)))
            if len(out) >= MAX_PROBLEMS:
                break
    return out


def _out_of_range(instance: Instance, name: str, fieldname: str) -> list[Problem]:
    out: list[Problem] = []
    for i, rec in enumerate(instance[name]):
        value = getattr(rec, fieldname)
        if value is not None and not 0 <= value < instance.periods:
            out.append(instance.problem(name, i, fieldname,
                                        f"expected a period within 0..{instance.periods - 1}, got {value}"))
            if len(out) >= MAX_PROBLEMS:
                break
    return out
