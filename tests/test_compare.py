"""`stockpile compare A B`: what changed in the decisions and KPIs of two runs of the same kind."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

from stockpile.cli import main

# Supplier A offers p at 1 EUR/unit up to 60 units, B at 2 EUR/unit without limit.
# Demand 100: A 60, B 40, cost 60 + 80 = 140. Demand 150: A 60, B 90, cost 60 + 180 = 240.
DOC = {
    "kind": "sourcing", "name": "tiny",
    "products": [{"id": "p", "demand": 100}],
    "suppliers": [{"id": "A", "region": "NL"}, {"id": "B", "region": "EU"}],
    "offers": [{"supplier": "A", "product": "p", "unit_price": 1, "capacity": 60},
               {"supplier": "B", "product": "p", "unit_price": 2}],
}


@pytest.fixture
def two_runs(write_instance, tmp_path):
    runner = CliRunner()
    folders = []
    for n, demand in enumerate((100, 150)):
        doc = {**DOC, "products": [{"id": "p", "demand": demand}]}
        out = tmp_path / f"run{n}"
        result = runner.invoke(main, ["solve", str(write_instance(doc, f"i{n}.yaml")), "--out", str(out),
                                      "--no-report"])
        assert result.exit_code == 0, result.output
        folders.append(out)
    return folders


def test_compare_lists_what_moved(two_runs, tmp_path):
    a, b = two_runs
    out = tmp_path / "cmp"
    result = CliRunner().invoke(main, ["compare", str(a), str(b), "--out", str(out)])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out / "compare.csv", keep_default_na=False)
    row = lambda table, key, field: frame[(frame.table == table) & (frame.key == key) & (frame.field == field)]
    objective = row("summary", "objective", "")
    assert float(objective["first"].iloc[0]) == pytest.approx(140)
    assert float(objective["second"].iloc[0]) == pytest.approx(240)
    assert float(objective["change"].iloc[0]) == pytest.approx(100)
    moved = row("awards", "B/p", "quantity")
    assert (float(moved["first"].iloc[0]), float(moved["second"].iloc[0])) == pytest.approx((40, 90))
    unchanged = row("awards", "A/p", "quantity")
    assert float(unchanged["change"].iloc[0]) == 0
    # the terminal shows the changed figures only
    assert "B/p" in result.output and "A/p" not in result.output
    html = (out / "report.html").read_text()
    assert "What changed" in html and "<svg" in html


def test_same_run_shows_no_change(two_runs):
    a, _ = two_runs
    result = CliRunner().invoke(main, ["compare", str(a), str(a)])
    assert result.exit_code == 0 and "no change" in result.output


def test_different_kinds_or_no_results_are_refused(two_runs, tmp_path):
    a, _ = two_runs
    other = tmp_path / "other"
    other.mkdir()
    (other / "summary.json").write_text('{"kind": "rotation", "name": "x", "status": "infeasible"}')
    result = CliRunner().invoke(main, ["compare", str(a), str(other)])
    assert result.exit_code == 2 and "same kind" in result.output
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(main, ["compare", str(a), str(empty)])
    assert result.exit_code == 2 and "summary.json" in result.output
