"""Readable results: results.xlsx and report.html, rendered from a run's own files.

The engine holds the frame (workbook writer, HTML page, charts); what a model shows is
declared in `models/<kind>/report.py` (see `spec.ReportSpec`). Every result table is
rendered whether declared or not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import InputError, Problem
from .content import Run, from_files, from_folder
from .spec import Chart, Comparison, Join, ReportSpec, spec_of

WORKBOOK = "results.xlsx"
REPORT = "report.html"


def render(run: Run, xlsx: bool = True, report: bool = True,
           extra_sections: list[tuple[str, str, str]] = ()) -> dict[str, str | bytes]:
    """The report files of a run: {"results.xlsx": bytes, "report.html": text}."""
    out: dict[str, str | bytes] = {}
    if xlsx:
        from .workbook import workbook_bytes

        out[WORKBOOK] = workbook_bytes(run)
    if report:
        from .html import run_html

        out[REPORT] = run_html(run, list(extra_sections))
    return out


def files_for(result, instance: Any = None) -> dict[str, str | bytes]:
    """Workbook and report of a fresh Result (to be written with its files as one set)."""
    return render(from_files(result.files(), instance))


def write_report(folder: str | Path, instance: Any = None, xlsx: bool = False) -> list[Path]:
    """Remake report.html (and results.xlsx with xlsx) of an existing results folder."""
    from ..results import atomic_write, foreign_files

    folder = Path(folder)
    run = from_folder(folder, instance)
    files = render(run, xlsx=xlsx)
    clash = [n for n in foreign_files(folder) if n in files]
    if clash:
        raise InputError(Problem(f"{folder / clash[0]} was not written by stockpile; it is left as it is"))
    return [atomic_write(folder / name, content) for name, content in files.items()]


def render_sweep(folder: str | Path) -> Path:
    """report.html of a sweep folder: objective and KPIs against the swept values, the table."""
    from ..results import atomic_write
    from .sweep import sweep_html

    folder = Path(folder)
    return atomic_write(folder / REPORT, sweep_html(folder))


def sweep_report(folder: str | Path) -> Path | None:
    """render_sweep for the end of a sweep: a failure to draw costs the report (said on stderr),
    never the sweep's results."""
    import os
    import sys

    try:
        return render_sweep(folder)
    except Exception as exc:
        if os.environ.get("STOCKPILE_DEBUG"):
            raise
        print(f"warning: the sweep report was not written ({type(exc).__name__}: {exc}); "
              "remake it with `stockpile report`", file=sys.stderr)
        return None


__all__ = ["Chart", "Comparison", "Join", "REPORT", "ReportSpec", "Run", "WORKBOOK", "files_for", "from_files",
           "from_folder", "render", "render_sweep", "spec_of", "sweep_report", "write_report"]
