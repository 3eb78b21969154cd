"""The stockpile command line: help, exit codes, examples, solve -> check round trip."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from stockpile.cli import main

TINY = {
    "kind": "sourcing",
    "products": [{"id": "mask", "demand": 100}],
    "suppliers": [{"id": "A", "region": "EU"}, {"id": "B", "region": "Asia"}],
    "offers": [
        {"supplier": "A", "product": "mask", "unit_price": 2.0},
        {"supplier": "B", "product": "mask", "unit_price": 1.0, "capacity": 60},
    ],
}


@pytest.fixture
def runner():
    return CliRunner()


@pytest.mark.parametrize("command", [[], ["validate"], ["solve"], ["check"], ["examples"]])
def test_every_command_has_help(runner, command):
    result = runner.invoke(main, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output and len(result.output.splitlines()) > 3


def test_validate_then_solve_then_check(runner, write_instance, tmp_path):
    path = write_instance(TINY)
    result = runner.invoke(main, ["validate", str(path)])
    assert result.exit_code == 0 and "valid sourcing instance" in result.output

    out = tmp_path / "out"
    result = runner.invoke(main, ["solve", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    # B is cheaper but holds 60; A takes the other 40: 60*1 + 40*2 = 140
    assert summary["status"] == "optimal"
    assert summary["objective"] == pytest.approx(140)
    assert set(summary["objective_terms"]) == {"purchase", "award", "fixed", "unmet", "disruption"}
    from stockpile.results import MANIFEST

    assert [p.name for p in out.glob(".*")] == [MANIFEST], "no temporary files are left behind"

    result = runner.invoke(main, ["check", str(path), str(out)])
    assert result.exit_code == 0 and "ok" in result.output


def test_check_reports_a_tampered_solution(runner, write_instance, tmp_path):
    path = write_instance(TINY)
    out = tmp_path / "out"
    runner.invoke(main, ["solve", str(path), "--out", str(out)])
    awards = (out / "awards.csv").read_text().replace("60.0", "70.0")
    (out / "awards.csv").write_text(awards)
    result = runner.invoke(main, ["check", str(path), str(out)])
    assert result.exit_code == 1
    assert "violation" in result.output


def test_invalid_input_exits_2_with_a_located_message(runner, write_instance):
    doc = dict(TINY, offers=[{"supplier": "A", "product": "mask", "unit_price": -1}])
    result = runner.invoke(main, ["solve", str(write_instance(doc)), "--out", "unused"])
    assert result.exit_code == 2
    assert "table 'offers', row 1, field 'unit_price'" in result.output
    assert "Traceback" not in result.output


def test_infeasible_exits_1_with_a_reason(runner, write_instance, tmp_path):
    doc = dict(TINY, offers=[{"supplier": "B", "product": "mask", "unit_price": 1.0, "capacity": 60}])
    result = runner.invoke(main, ["solve", str(write_instance(doc)), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert "demand of mask 100 exceeds total offered capacity 60" in result.output
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["status"] == "infeasible" and "exceeds" in summary["reason"]


def test_missing_instance_file_exits_2(runner, tmp_path):
    result = runner.invoke(main, ["validate", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2 and "not found" in result.output


def test_json_summary_flag(runner, write_instance, tmp_path):
    result = runner.invoke(main, ["solve", str(write_instance(TINY)), "--out", str(tmp_path / "o"), "--json"])
    assert result.exit_code == 0
    start = result.output.index("{")
    assert json.loads(result.output[start:result.output.rindex("}") + 1])["kind"] == "sourcing"


def test_examples_lists_and_copies(runner, tmp_path):
    listing = runner.invoke(main, ["examples"])
    assert listing.exit_code == 0
    names = [line.split()[0] for line in listing.output.splitlines() if line.strip()]
    assert "sourcing-nl-ppe" in names
    copied = runner.invoke(main, ["examples", "sourcing-nl-ppe", "--to", str(tmp_path)])
    assert copied.exit_code == 0, copied.output
    assert (tmp_path / "sourcing-nl-ppe" / "instance.yaml").is_file()
    again = runner.invoke(main, ["examples", "sourcing-nl-ppe", "--to", str(tmp_path)])
    assert again.exit_code == 2 and "already exists" in again.output
    unknown = runner.invoke(main, ["examples", "sourcing-nl-pp"])
    assert unknown.exit_code == 2 and "did you mean 'sourcing-nl-ppe'" in unknown.output


def test_validate_and_check_never_import_pyomo(tmp_path):
    # The checker is independent of the formulation: loading and checking must not need Pyomo.
    import subprocess
    import sys

    import stockpile as sp
    from stockpile.examples import find

    example = find("sourcing-nl-ppe")
    sp.solve(example.file).write(tmp_path)
    code = (
        "import sys, stockpile as sp\n"
        f"assert sp.check(sp.load({str(example.file)!r}), {str(tmp_path)!r}) == []\n"
        "print('pyomo' in sys.modules, 'highspy' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_time_limit_without_a_plan_exits_3_and_says_so(runner, tmp_path):
    from stockpile.examples import find

    out = tmp_path / "o"
    result = runner.invoke(main, ["solve", str(find("rotation-nl-reserve").file), "--out", str(out),
                                  "--time-limit", "0.001"])
    assert result.exit_code == 3
    assert "time limit" in result.output and "allow more --time-limit" in result.output
    assert not (out / "summary.json").exists() or json.loads((out / "summary.json").read_text())["status"] == "error"
