"""Every shipped example's report.html opened in headless Chromium as a planner would, and its
workbook read back with openpyxl: every chart drawn, no console error, values equal to the CSVs."""

from __future__ import annotations

import base64
import json
import math
import os
import queue
import re
import shutil
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

import stockpile as sp
from stockpile import report
from stockpile.examples import examples
from stockpile.report.content import parse_csv

from stockpile.models import known_kinds

# The examples of the four models (a `kind: plan` example chains them into step folders).
EXAMPLES = [e for e in examples() if e.expected and e.kind in known_kinds()]
# The report is about drawing a plan, not about proving it optimal: loose gaps keep CI short.
QUICK = {"rotation": dict(mip_gap=0.05, time_limit=30), "allocation": dict(mip_gap=0.01, time_limit=60)}


_SOLVED: dict[str, Path] = {}


@pytest.fixture(scope="module")
def solved(tmp_path_factory):
    """solved(name) -> results folder of that example, solved once per module and written with
    its report (each example is solved only when a test asks for it)."""

    def get(name: str) -> Path:
        if name not in _SOLVED:
            example = next(e for e in EXAMPLES if e.name == name)
            inst = sp.load(example.file)
            result = sp.solve(inst, threads=1, **QUICK.get(example.kind, {}))
            assert result.status.has_solution, (example.name, result.reason)
            result.instance = {"file": str(example.file), "description": inst.description}
            folder = tmp_path_factory.mktemp("results") / example.name
            result.write(folder, report.files_for(result, inst))
            _SOLVED[name] = folder
        return _SOLVED[name]

    yield get
    _SOLVED.clear()


# -- the workbook ---------------------------------------------------------------------------


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_workbook_holds_every_table_with_the_csv_values(solved, example):
    from openpyxl import load_workbook

    folder = solved(example.name)
    book = load_workbook(folder / "results.xlsx")
    assert book.sheetnames[0] == "Summary"
    summary = json.loads((folder / "summary.json").read_text())
    items = {row[1]: row[2] for row in book["Summary"].iter_rows(min_row=2, values_only=True)}
    assert items["status"] == summary["status"]
    # XlsxWriter writes 16 significant digits (Excel shows 15): equal to that precision
    assert math.isclose(items["objective"], summary["objective"], rel_tol=1e-15)
    for csv in sorted(folder.glob("*.csv")):
        sheet = book[csv.stem[:31]]
        frame = parse_csv(csv.read_text())
        header = [c.value for c in sheet[1]]
        assert [h for h in header if h in frame.columns] == list(frame.columns), csv.name
        assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref, csv.name
        assert sheet.max_row == len(frame) + 1, csv.name
        for column in frame.columns:
            j = header.index(column) + 1
            cells = [row[0] for row in sheet.iter_rows(min_row=2, min_col=j, max_col=j)]
            expected = frame[column].tolist()
            got = [c.value for c in cells]
            if pd.api.types.is_numeric_dtype(frame[column]):
                # XlsxWriter writes 16 significant digits (Excel shows 15): equal to that precision
                assert all((g is None and (isinstance(e, float) and math.isnan(e)))
                           or (g is not None and math.isclose(g, e, rel_tol=1e-15, abs_tol=0))
                           for g, e in zip(got, expected)), (csv.name, column)
                filled = [c for c in cells if c.value is not None]
                assert all(c.number_format != "General" for c in filled), (csv.name, column)
            else:
                assert [g if g is not None else "" for g in got] == [str(e) for e in expected], (csv.name, column)


def test_workbook_formats_fit_the_quantities(solved):
    """The flagship's awards: whole units with separators, money with two decimals, shares as %."""
    from openpyxl import load_workbook

    sheet = load_workbook(solved("sourcing-nl-ppe") / "results.xlsx")["awards"]
    header = [c.value for c in sheet[1]]
    formats = {name: sheet.cell(row=2, column=header.index(name) + 1).number_format
               for name in ("quantity", "cost", "share", "unit_price")}
    assert formats == {"quantity": "#,##0", "cost": "#,##0.00", "share": "0.0%", "unit_price": "#,##0.0000"}
    assert "product_name" in header and "product_unit" in header  # names and units joined in
    names = {c.value for c in sheet[get_column(header, "product_name")][1:]}
    assert "FFP2 respirator" in names
    charts = load_workbook(solved("sourcing-nl-ppe") / "results.xlsx")["Charts"]
    assert len(charts._charts) >= 4  # native charts beside their data


def get_column(header: list, name: str) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(header.index(name) + 1)


# -- the report in a browser ----------------------------------------------------------------


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


class Browser:
    """Headless Chromium driven over the DevTools protocol (one page)."""

    def __init__(self, binary: str, profile: Path):
        import websocket

        self.proc = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
             "--no-default-browser-check", "--remote-debugging-port=0", f"--user-data-dir={profile}",
             "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=lambda: [lines.put(line) for line in self.proc.stderr], daemon=True).start()
        deadline, port = time.monotonic() + 60, None
        while port is None and time.monotonic() < deadline:
            try:
                match = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", lines.get(timeout=1))
            except queue.Empty:
                continue
            port = match and match.group(1)
        if port is None:
            self.close()
            raise RuntimeError("chromium did not open its DevTools port")
        pages = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=30).read())
        target = next(p for p in pages if p.get("type") == "page")
        self.ws = websocket.create_connection(target["webSocketDebuggerUrl"], timeout=60, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, event: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == event for e in self.events):
            if time.monotonic() > deadline:
                raise TimeoutError(event)
            self.events.append(json.loads(self.ws.recv()))

    def errors(self) -> list[str]:
        out = []
        for e in self.events:
            method, params = e.get("method"), e.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                out.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                out.append(params.get("exceptionDetails", {}).get("text", "exception"))
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                out.append(params["entry"].get("text", ""))
        return out

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:
            pass
        self.proc.kill()
        self.proc.wait(timeout=30)


CHARTS_DRAWN = """JSON.stringify(Array.from(document.querySelectorAll('figure.chart')).map(f => {
  const svg = f.querySelector('svg'); if (!svg) return {name: f.dataset.chart, width: 0, height: 0, marks: 0};
  const box = svg.getBoundingClientRect();
  const marks = Array.from(svg.querySelectorAll('path, rect, polygon, use')).filter(m => {
    const b = m.getBoundingClientRect(); return b.width * b.height > 1; }).length;
  return {name: f.dataset.chart, width: box.width, height: box.height, marks: marks};
}))"""


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_report_opens_in_chromium_with_every_chart_drawn(solved, example, tmp_path):
    binary = chromium()
    if binary is None:
        pytest.skip("no Chromium on this machine (Debian package `chromium`; .ci/run installs it in CI)")
    browser = Browser(binary, tmp_path / "profile")
    try:
        for domain in ("Page", "Runtime", "Log"):
            browser.call(f"{domain}.enable")
        browser.call("Emulation.setDeviceMetricsOverride", width=1280, height=1600, deviceScaleFactor=1, mobile=False)
        browser.call("Page.navigate", url=(solved(example.name) / "report.html").as_uri())
        browser.wait_for("Page.loadEventFired")
        drawn = json.loads(browser.call("Runtime.evaluate", expression=CHARTS_DRAWN, returnByValue=True)
                           ["result"]["value"])
        height = browser.call("Runtime.evaluate", expression="document.documentElement.scrollHeight",
                              returnByValue=True)["result"]["value"]
        browser.call("Emulation.setDeviceMetricsOverride", width=1280, height=min(int(height), 16000),
                     deviceScaleFactor=1, mobile=False)
        shot = browser.call("Page.captureScreenshot", format="png")
        errors = browser.errors()
    finally:
        browser.close()
    screenshot = tmp_path / f"{example.name}.png"
    screenshot.write_bytes(base64.b64decode(shot["data"]))
    assert errors == [], errors
    expected = 1 + sum(len(report.content.chart_data(c, report.from_folder(solved(example.name)).tables) or [])
                       for c in report.spec_of(example.kind).charts)
    assert len(drawn) >= min(expected, 2), drawn  # the objective chart and the model's charts
    empty = [d["name"] for d in drawn if d["width"] < 100 or d["height"] < 50 or d["marks"] < 3]
    assert empty == [], f"charts drawn empty: {empty}"
    assert screenshot.stat().st_size > 20_000
