"""stockpile sweep: points, grids, folders, sweep.csv, bad --set, and that it works for any model."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

import stockpile as sp
from stockpile import loader, sweep
from stockpile.cli import main
from stockpile.errors import InputError


def fractile_doc() -> dict:
    """One mask product, one period, no resupply; crises of 100 / 200 / 300 units with
    probabilities 0.2 / 0.3 / 0.1; unit_cost 2, holding 1, penalty 5.

    Expected cost of a reserve R: R + 5 × Σ p·max(0, d − R); its slope is −2 below 100,
    −1 between 100 and 200, +0.5 above 200, so without limits R = 200 (objective 250).
    """
    return {
        "kind": "ironstock",
        "periods": 1,
        "products": [{"id": "mask", "unit_cost": 2, "holding_cost": 1, "shortage_penalty": 5,
                      "unit_volume": 0.01}],
        "scenarios": [{"id": "mild", "probability": 0.2}, {"id": "bad", "probability": 0.3},
                      {"id": "worst", "probability": 0.1}],
        "scenario_demand": [{"scenario": "mild", "product": "mask", "period": 0, "demand": 100},
                            {"scenario": "bad", "product": "mask", "period": 0, "demand": 200},
                            {"scenario": "worst", "product": "mask", "period": 0, "demand": 300}],
    }


@pytest.fixture
def runner():
    return CliRunner()


def test_budget_curve_with_parallel_workers(runner, write_instance, tmp_path):
    """Budget 100 -> R = 50: 50 + 5*(0.2*50 + 0.3*150 + 0.1*250) = 450, each EUR saves 1
    (slope −2 per unit, 2 EUR per unit). Budget 300 -> R = 150: 300, saving 0.5 per EUR.
    Budget 1e6 -> R = 200 unconstrained: 250, the budget is worth nothing."""
    path = write_instance(fractile_doc())
    out = tmp_path / "curve"
    result = runner.invoke(main, ["sweep", str(path), "--set", "settings.budget=100,300,1e6",
                                  "--out", str(out), "--workers", "2"])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out / "sweep.csv")
    assert list(frame["settings.budget"]) == [100, 300, 1e6]
    assert list(frame["status"]) == ["optimal"] * 3
    assert list(frame["objective"]) == pytest.approx([450, 300, 250])
    assert list(frame["budget_marginal_value"]) == pytest.approx([1.0, 0.5, 0.0])
    assert list(frame["reserve.mask"]) == pytest.approx([50, 150, 200]), "the model's decision column"
    assert list(frame["holding"] + frame["reservation"] + frame["writeoff"] + frame["shortage"]) == \
        pytest.approx(list(frame["objective"]))
    for col in ("point", "mip_gap", "expected_shortage_units", "budget_used", "reason"):
        assert col in frame.columns
    for label in ("settings.budget=100", "settings.budget=300", "settings.budget=1e6"):
        folder = out / label
        assert (folder / "summary.json").is_file() and (folder / "reserve.csv").is_file()
        # each point keeps its edited instance, so the checker can verify it
        assert sp.check(folder / "instance.yaml", folder) == []
        assert sp.load(folder / "instance.yaml").settings.budget == float(label.split("=")[1])


def test_grid_of_two_parameters_and_all_rows(write_instance, tmp_path):
    """Budget {100, 300} × holding of every product {1, 2}:
    holding 2, budget 100: R = 50, 100 + 5*80 = 500; holding 2, budget 300: R = 150,
    300 + 150 = 450 (holding 2 < the 2 saved per unit below 200, so the budget still binds)."""
    path = write_instance(fractile_doc())
    result = sweep.run(path, ["settings.budget=100,300", "products.*.holding_cost=1,2"], tmp_path / "grid",
                       sp.SolveOptions(), workers=1)
    frame = result.frame.set_index(["settings.budget", "products.*.holding_cost"])
    assert len(frame) == 4 and result.exit_code == 0
    assert frame.loc[(100, 1), "objective"] == pytest.approx(450)
    assert frame.loc[(100, 2), "objective"] == pytest.approx(500)
    assert frame.loc[(300, 1), "objective"] == pytest.approx(300)
    assert frame.loc[(300, 2), "objective"] == pytest.approx(450)
    assert (tmp_path / "grid" / "settings.budget=300,products.all.holding_cost=2" / "summary.json").is_file()


def test_row_by_id_and_unset_value(write_instance, tmp_path):
    """Under the file's budget of 300 EUR (R <= 150):
    penalty 2 -> R = 100 (P(d > 100) = 0.4 <= 1/2, budget slack): 100 + 2*(0.3*100 + 0.1*200) = 200;
    penalty 20 -> R = 300 wanted, the budget caps it at 150: 150 + 20*(0.3*50 + 0.1*150) = 750.
    `null` removes the setting: without a budget R = 200 and the objective is 250."""
    doc = fractile_doc()
    doc["settings"] = {"budget": 300}
    path = write_instance(doc)
    result = sweep.run(path, ["products.mask.shortage_penalty=2,20"], tmp_path / "pen", workers=1)
    assert list(result.frame["objective"]) == pytest.approx([200, 750])
    assert result.frame["budget_used"].tolist() == pytest.approx([200, 300])
    result = sweep.run(path, ["settings.budget=null"], tmp_path / "free", workers=1)
    assert result.frame["objective"].tolist() == pytest.approx([250])
    assert result.frame["budget_marginal_value"].isna().all()


def test_infeasible_point_is_a_row_and_exit_code_1(runner, write_instance, tmp_path):
    doc = fractile_doc()
    doc["products"][0].update(baseline_demand=10, min_cover_periods=10)  # floor 100 units = 200 EUR
    path = write_instance(doc)
    out = tmp_path / "sw"
    result = runner.invoke(main, ["sweep", str(path), "--set", "settings.budget=100,1000", "--out", str(out),
                                  "--workers", "1"])
    assert result.exit_code == 1
    frame = pd.read_csv(out / "sweep.csv", keep_default_na=False)
    assert list(frame["status"]) == ["infeasible", "optimal"]
    assert "200 EUR" in frame["reason"].iloc[0] and "mask" in frame["reason"].iloc[0]


def test_sweep_works_for_other_models(write_instance, tmp_path):
    """sourcing, a composite-key row: offer A/mask at 3 or 4 EUR for 10 units against B's 3.5.
    At 3 all 10 units go to A (30 EUR), at 4 all to B (35 EUR): the share columns say so."""
    doc = {"kind": "sourcing", "products": [{"id": "mask", "demand": 10}],
           "suppliers": [{"id": "A", "region": "EU"}, {"id": "B", "region": "EU"}],
           "offers": [{"supplier": "A", "product": "mask", "unit_price": 1},
                      {"supplier": "B", "product": "mask", "unit_price": 3.5}]}
    path = write_instance(doc)
    result = sweep.run(path, ["offers.A/mask.unit_price=3,4"], tmp_path / "src", workers=1)
    assert result.frame["objective"].tolist() == pytest.approx([30, 35])
    assert result.frame["share.A"].tolist() == pytest.approx([1, 0])
    assert result.frame["share.B"].tolist() == pytest.approx([0, 1])
    assert (tmp_path / "src" / "offers.A_mask.unit_price=3" / "awards.csv").is_file()


@pytest.mark.parametrize("spec, message", [
    ("budget", "expected PATH=VALUE"),
    ("settings.budget=", "no empty value"),
    ("settings.budget=1,,2", "no empty value"),
    ("settings.budget=1,1", "given twice"),
    ("settings.budgt=1", "unknown setting 'budgt' for kind ironstock (did you mean 'budget'?)"),
    ("prodcts.mask.holding_cost=1", "unknown table 'prodcts'"),
    ("products.maks.holding_cost=1", "no row of 'products' has id 'maks' (did you mean 'mask'?)"),
    ("products.mask.holding=1", "table 'products' has no field 'holding'"),
    ("products.holding_cost=1", "expected products.<row id or *>.<field>"),
    ("sources.*.capacity=1", "no rows in table 'sources'"),
    ("scenario_demand.mild/mask.demand=1", "selected by scenario/product/period"),
    ("settings.budget=-1", "expected a number ≥ 0, got -1 (sweep point settings.budget=-1)"),
])
def test_bad_set_is_a_clear_error(runner, write_instance, tmp_path, spec, message):
    path = write_instance(fractile_doc())
    out = tmp_path / "never"
    result = runner.invoke(main, ["sweep", str(path), "--set", spec, "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert not out.exists(), "nothing is solved or written when the sweep is invalid"


def test_same_parameter_twice_is_an_error(write_instance, tmp_path):
    path = write_instance(fractile_doc())
    with pytest.raises(InputError, match="given twice"):
        sweep.run(path, ["settings.budget=1", "settings.budget=2"], tmp_path / "x")


def test_edits_leave_the_loaded_document_untouched(write_instance):
    path = write_instance(fractile_doc())
    doc = loader.read(path)
    param = sweep.parse_set("products.*.holding_cost=7", doc)
    points = sweep.make_points(doc, [param])
    assert doc.data["products"][0]["holding_cost"] == 1
    assert points[0].document.data["products"][0]["holding_cost"] == 7
    assert sweep.parse_value("1e6") == 1e6 and sweep.parse_value("none") is None
    assert sweep.parse_value("true") is True and sweep.parse_value("EU") == "EU"


def test_sweep_help(runner):
    result = runner.invoke(main, ["sweep", "--help"])
    assert result.exit_code == 0
    assert "--set PATH=V1,V2,..." in result.output and "--workers" in result.output


def test_allocation_decision_columns(write_instance, tmp_path):
    """H (region R) needs 100 masks, N (region S) 50. Supply 90: max-min fills both at
    90 / 150 = 0.6; supply 150 fills both needs, 1.0 in each region."""
    doc = {"kind": "allocation", "periods": 1,
           "institutions": [{"id": "H", "sector": "cure", "type": "hospital", "region": "R", "priority": 1},
                            {"id": "N", "sector": "care", "type": "nursing_home", "region": "S", "priority": 1}],
           "needs": [{"institution": "H", "product": "m", "period": 0, "need": 100},
                     {"institution": "N", "product": "m", "period": 0, "need": 50}],
           "supply": [{"product": "m", "period": 0, "quantity": 90}],
           "products": [{"id": "m"}]}
    path = write_instance(doc)
    result = sweep.run(path, ["supply.*.quantity=90,150"], tmp_path / "alloc", workers=1)
    assert result.frame["fill_rate.R"].tolist() == pytest.approx([0.6, 1.0])
    assert result.frame["fill_rate.S"].tolist() == pytest.approx([0.6, 1.0])
