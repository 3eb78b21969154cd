"""results.xlsx: a summary sheet, one sheet per result table, and native Excel charts.

Built with XlsxWriter (native charts, number formats, frozen panes and filters, written
in one pass without Excel). The values are those of the CSVs; only their display differs.
"""

from __future__ import annotations

import io
import math
import re

import pandas as pd
import xlsxwriter

from .content import Run, chart_data, column_kind, labelled, names, summary_rows

FORMATS = {
    "quantity": "#,##0",
    "integer": "#,##0",
    "money": "#,##0.00",
    "price": "#,##0.0000",
    "rate": "0.0%",
    "number": "#,##0.00",
    "small": "0.000000",
    "text": "@",
}
MAX_ROWS = 1_048_575  # Excel's sheet limit less the header


def sheet_name(name: str, taken: set[str]) -> str:
    """A valid, unique sheet name (31 characters, none of []:*?/\\)."""
    base = re.sub(r"[\[\]:*?/\\]", "_", name)[:31] or "table"
    candidate, n = base, 2
    while candidate.lower() in taken:
        suffix = f" ({n})"
        candidate, n = base[: 31 - len(suffix)] + suffix, n + 1
    taken.add(candidate.lower())
    return candidate


def number_format(kind: str, values: pd.Series | None = None) -> str:
    if kind == "number" and values is not None:
        finite = values.dropna()
        if len(finite) and finite.abs().max() < 1:
            return FORMATS["small"]
    return FORMATS[kind]


def workbook_bytes(run: Run) -> bytes:
    """The workbook of a run, as the bytes of an .xlsx file."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "nan_inf_to_errors": True,
                                        "strings_to_numbers": False, "strings_to_formulas": False,
                                        "strings_to_urls": False})
    header = book.add_format({"bold": True, "bg_color": "#DCE6F1", "bottom": 1, "text_wrap": True, "valign": "top"})
    cache: dict[str, object] = {}

    def fmt(code: str):
        if code not in cache:
            cache[code] = book.add_format({"num_format": code})
        return cache[code]

    taken: set[str] = set()
    _summary_sheet(book, run, sheet_name("Summary", taken), header, fmt)
    sheets: dict[str, tuple[str, pd.DataFrame]] = {}
    for name in run.ordered_tables():
        frame = labelled(run, name)
        sheets[name] = (sheet_name(name, taken), frame)
        _table_sheet(book, run, sheets[name][0], frame, header, fmt)
    _charts_sheet(book, run, sheet_name("Charts", taken), header, fmt)
    book.close()
    return buffer.getvalue()


def _summary_sheet(book, run: Run, name: str, header, fmt) -> None:
    sheet = book.add_worksheet(name)
    sheet.write_row(0, 0, ["section", "item", "value"], header)
    width = 12
    for i, (section, item, value, kind) in enumerate(summary_rows(run), start=1):
        sheet.write_string(i, 0, section)
        sheet.write_string(i, 1, item)
        _write_value(sheet, i, 2, value, fmt(FORMATS.get(kind, "General")) if kind != "text" else None)
        width = max(width, min(80, len(str(value)) + 2))
    sheet.set_column(0, 0, 12)
    sheet.set_column(1, 1, 34)
    sheet.set_column(2, 2, width)
    sheet.freeze_panes(1, 0)


def _write_value(sheet, row: int, col: int, value, cell_format=None) -> None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        sheet.write_blank(row, col, None)
    elif isinstance(value, bool):
        sheet.write_boolean(row, col, value)
    elif isinstance(value, (int, float)):
        if math.isfinite(value):
            sheet.write_number(row, col, value, cell_format)
        else:
            sheet.write_string(row, col, str(value))
    else:
        sheet.write_string(row, col, str(value))


def _table_sheet(book, run: Run, name: str, frame: pd.DataFrame, header, fmt) -> None:
    sheet = book.add_worksheet(name)
    columns = list(frame.columns)
    sheet.write_row(0, 0, columns, header)
    rows = frame.head(MAX_ROWS)
    for j, column in enumerate(columns):
        kind = column_kind(frame, column, run.spec)
        values = rows[column]
        cell_format = fmt(number_format(kind, values)) if kind != "text" else None
        width = len(str(column))
        if kind == "text":
            for i, value in enumerate(values.tolist(), start=1):
                text = "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)
                sheet.write_string(i, j, text) if text else sheet.write_blank(i, j, None)
            width = max([width, *(len(str(v)) for v in values.head(500).tolist())])
        else:
            for i, value in enumerate(values.tolist(), start=1):
                _write_value(sheet, i, j, value, cell_format)
            sample = values.dropna().head(500)
            width = max([width, *(len(f"{v:,.2f}") for v in sample.tolist())])
        sheet.set_column(j, j, min(60, max(8, width + 2)))
    sheet.freeze_panes(1, 0)
    if columns:
        sheet.autofilter(0, 0, max(1, len(rows)), len(columns) - 1)


def _charts_sheet(book, run: Run, name: str, header, fmt) -> None:
    """Each declared chart's data block, with a native chart drawn from it beside the block."""
    blocks = []
    labels = names(run)
    for chart in run.spec.charts:
        for title, data in chart_data(chart, run.tables, labels) or []:
            if len(data) > 400 or data.shape[1] > 40:  # too many points for a readable Excel chart
                continue
            blocks.append((chart, title, data))
    if not blocks:
        return
    sheet = book.add_worksheet(name)
    row = 0
    value_format = fmt(FORMATS["number"])
    for chart, title, data in blocks:
        sheet.write_string(row, 0, title, header)
        sheet.write_string(row + 1, 0, chart.x, header)
        sheet.write_row(row + 1, 1, [str(c) for c in data.columns], header)
        cell_format = fmt(FORMATS["rate"]) if chart.percent else value_format
        for i, (x, values) in enumerate(data.iterrows(), start=row + 2):
            _write_value(sheet, i, 0, x if isinstance(x, (int, float)) else str(x))
            for j, v in enumerate(values.tolist(), start=1):
                _write_value(sheet, i, j, v, cell_format)
        first, last = row + 2, row + 1 + len(data)
        native = _native_chart(book, chart, title, name, first, last, data)
        sheet.insert_chart(row, data.shape[1] + 2, native, {"x_scale": 1.4, "y_scale": 1.2})
        row = max(last + 2, row + 20)
    sheet.set_column(0, 0, 22)


def _native_chart(book, chart, title: str, sheet: str, first: int, last: int, data: pd.DataFrame):
    kind = {"bar": ("column", None), "stacked": ("column", "stacked"), "barh": ("bar", None),
            "line": ("line", None), "area": ("area", "stacked")}.get(chart.kind, ("column", None))
    native = book.add_chart({"type": kind[0], **({"subtype": kind[1]} if kind[1] else {})})
    for j, column in enumerate(data.columns, start=1):
        native.add_series({
            "name": [sheet, first - 1, j],
            "categories": [sheet, first, 0, last, 0],
            "values": [sheet, first, j, last, j],
        })
    native.set_title({"name": title})
    native.set_x_axis({"name": chart.x})
    native.set_y_axis({"name": chart.unit or ", ".join(chart.y), "num_format": "0%" if chart.percent else "#,##0"})
    native.set_legend({"position": "bottom" if data.shape[1] > 1 else "none"})
    return native
