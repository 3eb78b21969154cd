"""CSV and XLSX table files -> records of trimmed cells, with the line of each record.

CSV: UTF-8 (BOM allowed), header row, comma-separated with `.` decimals -- or, as Excel
writes it in Dutch and other locales, semicolon-separated with decimal commas; the header
row tells which (it has no comma outside quotes but a semicolon). Records are split the
way the csv module splits them, so a quoted cell may hold any character, line breaks
included (str.splitlines would also split at U+2028, U+0085 and form feeds).
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from .errors import InputError, Problem, did_you_mean

MAX_CELL = 1 << 24  # characters in one CSV cell (csv's own default, 131,072, is too small for notes)
csv.field_size_limit(MAX_CELL)

_DECIMAL_COMMA = re.compile(r"[-+]?(?:[0-9]+,?[0-9]*|,[0-9]+)(?:[eE][-+]?[0-9]+)?")


@dataclass
class TableFile:
    """The records of one table file and where each came from."""

    rows: list[dict]
    lines: tuple[int, ...]
    header: tuple[str, ...]
    shown: str  # file name as the user sees it (with [sheet] for workbooks)


def read_text(path: Path, shown: str) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(Problem(f"not UTF-8 text (byte {exc.start})", file=shown)) from None
    except OSError as exc:
        raise InputError(Problem(f"cannot read: {exc.strerror or exc}", file=shown)) from None


def header_of(cells: Iterable[Any], file_shown: str, table: str) -> tuple[str, ...]:
    header = tuple("" if c is None else str(c).strip() for c in cells)
    if not any(header):
        raise InputError(Problem("the first row must be a header of field names", file=file_shown, table=table))
    dup = [h for h, n in Counter(header).items() if n > 1 and h]
    if dup:
        raise InputError(Problem(f"column '{dup[0]}' appears twice in the header", file=file_shown, table=table))
    return header


def sniff_delimiter(text: str) -> str:
    """';' when the header row has a semicolon and no comma outside quotes, else ','."""
    first = next(csv.reader(io.StringIO(text, newline="")), [])
    if len(first) == 1 and ";" in first[0]:
        return ";"
    return ","


def read_csv(path: Path, file_shown: str, table: str, numeric: Iterable[str] = ()) -> TableFile:
    """Records of a CSV file; `numeric` fields get their decimal commas turned into points
    when the file is semicolon-separated."""
    text = read_text(path, file_shown)
    delimiter = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[dict] = []
    lines: list[int] = []
    header: tuple[str, ...] | None = None
    ended = 0  # the line on which the previous record ended: a quoted cell may span lines
    try:
        for cells in reader:
            line, ended = ended + 1, reader.line_num
            if header is None:
                header = header_of(cells, file_shown, table)
                continue
            if not any(c.strip() for c in cells):
                continue
            if len(cells) > len(header):
                raise InputError(
                    Problem(f"{len(cells)} cells but the header has {len(header)} columns",
                            file=file_shown, table=table, row=len(rows) + 1, line=line)
                )
            rows.append({h: c.strip() for h, c in zip(header, cells) if h and c.strip() != ""})
            lines.append(line)
    except csv.Error as exc:
        line = ended + 1
        if "field larger than field limit" in str(exc):
            message = f"a cell longer than {MAX_CELL:,} characters"
        else:
            message = f"not a readable CSV record ({exc})"
        raise InputError(Problem(message, file=file_shown, table=table, row=len(rows) + 1, line=line)) from None
    if header is None:
        raise InputError(Problem("empty file: expected a header row", file=file_shown, table=table))
    if delimiter == ";":
        _decimal_commas(rows, lines, set(numeric) & set(header), file_shown, table)
    return TableFile(rows, tuple(lines), header, file_shown)


def _decimal_commas(rows: list[dict], lines: list[int], numeric: set[str], file_shown: str, table: str) -> None:
    """'1,5' -> '1.5' in numeric fields; a point there is refused: in a decimal-comma file
    '1.234' may be a thousands separator (1234), so reading it as 1.234 could be 1000x off."""
    for index, row in enumerate(rows):
        for name in numeric & row.keys():
            cell = row[name]
            if "." in cell:
                raise InputError(Problem(
                    f"'{cell}': this file separates cells with ';', so decimals are written with a comma "
                    "(1,5) and a point is ambiguous (a thousands separator?); write the number without it",
                    file=file_shown, table=table, row=index + 1, line=lines[index], field=name))
            if "," in cell and _DECIMAL_COMMA.fullmatch(cell):
                row[name] = cell.replace(",", ".")


def read_xlsx(path: Path, file_shown: str, table: str, sheet: Any) -> TableFile:
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise InputError(Problem(f"cannot read the workbook: {exc}", file=file_shown, table=table)) from None
    try:
        if sheet is None:
            ws = book.worksheets[0]
        elif str(sheet) in book.sheetnames:
            ws = book[str(sheet)]
        else:
            raise InputError(
                Problem(f"no sheet '{sheet}' (sheets: {', '.join(book.sheetnames)})"
                        + did_you_mean(sheet, book.sheetnames), file=file_shown, table=table, field="sheet")
            )
        shown = f"{file_shown}[{ws.title}]"
        rows: list[dict] = []
        lines: list[int] = []
        header: tuple[str, ...] | None = None
        for number, cells in enumerate(ws.iter_rows(values_only=True), start=1):
            if header is None:
                if all(c is None or (isinstance(c, str) and not c.strip()) for c in cells):
                    continue  # blank rows above the header
                header = header_of(cells, shown, table)
                continue
            values = [c.strip() if isinstance(c, str) else c for c in cells]
            if all(v is None or v == "" for v in values):
                continue
            rows.append({h: v for h, v in zip(header, values) if h and v is not None and v != ""})
            lines.append(number)
    finally:
        book.close()
    if header is None:
        raise InputError(Problem("empty sheet: expected a header row", file=shown, table=table))
    return TableFile(rows, tuple(lines), header, shown)
