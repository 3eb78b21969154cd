"""report.html of a sweep: the objective, its terms, every KPI and every decision column of
sweep.csv against the swept values, and the table itself.

The swept inputs are the columns between `point` and `status` (sweep.csv's layout). With one
swept input it is the horizontal axis; with several, the first is the axis and each
combination of the others a line. Columns named `<group>.<item>` (a decision per product or
supplier) are drawn together, one line per item.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import InputError, Problem
from .content import parse_csv
from .html import esc, figure, page, svg_chart, table_html

SKIPPED = {"point", "status", "reason", "mip_gap", "solve_seconds"}


def sweep_html(folder: str | Path) -> str:
    folder = Path(folder)
    path = folder / "sweep.csv"
    if not path.is_file():
        raise InputError(Problem(f"{folder} is not a sweep folder: it has no sweep.csv"))
    frame = parse_csv(path.read_text(encoding="utf-8-sig"))
    columns = list(frame.columns)
    if "point" not in columns or "status" not in columns:
        raise InputError(Problem("sweep.csv lacks its point and status columns", file=str(path)))
    swept = columns[columns.index("point") + 1: columns.index("status")]
    solved = frame[frame["status"].isin(["optimal", "feasible"])]
    metrics = [c for c in columns if c not in SKIPPED and c not in swept and pd.api.types.is_numeric_dtype(frame[c])
               and solved[c].nunique(dropna=True) > 1]  # a figure the sweep does not move says nothing here
    figures = _figures(solved, swept, metrics)
    kinds = {c: ("number" if pd.api.types.is_numeric_dtype(frame[c]) else "text") for c in columns}
    statuses = ", ".join(f"{n} {s}" for s, n in frame["status"].value_counts().items())
    sections = []
    if figures:
        sections.append(("curves", "Against the swept values", f'<div class="charts">{"".join(figures)}</div>'))
    sections.append(("points", "Points", f'<p class="muted">{len(frame)} points: {esc(statuses)}.</p>'
                     + table_html(frame, kinds, limit=1000)))
    unmoved = [c for c in columns if c not in SKIPPED and c not in swept and c not in metrics
               and pd.api.types.is_numeric_dtype(frame[c])]
    notes = [f"Not drawn, the same at every solved point: {', '.join(unmoved)}."] if unmoved else []
    return page(f"Sweep of {', '.join(swept) or 'no input'}", sections, f"{folder}", notes)


def _figures(solved: pd.DataFrame, swept: list[str], metrics: list[str]) -> list[str]:
    if solved.empty or not swept:
        return []
    x = swept[0]
    others = swept[1:]
    data = solved.copy()
    data[x] = data[x].where(data[x].astype(str) != "", "unset")  # an unset input (its default)
    numeric_x = pd.api.types.is_numeric_dtype(data[x])
    kind = "line" if numeric_x else "bar"
    groups: dict[str, list[str]] = {}
    for metric in metrics:
        head = metric.split(".", 1)[0] if "." in metric else metric
        groups.setdefault(head, []).append(metric)
    out = []
    for n, (head, members) in enumerate(groups.items()):
        if len(members) > 1 and not others:
            table = data.groupby(x, sort=numeric_x)[members].first()
            table.columns = [m.split(".", 1)[1] for m in members]
            charts = [(head, table)]
        else:
            charts = []
            for metric in members:
                if others:
                    label = data[others].astype(str).agg(", ".join, axis=1)
                    table = data.assign(_line=label).pivot_table(index=x, columns="_line", values=metric,
                                                                 aggfunc="first", sort=numeric_x)
                    table.columns = [f"{', '.join(others)} = {c}" for c in table.columns]
                else:
                    table = data.groupby(x, sort=numeric_x)[[metric]].first()
                charts.append((metric, table))
        for k, (title, table) in enumerate(charts):
            svg = svg_chart(kind, f"{title} against {x}", table.astype(float), xlabel=x, ylabel=title,
                            salt=f"sweep-{n}-{k}")
            if svg:
                out.append(figure(svg, "from sweep.csv", f"sweep:{title}"))
    return out
