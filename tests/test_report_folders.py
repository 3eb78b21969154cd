"""Results folders: one run's files, written as a set, never over files stockpile did not write;
`--out` refused before solving when it cannot take the results; `stockpile report` remakes the
report of a folder."""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

import stockpile as sp
from stockpile import results as results_module
from stockpile.cli import main
from stockpile.errors import InputError
from stockpile.report import files_for, from_files, render
from stockpile.report.spec import Chart, ReportSpec

# Two suppliers offer 100 units of product p: A at 1 EUR/unit (capacity 60), B at 2 EUR/unit.
# Optimum: 60 from A and 40 from B, cost 60·1 + 40·2 = 140.
DOC = {
    "kind": "sourcing", "name": "tiny",
    "description": "Two suppliers share a demand of 100 units.",
    "products": [{"id": "p", "demand": 100, "name": "Product P", "unit": "box"}],
    "suppliers": [{"id": "A", "region": "NL"}, {"id": "B", "region": "EU"}],
    "offers": [{"supplier": "A", "product": "p", "unit_price": 1, "capacity": 60},
               {"supplier": "B", "product": "p", "unit_price": 2}],
}
# B withdraws: 60 units offered for a demand of 100 that must be met in full -> infeasible.
INFEASIBLE = {**DOC, "offers": DOC["offers"][:1]}


def solve_cli(*args: str):
    return CliRunner().invoke(main, ["solve", *args, "--threads", "1"])


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_solve_writes_tables_workbook_and_report(write_instance, tmp_path):
    path = write_instance(DOC)
    out = tmp_path / "results"
    result = solve_cli(str(path), "--out", str(out))
    assert result.exit_code == 0, result.output
    names = {p.name for p in out.iterdir()}
    assert {"summary.json", "awards.csv", "results.xlsx", "report.html"} <= names
    summary = json.loads((out / "summary.json").read_text())
    assert summary["objective"] == pytest.approx(140)
    assert summary["instance"]["file"] == os.path.realpath(path)
    html = (out / "report.html").read_text()
    assert "Product P" in html and "<svg" in html  # names joined, charts inline
    # nothing fetched at view time: no script, stylesheet, image or font from elsewhere
    assert "<script" not in html and "<link" not in html and "@import" not in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)|url\(\s*["']?(https?:|//)""", html)


def test_no_report_writes_only_the_tables(write_instance, tmp_path):
    out = tmp_path / "results"
    assert solve_cli(str(write_instance(DOC)), "--out", str(out), "--no-report").exit_code == 0
    assert not (out / "results.xlsx").exists() and not (out / "report.html").exists()
    assert (out / "awards.csv").is_file()


def test_out_in_the_instance_folder_is_refused_and_inputs_survive(tmp_path):
    folder = tmp_path / "inst"
    folder.mkdir()
    (folder / "products.csv").write_text("id,demand\np,100\n")
    doc = {**DOC, "products": {"file": "products.csv"}}
    import yaml

    (folder / "instance.yaml").write_text(yaml.safe_dump(doc))
    before = snapshot(folder)
    for out in (folder, folder / ".."):
        result = solve_cli(str(folder / "instance.yaml"), "--out", str(out))
        assert result.exit_code == 2, result.output
        assert "holds the instance" in result.output
    assert snapshot(folder) == before


def test_empty_out_and_the_current_folder_are_refused(write_instance, tmp_path, monkeypatch):
    path = write_instance(DOC)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    for out in ("", ".", "  "):
        result = solve_cli(str(path), "--out", out)
        assert result.exit_code == 2, (out, result.output)
        assert "--out" in result.output
    assert list(work.iterdir()) == []


def test_a_folder_with_foreign_files_is_refused(write_instance, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("my notes")
    result = solve_cli(str(write_instance(DOC)), "--out", str(out))
    assert result.exit_code == 2 and "notes.txt" in result.output
    assert snapshot(out) == {"notes.txt": b"my notes"}


@pytest.mark.parametrize("where", ["under-a-file", "dev-null", "proc", "read-only"])
def test_unwritable_out_fails_before_solving(write_instance, tmp_path, where):
    if where == "read-only":
        if os.geteuid() == 0:
            pytest.skip("root writes into read-only folders; the /proc case covers a folder that refuses writes")
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        out = str(locked / "results")
    else:
        (tmp_path / "file.txt").write_text("x")
        out = {"under-a-file": str(tmp_path / "file.txt" / "results"), "dev-null": "/dev/null",
               "proc": "/proc/stockpile-results"}[where]
    result = solve_cli(str(write_instance(DOC)), "--out", out)
    assert result.exit_code == 2, result.output
    assert "solving" not in result.output  # refused before the solver ran
    assert "Traceback" not in result.output


def test_a_new_run_replaces_the_old_one_as_a_whole(write_instance, tmp_path):
    out = tmp_path / "results"
    assert solve_cli(str(write_instance(DOC)), "--out", str(out)).exit_code == 0
    assert (out / "awards.csv").is_file()
    result = solve_cli(str(write_instance(INFEASIBLE, "infeasible.yaml")), "--out", str(out))
    assert result.exit_code == 1, result.output
    names = {p.name for p in out.iterdir()}
    assert "awards.csv" not in names and "summary.json" in names  # no table of the earlier plan
    assert json.loads((out / "summary.json").read_text())["status"] == "infeasible"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # nothing left beside it


@pytest.mark.parametrize("fault", [OSError("disk full"), KeyboardInterrupt()])
def test_a_fault_while_writing_leaves_the_old_run(write_instance, tmp_path, monkeypatch, fault):
    inst = sp.load(write_instance(DOC))
    result = sp.solve(inst)
    out = tmp_path / "results"
    result.write(out)
    before = snapshot(out)
    written = []
    real = results_module._write_file

    def failing(path, content):
        if len(written) == 2:
            raise fault
        written.append(path)
        real(path, content)

    monkeypatch.setattr(results_module, "_write_file", failing)
    result.objective_terms = {"purchase": 1.0}
    with pytest.raises(type(fault)):
        result.write(out)
    assert snapshot(out) == before
    assert {p.name for p in tmp_path.iterdir()} == {"instance.yaml", "results"}  # no half-written folder


def test_result_files_get_the_usual_permissions(write_instance, tmp_path):
    old = os.umask(0o022)
    try:
        out = tmp_path / "results"
        assert solve_cli(str(write_instance(DOC)), "--out", str(out)).exit_code == 0
        results_module.atomic_write(out / "extra.txt", "x")
    finally:
        os.umask(old)
    for path in [out, *out.iterdir()]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o755 if path.is_dir() else 0o644), (path.name, oct(mode))


def test_report_command_remakes_the_report(write_instance, tmp_path):
    out = tmp_path / "results"
    assert solve_cli(str(write_instance(DOC)), "--out", str(out), "--no-report").exit_code == 0
    runner = CliRunner()
    made = runner.invoke(main, ["report", str(out)])
    assert made.exit_code == 0, made.output
    assert (out / "report.html").is_file() and not (out / "results.xlsx").exists()
    assert "Product P" in (out / "report.html").read_text()  # the recorded instance gave the names
    made = runner.invoke(main, ["report", str(out), "--xlsx"])
    assert made.exit_code == 0 and (out / "results.xlsx").is_file()
    # the remade files belong to the run: a new solve may replace the folder
    assert solve_cli(str(write_instance(DOC)), "--out", str(out)).exit_code == 0
    missing = runner.invoke(main, ["report", str(tmp_path)])
    assert missing.exit_code == 2 and "summary.json" in missing.output


def test_every_table_is_shown_and_a_bad_declaration_is_skipped(write_instance):
    """A table no declaration knows (a table added after the declaration was written) is rendered, and a chart
    naming a missing column is skipped instead of failing the report."""
    import pandas as pd

    inst = sp.load(write_instance(DOC))
    result = sp.solve(inst)
    result.tables["explain"] = pd.DataFrame({"rule": ["demand p"], "dual": [2.0]})
    run = from_files(result.files(), inst)
    run.spec = ReportSpec(charts=(Chart("awards", "no such column", x="supplier", y=("nothing",)),
                                  Chart("nowhere", "no such table", x="a", y=("b",)),
                                  Chart("awards", "Quantity per supplier", x="supplier", y=("quantity",))))
    files = render(run)
    html = files["report.html"]
    assert "explain.csv" in html and "Quantity per supplier" in html and "no such column" not in html
    from io import BytesIO

    from openpyxl import load_workbook

    book = load_workbook(BytesIO(files["results.xlsx"]))
    assert "explain" in book.sheetnames and book["explain"]["B2"].value == 2.0
    assert set(files_for(result, inst)) == {"results.xlsx", "report.html"}


def test_write_refuses_a_folder_with_foreign_files_from_python(write_instance, tmp_path):
    result = sp.solve(sp.load(write_instance(DOC)))
    with pytest.raises(InputError, match="did not write"):
        result.write(tmp_path)  # holds instance.yaml
    assert (tmp_path / "instance.yaml").is_file()


def test_sweep_writes_its_report(write_instance, tmp_path):
    """Demand 100, 120, 150 (A 1 EUR up to 60, B 2 EUR): objective 140, 180, 240 — drawn against demand."""
    out = tmp_path / "curve"
    result = CliRunner().invoke(main, ["sweep", str(write_instance(DOC)), "--set", "products.p.demand=100,120,150",
                                       "--out", str(out), "--workers", "1"])
    assert result.exit_code == 0, result.output
    html = (out / "report.html").read_text()
    assert "objective against products.p.demand" in html and html.count("<svg") >= 1
    again = CliRunner().invoke(main, ["report", str(out)])
    assert again.exit_code == 0 and "report.html" in again.output
