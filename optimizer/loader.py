"""Instance files -> validated `Instance`: read YAML/JSON, resolve table files, validate.

Reading (file -> document of plain records) and validation (document -> typed Instance)
are separate so that a sweep can edit the document and validate it again.
"""

from __future__ import annotations

import copy
import csv
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .errors import InputError, Problem, did_you_mean
from .instance import Instance, Origin

BASE_KEYS = ("kind", "name", "description", "periods", "period_days", "settings")
MAX_PROBLEMS = 25  # enough to fix a file in one go, few enough to read


@dataclass
class Document:
    """An instance file with its table files read in: plain dicts, not yet validated."""

    data: dict[str, Any]
    path: Path
    origins: dict[str, Origin] = field(default_factory=dict)

    def copy(self) -> "Document":
        return Document(copy.deepcopy(self.data), self.path, dict(self.origins))


def load(path: str | Path) -> Instance:
    """Read and validate an instance file; raises InputError listing every problem."""
    return validate(read(path))


def read(path: str | Path) -> Document:
    path = Path(path)
    shown = str(path)
    if not path.is_file():
        raise InputError(Problem(f"instance file not found: {shown}"))
    text = _read_text(path, shown)
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            data = json.loads(text)
        elif suffix in (".yaml", ".yml"):
            data = yaml.safe_load(text)
        else:
            raise InputError(Problem("expected a .yaml, .yml or .json instance file", file=shown))
    except json.JSONDecodeError as exc:
        raise InputError(Problem(f"invalid JSON at line {exc.lineno}: {exc.msg}", file=shown)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        reason = getattr(exc, "problem", None) or "could not parse"
        raise InputError(Problem(f"invalid YAML{at}: {reason}", file=shown)) from None
    if not isinstance(data, dict):
        raise InputError(Problem("expected a mapping of keys (kind, settings, tables)", file=shown))

    from models import get_model, known_kinds

    kind = data.get("kind")
    if kind is None:
        raise InputError(Problem(f"missing required key 'kind' (one of {', '.join(known_kinds())})", file=shown))
    if kind not in known_kinds():
        raise InputError(
            Problem(
                f"unknown kind '{kind}', expected one of {', '.join(known_kinds())}"
                + did_you_mean(kind, known_kinds()),
                file=shown,
                field="kind",
            )
        )
    spec = get_model(kind)
    doc = Document(data, path)
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
            data[name], doc.origins[name] = _read_table(name, value, path)
        except InputError as exc:
            problems.extend(exc.problems)
    if problems:
        raise InputError(problems)
    return doc


def validate(doc: Document) -> Instance:
    """Validate a document against its model's schema and rules."""
    from models import get_model

    data, shown = doc.data, str(doc.path)
    spec = get_model(data["kind"])
    problems: list[Problem] = []

    periods = _validate_periods(data, spec.timed, shown, problems)
    settings = None
    raw_settings = data.get("settings") or {}
    if not isinstance(raw_settings, dict):
        problems.append(Problem("expected a mapping of settings", file=shown, field="settings"))
        raw_settings = {}
    try:
        settings = spec.settings(**raw_settings)
    except ValidationError as exc:
        for err in exc.errors():
            problems.append(_problem_from_pydantic(err, spec.settings, dict(file=shown, field="settings"), "settings."))

    tables: dict[str, list] = {}
    for name, table in spec.tables.items():
        origin = doc.origins.get(name, Origin(shown))
        if name not in data or data[name] is None:
            if table.required:
                problems.append(Problem(f"table '{name}' is required", file=shown))
            tables[name] = []
            continue
        records, table_problems = _validate_records(name, data[name], table.row, origin)
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
        period_days=_number_or_none(data.get("period_days")),
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


def _read_text(path: Path, shown: str) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(Problem(f"not UTF-8 text (byte {exc.start})", file=shown)) from None
    except OSError as exc:
        raise InputError(Problem(f"cannot read: {exc.strerror}", file=shown)) from None


def _read_table(name: str, value: Any, instance_path: Path) -> tuple[list[dict], Origin]:
    shown = str(instance_path)
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
                Problem(f"unknown key '{sorted(extra)[0]}' in a table file reference (expected file, sheet)",
                        file=shown, table=name)
            )
        return _read_table_file(name, value["file"], value.get("sheet"), instance_path)
    raise InputError(
        Problem("expected a list of records or {file: path.csv|path.xlsx}", file=shown, table=name)
    )


def _read_table_file(name: str, relative: Any, sheet: Any, instance_path: Path) -> tuple[list[dict], Origin]:
    shown = str(instance_path)
    if not isinstance(relative, str) or not relative.strip():
        raise InputError(Problem("expected a relative file path", file=shown, table=name, field="file"))
    rel = Path(relative)
    folder = instance_path.parent.resolve()
    target = (folder / rel).resolve()
    if rel.is_absolute() or not target.is_relative_to(folder):
        raise InputError(
            Problem(f"file '{relative}' lies outside the instance's folder; use a relative path inside it",
                    file=shown, table=name, field="file")
        )
    if not target.is_file():
        raise InputError(Problem(f"file '{relative}' not found", file=shown, table=name, field="file"))
    file_shown = str(instance_path.parent / rel)
    suffix = target.suffix.lower()
    if suffix == ".csv":
        if sheet is not None:
            raise InputError(Problem("'sheet' applies to .xlsx files only", file=shown, table=name, field="sheet"))
        rows, lines = _read_csv(target, file_shown, name)
        return rows, Origin(file_shown, lines=lines)
    if suffix in (".xlsx", ".xlsm"):
        rows, lines, sheet_name = _read_xlsx(target, file_shown, name, sheet)
        return rows, Origin(f"{file_shown}[{sheet_name}]", lines=lines)
    raise InputError(Problem(f"file '{relative}': expected .csv or .xlsx", file=shown, table=name, field="file"))


def _header(cells: list[Any], file_shown: str, table: str) -> list[str]:
    header = ["" if c is None else str(c).strip() for c in cells]
    if not any(header):
        raise InputError(Problem("the first row must be a header of field names", file=file_shown, table=table))
    dup = [h for h, n in Counter(header).items() if n > 1 and h]
    if dup:
        raise InputError(Problem(f"column '{dup[0]}' appears twice in the header", file=file_shown, table=table))
    return header


def _read_csv(path: Path, file_shown: str, table: str) -> tuple[list[dict], tuple[int, ...]]:
    text = _read_text(path, file_shown)
    reader = csv.reader(text.splitlines())
    rows: list[dict] = []
    lines: list[int] = []
    header = None
    for cells in reader:
        if header is None:
            header = _header(cells, file_shown, table)
            continue
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > len(header):
            raise InputError(
                Problem(f"{len(cells)} cells but the header has {len(header)} columns",
                        file=file_shown, table=table, row=len(rows) + 1, line=reader.line_num)
            )
        record = {h: c.strip() for h, c in zip(header, cells) if h and c.strip() != ""}
        rows.append(record)
        lines.append(reader.line_num)
    if header is None:
        raise InputError(Problem("empty file: expected a header row", file=file_shown, table=table))
    return rows, tuple(lines)


def _read_xlsx(path: Path, file_shown: str, table: str, sheet: Any):
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise InputError(Problem(f"cannot read the workbook: {exc}", file=file_shown, table=table)) from None
    if sheet is None:
        ws = book.worksheets[0]
    elif str(sheet) in book.sheetnames:
        ws = book[str(sheet)]
    else:
        raise InputError(
            Problem(f"no sheet '{sheet}' (sheets: {', '.join(book.sheetnames)})" + did_you_mean(sheet, book.sheetnames),
                    file=file_shown, table=table, field="sheet")
        )
    rows: list[dict] = []
    lines: list[int] = []
    header = None
    for number, cells in enumerate(ws.iter_rows(values_only=True), start=1):
        if header is None:
            header = _header(list(cells), file_shown, table)
            continue
        values = [c.strip() if isinstance(c, str) else c for c in cells]
        if all(v is None or v == "" for v in values):
            continue
        rows.append({h: v for h, v in zip(header, values) if h and v is not None and v != ""})
        lines.append(number)
    book.close()
    if header is None:
        raise InputError(Problem("empty sheet: expected a header row", file=file_shown, table=table))
    return rows, tuple(lines), ws.title


# -- validating ---------------------------------------------------------------------------


def _number_or_none(value: Any) -> float | None:
    return None if value is None else float(value)


def _validate_periods(data: dict, timed: bool, shown: str, problems: list[Problem]) -> int | None:
    kind = data["kind"]
    periods = data.get("periods")
    if not timed:
        for key in ("periods", "period_days"):
            if data.get(key) is not None:
                problems.append(Problem(f"'{key}' does not apply to kind {kind} (it has no time periods)",
                                        file=shown, field=key))
        return None
    if periods is None:
        problems.append(Problem(f"'periods' is required for kind {kind} (number of periods, ≥ 1)",
                                file=shown, field="periods"))
        return None
    try:
        as_float = float(periods)
    except (TypeError, ValueError):
        as_float = math.nan
    if isinstance(periods, bool) or not as_float.is_integer() or as_float < 1:
        problems.append(Problem(f"expected a whole number of periods ≥ 1, got {periods!r}", file=shown, field="periods"))
        return None
    days = data.get("period_days")
    if days is not None:
        try:
            ok = float(days) > 0 and math.isfinite(float(days)) and not isinstance(days, bool)
        except (TypeError, ValueError):
            ok = False
        if not ok:
            problems.append(Problem(f"expected a number of days > 0, got {days!r}", file=shown, field="period_days"))
    return int(as_float)


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
    """Duplicate keys, dangling references and period ranges, as each Table declares."""
    spec = instance.model
    problems: list[Problem] = []
    ids: dict[str, set[str]] = {}
    for name, table in spec.tables.items():
        if len(table.key) == 1:
            ids[name] = {getattr(r, table.key[0]) for r in instance[name]}
    for name, table in spec.tables.items():
        rows = instance[name]
        if table.key:
            seen: dict[tuple, int] = {}
            for i, rec in enumerate(rows):
                key = tuple(getattr(rec, k) for k in table.key)
                if key in seen:
                    shown = ", ".join(f"{k}={v}" for k, v in zip(table.key, key))
                    problems.append(instance.problem(name, i, table.key[-1],
                                                     f"duplicate {shown} (first in row {seen[key] + 1})"))
                else:
                    seen[key] = i
        for fieldname, target in table.refs.items():
            known = ids.get(target, set())
            for i, rec in enumerate(rows):
                value = getattr(rec, fieldname)
                if value is not None and value not in known:
                    problems.append(instance.problem(
                        name, i, fieldname,
                        f"'{value}' is not an id in table '{target}'" + did_you_mean(value, sorted(known))))
        if instance.periods is not None:
            for fieldname in table.periods:
                for i, rec in enumerate(rows):
                    value = getattr(rec, fieldname)
                    if value is not None and not 0 <= value < instance.periods:
                        problems.append(instance.problem(
                            name, i, fieldname, f"expected a period within 0..{instance.periods - 1}, got {value}"))
    return problems
