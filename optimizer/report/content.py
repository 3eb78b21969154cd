"""What a report shows, read the same way from a fresh result or a results folder.

Tables are parsed from the CSV text itself (so the workbook holds exactly the values of
the CSVs), id columns joined to the instance's names and units as the model declares.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import InputError, Problem
from .spec import Chart, ReportSpec, spec_of

KINDS = ("quantity", "money", "price", "rate", "integer", "number", "text")


@dataclass
class Run:
    """One run's summary and tables, with what its model declares."""

    summary: dict
    tables: dict[str, pd.DataFrame]
    spec: ReportSpec
    inputs: Any = None  # the validated Instance, when known (names and units)
    folder: Path | None = None
    notes: list[str] = field(default_factory=list)  # said at the top of the report

    @property
    def kind(self) -> str:
        return str(self.summary.get("kind") or "")

    @property
    def title(self) -> str:
        return f"{self.kind} '{self.summary.get('name', '')}'"

    def ordered_tables(self) -> list[str]:
        first = [t for t in self.spec.order if t in self.tables]
        return first + sorted(t for t in self.tables if t not in first)


def parse_csv(text: str) -> pd.DataFrame:
    """A CSV as written by a run: numeric columns as numbers (exact), the rest as text."""
    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    for col in frame.columns:
        values = frame[col]
        filled = values[values != ""]
        if filled.empty:
            continue
        try:
            parsed = pd.to_numeric(filled, errors="raise")
        except (ValueError, TypeError):
            continue
        if not pd.api.types.is_numeric_dtype(parsed):
            continue
        frame[col] = pd.to_numeric(values.replace("", None), errors="coerce")
    return frame


def from_files(files: dict[str, str | bytes], inputs: Any = None, folder: Path | None = None) -> Run:
    """A Run from a run's files (name -> text): summary.json and its CSVs."""
    text = files.get("summary.json")
    summary = json.loads(text) if text else {}
    tables = {}
    for name in sorted(files):
        if name.endswith(".csv"):
            content = files[name]
            tables[name[:-4]] = parse_csv(content.decode("utf-8") if isinstance(content, bytes) else content)
    run = Run(summary, tables, spec_of(summary.get("kind")), inputs, folder)
    return run


def from_folder(folder: str | Path, inputs: Any = None) -> Run:
    """A Run from a results folder; the instance is loaded from summary.json's path when not given."""
    folder = Path(folder)
    path = folder / "summary.json"
    if not path.is_file():
        raise InputError(Problem(f"{folder} is not a results folder: it has no summary.json"))
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(Problem(f"summary.json is not valid JSON ({exc})", file=str(path))) from None
    if not isinstance(summary, dict):
        raise InputError(Problem("summary.json must hold a JSON object", file=str(path)))
    files: dict[str, str | bytes] = {"summary.json": path.read_text(encoding="utf-8")}
    for csv in sorted(folder.glob("*.csv")):
        files[csv.name] = csv.read_text(encoding="utf-8-sig")
    notes = []
    if inputs is None:
        inputs, note = _instance_of(summary)
        if note:
            notes.append(note)
    run = from_files(files, inputs, folder)
    run.notes.extend(notes)
    return run


def _instance_of(summary: dict) -> tuple[Any, str | None]:
    """The instance recorded in the summary, loaded again (names and units), or a note why not."""
    recorded = (summary.get("instance") or {}) if isinstance(summary.get("instance"), dict) else {}
    file = recorded.get("file")
    if not file:
        return None, "the instance of this run is not recorded; names and units are not shown (give --instance)"
    if not Path(file).is_file():
        return None, f"the instance {file} is no longer there; names and units are not shown (give --instance)"
    from .. import loader

    try:
        return loader.load(file), None
    except InputError:
        return None, f"the instance {file} no longer validates; names and units are not shown"


# -- joins and column kinds -----------------------------------------------------------------


def labelled(run: Run, name: str) -> pd.DataFrame:
    """A result table with the declared names and units placed after each id column."""
    frame = run.tables[name]
    if run.inputs is None:
        return frame
    for join in run.spec.joins:
        if join.column not in frame.columns or join.table not in getattr(run.inputs, "tables", {}):
            continue
        try:
            source = run.inputs.frame(join.table)
        except Exception:  # a declared table the model no longer has: skip it
            continue
        if join.key not in source.columns:
            continue
        lookup = source.set_index(source[join.key].astype(str))
        ids = frame[join.column].map(_id_text)
        at = list(frame.columns).index(join.column) + 1
        for fieldname in join.fields:
            column = f"{join.column}_{fieldname}"
            if fieldname not in lookup.columns or column in frame.columns:
                continue
            mapping = lookup[fieldname].where(lookup[fieldname].notna(), "")
            mapping = mapping[~mapping.index.duplicated()]
            values = ids.map(mapping).fillna("")
            if not (values.astype(str) != "").any():
                continue
            frame = frame.copy() if frame is run.tables[name] else frame
            frame.insert(at, column, values.astype(str))
            at += 1
    return frame


def _id_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def column_kind(frame: pd.DataFrame, column: str, spec: ReportSpec) -> str:
    """quantity | money | rate (declared), else integer | number | text from the values."""
    if not pd.api.types.is_numeric_dtype(frame[column]) or pd.api.types.is_bool_dtype(frame[column]):
        return "text"
    if column in spec.rates:
        return "rate"
    if column in spec.money:
        return "money"
    if column in spec.prices:
        return "price"
    if column in spec.quantities:
        return "quantity"
    values = frame[column].dropna()
    if len(values) and (values == values.round()).all():
        return "integer"
    return "number"


def value_kind(name: str, value: Any, spec: ReportSpec) -> str:
    """The kind of one summary figure (a KPI or objective term) by its declared name."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "text"
    base = name.split(".")[0]
    for kind, names in (("rate", spec.rates), ("money", spec.money), ("price", spec.prices),
                        ("quantity", spec.quantities)):
        if name in names or base in names:
            return kind
    return "integer" if float(value).is_integer() else "number"


def summary_rows(run: Run) -> list[tuple[str, str, Any, str]]:
    """(section, item, value, kind) for the summary sheet and the report's summary."""
    s = run.summary
    rows: list[tuple[str, str, Any, str]] = [
        ("run", "model", s.get("kind"), "text"),
        ("run", "instance", s.get("name"), "text"),
    ]
    recorded = s.get("instance") if isinstance(s.get("instance"), dict) else {}
    description = recorded.get("description") or getattr(run.inputs, "description", "") or ""
    if description:
        rows.append(("run", "description", " ".join(str(description).split()), "text"))
    rows.append(("run", "status", s.get("status"), "text"))
    if s.get("reason"):
        rows.append(("run", "reason", s.get("reason"), "text"))
    rows.append(("objective", "objective", s.get("objective"), "money"))
    for term, value in (s.get("objective_terms") or {}).items():
        rows.append(("objective", f"  {term}", value, "money"))
    gap = s.get("mip_gap")
    rows.append(("objective", "gap", gap, "rate" if isinstance(gap, (int, float)) else "text"))
    for key, value in _flat(s.get("kpis") or {}):
        rows.append(("kpis", key, value, value_kind(key, value, run.spec)))
    for key, value in (s.get("solver") or {}).items():
        kind = "money" if key == "bound" else value_kind(key, value, ReportSpec())
        rows.append(("solver", key, value, kind))
    if s.get("solve_seconds") is not None:
        rows.append(("solver", "solve seconds", s.get("solve_seconds"), "number"))
    return rows


def _flat(kpis: dict, prefix: str = "") -> list[tuple[str, Any]]:
    out = []
    for key, value in kpis.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.extend(_flat(value, name + "."))
        elif isinstance(value, list):
            out.append((name, json.dumps(value)))
        else:
            out.append((name, value))
    return out


# -- chart data -----------------------------------------------------------------------------


def names(run: Run) -> dict[str, dict[str, str]]:
    """id column -> {id: name} from the declared joins that bring a name (for chart titles)."""
    out: dict[str, dict[str, str]] = {}
    if run.inputs is None or run.inputs is False:
        return out
    for join in run.spec.joins:
        if "name" not in join.fields or join.table not in getattr(run.inputs, "tables", {}):
            continue
        try:
            source = run.inputs.frame(join.table)
        except Exception:
            continue
        if join.key in source.columns and "name" in source.columns:
            found = {str(k): str(v) for k, v in zip(source[join.key], source["name"]) if v not in (None, "")
                     and not (isinstance(v, float) and math.isnan(v))}
            if found:
                out[join.column] = found
    return out


def chart_data(chart: Chart, tables: dict[str, pd.DataFrame],
               labels: dict[str, dict[str, str]] | None = None) -> list[tuple[str, pd.DataFrame]] | None:
    """(title, frame indexed by x with one column per series) per facet; None when the table
    or a named column is missing, or nothing is left to draw. `labels` names facet values."""
    frame = tables.get(chart.table)
    if frame is None:
        return None
    ys = expand(chart.y, frame.columns)
    if not ys:
        return None
    needed = [chart.x, *ys, *(c for c in (chart.series, chart.facet) if c), *(c for c, _ in chart.where)]
    if any(c not in frame.columns for c in needed):
        return None
    if any(not pd.api.types.is_numeric_dtype(frame[c]) for c in ys):
        return None
    for column, value in chart.where:
        frame = frame[frame[column].astype(str) == str(value)]
    if frame.empty:
        return None
    groups = [(None, frame)] if not chart.facet else list(frame.groupby(chart.facet, sort=False))
    out = []
    for key, part in groups:
        if chart.series and len(ys) == 1:
            data = part.pivot_table(index=chart.x, columns=chart.series, values=ys[0], aggfunc=chart.agg,
                                    sort=False).fillna(0.0)
            data.columns = [str(c) for c in data.columns]
        else:
            data = part.groupby(chart.x, sort=False)[ys].agg(chart.agg)
        if pd.api.types.is_numeric_dtype(data.index):
            data = data.sort_index()
        if data.empty or data.shape[1] == 0:
            continue
        shown = (labels or {}).get(chart.facet or "", {}).get(_id_text(key), key)
        title = chart.title if key is None else f"{chart.title}: {shown}"
        out.append((title, data.astype(float)))
    return out or None


def expand(names: tuple[str, ...], columns) -> list[str]:
    """Column names, a trailing * matching every column with that prefix (in table order)."""
    out = []
    for name in names:
        if name.endswith("*"):
            out.extend(c for c in columns if str(c).startswith(name[:-1]) and c not in out)
        else:
            out.append(name)  # a missing column is caught by the caller
    return out
