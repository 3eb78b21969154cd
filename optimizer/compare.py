"""Compare two results folders of the same kind: what changed in the decisions and the KPIs.

The summary figures (objective, its terms, every numeric KPI) are compared for every kind;
the decision tables compared row by row are those the model declares
(`ReportSpec.comparisons`: key columns and value columns). A row present in one run only
counts as 0 in the other: an award that is not there is an award of nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .errors import InputError, Problem
from .report.content import Run, from_folder, value_kind

COLUMNS = ["table", "key", "field", "first", "second", "change", "relative_change"]
TOLERANCE = 1e-9  # relative: smaller differences are rounding, not change


@dataclass
class Comparison:
    first: Run
    second: Run
    frame: pd.DataFrame  # COLUMNS, one row per compared figure

    @property
    def changed(self) -> pd.DataFrame:
        return self.frame[self.frame["changed"]] if "changed" in self.frame else self.frame


def compare(first: str | Path, second: str | Path) -> Comparison:
    a, b = from_folder(first, inputs=False), from_folder(second, inputs=False)
    if a.kind != b.kind:
        raise InputError(Problem(f"{first} holds {a.kind or 'no'} results and {second} {b.kind or 'no'} results: "
                                 "only results of the same kind compare"))
    rows = _summary_rows(a, b)
    for spec in a.spec.comparisons:
        rows.extend(_table_rows(spec, a.tables.get(spec.table), b.tables.get(spec.table)))
    frame = pd.DataFrame(rows, columns=[*COLUMNS, "changed"])
    return Comparison(a, b, frame)


def _figure_row(table: str, key: str, fieldname: str, x, y) -> list:
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (x, y))
    if numeric:
        x, y = float(x), float(y)
        change = y - x
        relative = change / abs(x) if x else (math.inf if change else 0.0)
        changed = abs(change) > TOLERANCE * max(1.0, abs(x), abs(y))
        if not changed:
            change, relative = 0.0, 0.0
        return [table, key, fieldname, x, y, change, relative if math.isfinite(relative) else None, changed]
    return [table, key, fieldname, x, y, None, None, x != y]


def _summary_rows(a: Run, b: Run) -> list[list]:
    rows = [_figure_row("summary", "status", "", a.summary.get("status"), b.summary.get("status")),
            _figure_row("summary", "objective", "", a.summary.get("objective"), b.summary.get("objective"))]
    terms = {**(a.summary.get("objective_terms") or {}), **(b.summary.get("objective_terms") or {})}
    for term in terms:
        rows.append(_figure_row("summary", f"objective_terms.{term}", "",
                                (a.summary.get("objective_terms") or {}).get(term),
                                (b.summary.get("objective_terms") or {}).get(term)))
    ka, kb = _flat(a.summary.get("kpis") or {}), _flat(b.summary.get("kpis") or {})
    for key in [*ka, *(k for k in kb if k not in ka)]:
        rows.append(_figure_row("summary", f"kpis.{key}", "", ka.get(key), kb.get(key)))
    return rows


def _flat(kpis: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in kpis.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        elif not isinstance(value, list):
            out[f"{prefix}{key}"] = value
    return out


def _table_rows(spec, first: pd.DataFrame | None, second: pd.DataFrame | None) -> list[list]:
    frames = [f for f in (first, second) if f is not None]
    if not frames:
        return []
    needed = [*spec.keys, *spec.values]
    if any(c not in f.columns for f in frames for c in needed):
        return []  # a declaration that no longer fits the table is skipped
    empty = pd.DataFrame(columns=needed)
    merged = []
    for f in (first if first is not None else empty, second if second is not None else empty):
        part = f[needed].copy()
        part["_key"] = part[list(spec.keys)].astype(str).agg("/".join, axis=1)
        merged.append(part.groupby("_key", sort=False)[list(spec.values)].sum(numeric_only=False))
    keys = list(dict.fromkeys([*merged[0].index, *merged[1].index]))
    rows = []
    for key in keys:
        for value in spec.values:
            x = merged[0][value].get(key, 0.0) if key in merged[0].index else 0.0
            y = merged[1][value].get(key, 0.0) if key in merged[1].index else 0.0
            rows.append(_figure_row(spec.table, key, value, _plain(x), _plain(y)))
    return rows


def _plain(value):
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return 0.0
    return value


# -- output ---------------------------------------------------------------------------------


def _shown(value, kind: str) -> str:
    from .report.html import fmt_value

    return fmt_value(value, kind)


def render_text(found: Comparison, show_all: bool = False) -> str:
    """The comparison as a terminal table (changed figures only unless show_all)."""
    frame = found.frame if show_all else found.changed
    header = f"{found.first.folder} -> {found.second.folder} ({found.first.kind})"
    if frame.empty:
        return header + "\nno change in the objective, the KPIs or the compared decisions"
    spec = found.first.spec
    lines = []
    for row in frame.itertuples(index=False):
        name = row.field or (row.key[len("kpis."):] if row.key.startswith("kpis.") else row.key)
        kind = value_kind(name, row.first if row.first is not None else row.second, spec)
        if row.table == "summary" and row.key.startswith("objective"):
            kind = "money"
        relative = f"{row.relative_change:+.1%}" if isinstance(row.relative_change, float) else ""
        lines.append([row.table, row.key, row.field, _shown(row.first, kind), _shown(row.second, kind),
                      _shown(row.change, kind) if row.change is not None else "", relative])
    table = pd.DataFrame(lines, columns=["table", "key", "field", "first", "second", "change", "%"])
    return header + "\n" + table.to_string(index=False)


def write(found: Comparison, out: str | Path) -> list[Path]:
    """compare.csv (every compared figure) and report.html (the comparison) in out, as one set."""
    from .report.html import page
    from .results import write_run

    csv = found.frame[COLUMNS].to_csv(index=False, lineterminator="\n")
    html = page(f"Comparison of two {found.first.kind} runs",
                [("comparison", "What changed", comparison_html(found))],
                f"first: {found.first.folder} · second: {found.second.folder}")
    return write_run(out, {"compare.csv": csv, "report.html": html})


def comparison_html(found: Comparison) -> str:
    """A report section: the changed figures, and per compared table a chart of first vs second."""
    from .report.html import esc, figure, svg_chart, table_html

    changed = found.changed[COLUMNS]
    parts = [f'<p class="muted">{len(changed):,} of {len(found.frame):,} compared figures changed; '
             "compare.csv lists them all.</p>"]
    if not changed.empty:
        kinds = {c: "number" for c in ("first", "second", "change")} | {"relative_change": "rate"}
        parts.append(table_html(changed, kinds))
    figures = []
    for n, spec in enumerate(found.first.spec.comparisons):
        part = found.frame[(found.frame["table"] == spec.table) & (found.frame["field"] == spec.values[0])]
        if part.empty or not part["changed"].any():
            continue
        data = part.set_index("key")[["first", "second"]].astype(float)
        svg = svg_chart("bar", f"{spec.table}: {spec.values[0]}, first and second run", data,
                        xlabel="/".join(spec.keys), salt=f"cmp-{n}")
        if svg:
            figures.append(figure(svg, f"from {spec.table}.csv of both runs", f"compare:{spec.table}"))
    if figures:
        parts.append(f'<div class="charts">{"".join(figures)}</div>')
    return "".join(parts) + ("" if figures or not changed.empty else f"<p>{esc('No change.')}</p>")
