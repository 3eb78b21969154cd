"""report.html: one self-contained page (summary, charts, every result table) to open, print and mail.

Charts are drawn by matplotlib as SVG and inlined: no script, no font or file fetched at
view time, sharp on paper, and a few kB each.
"""

from __future__ import annotations

import html
import io
import math
import re
from typing import Any, Iterable

import pandas as pd

from .content import Run, chart_data, column_kind, labelled, summary_rows
from .spec import Chart

MAX_ROWS_SHOWN = 200  # rows of a table shown in the page; the workbook and CSV have them all
MAX_BARS = 80  # categories beyond this are not drawn as bars (the table says it)

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:2rem auto;max-width:72rem;
 padding:0 1rem;color:#1b1f24;line-height:1.4}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{border-bottom:2px solid #dce6f1;padding-bottom:.2rem;margin-top:2.2rem}
h3{margin:1.6rem 0 .3rem}.muted{color:#57606a}.note{background:#fff8c5;padding:.4rem .6rem;border-radius:4px}
table{border-collapse:collapse;font-size:.85rem;margin:.4rem 0}th,td{padding:.2rem .6rem;border-bottom:1px solid #e5e7eb}
th{background:#dce6f1;text-align:left;position:sticky;top:0}td.n{text-align:right;font-variant-numeric:tabular-nums}
.status-optimal,.status-feasible{color:#1a7f37;font-weight:600}.status-infeasible,.status-unbounded,.status-error{
 color:#cf222e;font-weight:600}.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(30rem,1fr));gap:1rem}
figure.chart{margin:0;border:1px solid #e5e7eb;border-radius:6px;padding:.4rem;break-inside:avoid}
figure.chart svg{width:100%;height:auto;display:block}figcaption{font-size:.8rem;color:#57606a}
.scroll{overflow-x:auto}nav a{margin-right:.8rem}
@media print{body{margin:0;max-width:none}nav{display:none}.charts{display:block}figure.chart{margin-bottom:1rem}
 th{position:static}}
"""


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def fmt_value(value: Any, kind: str) -> str:
    """A figure as a planner reads it: 4,610,667 units, 1,234.50 EUR, 38.4 %."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if not math.isfinite(value):
        return str(value)
    if kind in ("quantity", "integer"):
        return f"{value:,.0f}"
    if kind == "money":
        return f"{value:,.2f}"
    if kind == "price":
        return f"{value:,.4f}"
    if kind == "rate":
        return f"{value:.1%}"
    if abs(value) < 1:
        return f"{value:.6g}"
    return f"{value:,.2f}"


def table_html(frame: pd.DataFrame, kinds: dict[str, str], limit: int = MAX_ROWS_SHOWN) -> str:
    shown = frame.head(limit)
    head = "".join(f"<th>{esc(c)}</th>" for c in frame.columns)
    body = []
    for row in shown.itertuples(index=False):
        cells = []
        for column, value in zip(frame.columns, row):
            kind = kinds.get(column, "text")
            cls = ' class="n"' if kind != "text" else ""
            cells.append(f"<td{cls}>{esc(fmt_value(value, kind))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = (f'<p class="muted">The first {limit:,} of {len(frame):,} rows; every row is in the CSV and the '
            "workbook.</p>" if len(frame) > limit else "")
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>{more}'


# -- charts ---------------------------------------------------------------------------------


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "none", "font.size": 9, "axes.spines.top": False,
                         "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3})
    return plt


def svg_chart(kind: str, title: str, data: pd.DataFrame, *, xlabel: str = "", ylabel: str = "",
              percent: bool = False, salt: str = "0") -> str | None:
    """An inline <svg> of data (index = x, one column per series); None when nothing can be drawn."""
    if data.empty or data.shape[1] == 0 or not data.notna().any().any():
        return None
    if kind in ("bar", "stacked", "barh") and len(data) > MAX_BARS:
        return None
    plt = _pyplot()
    from matplotlib.ticker import FuncFormatter, PercentFormatter

    plt.rcParams["svg.hashsalt"] = f"stockpile-{salt}"
    height = 3.6 if kind != "barh" else max(2.4, 0.28 * len(data) + 1.2)
    fig, ax = plt.subplots(figsize=(7.2, height))
    try:
        plot = data.copy()
        plot.index = [str(i) for i in plot.index] if kind in ("bar", "stacked", "barh") else plot.index
        many = data.shape[1] > 1
        if kind == "line":
            plot.plot(ax=ax, marker="o" if len(plot) <= 30 else None, linewidth=1.6, legend=many)
        elif kind == "area":
            plot.clip(lower=0).plot.area(ax=ax, stacked=True, linewidth=0, legend=many)
        elif kind == "barh":
            plot.plot.barh(ax=ax, legend=many, width=0.8)
            ax.invert_yaxis()
        else:
            plot.plot.bar(ax=ax, stacked=kind == "stacked", legend=many, width=0.8, rot=0 if len(plot) <= 6 else 45)
            if len(plot) > 6:
                plt.setp(ax.get_xticklabels(), ha="right")
        if kind in ("line", "area") and pd.api.types.is_numeric_dtype(data.index):
            ax.xaxis.set_major_formatter(FuncFormatter(_tick))
        values_axis = ax.xaxis if kind == "barh" else ax.yaxis
        values_axis.set_major_formatter(PercentFormatter(1.0) if percent else FuncFormatter(_tick))
        ax.set_title(title, loc="left", fontsize=10, fontweight="bold")
        ax.set_xlabel(ylabel if kind == "barh" else xlabel)
        ax.set_ylabel(xlabel if kind == "barh" else ylabel)
        if many:
            ax.legend(fontsize=8, ncols=min(4, data.shape[1]), loc="upper center", bbox_to_anchor=(0.5, -0.22),
                      frameon=False)
        fig.tight_layout()
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    finally:
        plt.close(fig)
    text = buffer.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    return re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"', r"<svg\1", text, count=1)


def _tick(value: float, _pos=None) -> str:
    magnitude = abs(value)
    if magnitude >= 1e9:
        return f"{value / 1e9:,.1f}G".replace(".0G", "G")
    if magnitude >= 1e6:
        return f"{value / 1e6:,.1f}M".replace(".0M", "M")
    if magnitude >= 1e4:
        return f"{value / 1e3:,.0f}k"
    return f"{value:,.6g}"


def figure(svg: str, caption: str = "", name: str = "") -> str:
    return (f'<figure class="chart" data-chart="{esc(name)}">{svg}'
            + (f"<figcaption>{esc(caption)}</figcaption>" if caption else "") + "</figure>")


def declared_figures(run: Run, charts: Iterable[Chart], start: int = 0) -> list[str]:
    out = []
    for n, chart in enumerate(charts, start=start):
        for k, (title, data) in enumerate(chart_data(chart, run.tables) or []):
            svg = svg_chart(chart.kind, title, data, xlabel=chart.x, ylabel=chart.unit or ", ".join(chart.y),
                            percent=chart.percent, salt=f"{n}-{k}")
            if svg:
                out.append(figure(svg, f"from {chart.table}.csv", f"{chart.table}:{title}"))
    return out


# -- the page -------------------------------------------------------------------------------


def page(title: str, sections: list[tuple[str, str, str]], subtitle: str = "", notes: Iterable[str] = ()) -> str:
    """The frame: header, contents, then (id, heading, html) sections."""
    nav = " ".join(f'<a href="#{esc(sid)}">{esc(heading)}</a>' for sid, heading, _ in sections)
    body = "".join(f'<section id="{esc(sid)}"><h2>{esc(heading)}</h2>{content}</section>'
                   for sid, heading, content in sections)
    notes_html = "".join(f'<p class="note">{esc(n)}</p>' for n in notes)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>"
            f"<header><h1>{esc(title)}</h1>"
            + (f'<p class="muted">{esc(subtitle)}</p>' if subtitle else "")
            + notes_html + f"</header><nav>{nav}</nav>{body}"
            + '<footer class="muted"><p>Written by stockpile. The CSV files beside this report hold the exact '
              "values.</p></footer></body></html>\n")


def summary_html(run: Run) -> str:
    rows = []
    for section, item, value, kind in summary_rows(run):
        shown = fmt_value(value, kind)
        if item == "status":
            shown = f'<span class="status-{esc(value)}">{esc(value)}</span>'
        else:
            shown = esc(shown)
        cls = ' class="n"' if kind != "text" else ""
        rows.append(f"<tr><td>{esc(section)}</td><td>{esc(item)}</td><td{cls}>{shown}</td></tr>")
    table = f'<table><thead><tr><th>section</th><th>item</th><th>value</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
    terms = {k: float(v) for k, v in (run.summary.get("objective_terms") or {}).items()
             if isinstance(v, (int, float)) and not isinstance(v, bool)}
    svg = None
    if terms and any(terms.values()):
        data = pd.DataFrame({"EUR": terms})
        svg = svg_chart("barh", "Objective by term", data, ylabel="EUR", salt="terms")
    return table + (f'<div class="charts">{figure(svg, "from summary.json", "objective terms")}</div>' if svg else "")


def tables_html(run: Run) -> str:
    parts = []
    for name in run.ordered_tables():
        frame = labelled(run, name)
        kinds = {c: column_kind(frame, c, run.spec) for c in frame.columns}
        note = run.spec.notes.get(name)
        parts.append(f'<h3 id="table-{esc(name)}">{esc(name)}.csv <span class="muted">({len(frame):,} rows)</span></h3>'
                     + (f'<p class="muted">{esc(note)}</p>' if note else "") + table_html(frame, kinds))
    return "".join(parts) or '<p class="muted">This run wrote no result tables.</p>'


def run_html(run: Run, extra_sections: list[tuple[str, str, str]] = ()) -> str:
    """The report of one run: summary, the model's charts, extra sections, every table."""
    sections = [("summary", "Summary", summary_html(run))]
    figures = declared_figures(run, run.spec.charts)
    if figures:
        sections.append(("charts", "Charts", f'<div class="charts">{"".join(figures)}</div>'))
    sections.extend(extra_sections)
    sections.append(("tables", "Result tables", tables_html(run)))
    description = ""
    recorded = run.summary.get("instance") if isinstance(run.summary.get("instance"), dict) else {}
    description = recorded.get("description") or getattr(run.inputs, "description", "") or ""
    subtitle = " ".join(str(description).split())
    return page(f"{run.title}: {run.summary.get('status', '')}", sections, subtitle, run.notes)
