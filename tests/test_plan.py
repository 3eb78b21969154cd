"""kind: plan — each link with a hand-computed value, a chain stopped by an infeasible step,
step errors that name the step's file, and the checker re-verifying every linked value."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

import stockpile as sp
from stockpile.cli import main
from stockpile.errors import InputError

# -- a tiny chain whose every figure is computed by hand ----------------------------------------
#
# sourcing: 1000 masks; supplier a sells 600 at most at 0.50, b any quantity at 0.80.
#   The cheapest split is a 600 + b 400: purchase 300 + 320 = 620, so the average awarded
#   price is 620 / 1000 = 0.62 EUR/mask. 100 gloves from b at 0.20: average 0.20.
# ironstock (1 period): one crisis (probability 0.5) needs 500 masks; holding 0.10/unit/year,
#   shortage 10/unit, so each unit is worth 0.5·10 = 5 > 0.10 and the budget of 248 EUR binds:
#   R = 248 / 0.62 = 400 masks (with its own unit_cost of 9 it would be 248 / 9 = 27.6).
#   Objective 0.10·400 + 0.5·10·(500 − 400) = 40 + 500 = 540.
# rotation (3 periods, no holding cost): lot L1 of 500 masks expires at the start of period 2;
#   a bought mask lives 1 period, so it counts only in the period it arrives. Target R = 400:
#   L1 covers periods 0 and 1, 400 masks are bought in period 2 at 0.62 = 248 EUR (L1's
#   500 are written off at no cost). Usable stock at the end of periods 0, 1, 2: 500, 500, 400.
# allocation (1 period): a hospital needs 300 masks and a nursing home 200; the central stock
#   is rotation's usable stock at the end of the crisis period (default the last: 400).
#   The fairest plan fills both to 400 / 500 = 0.8: shortage 60 + 40 = 100 (the objective).

SOURCING = {
    "kind": "sourcing",
    "products": [{"id": "mask", "demand": 1000}, {"id": "glove", "demand": 100}],
    "suppliers": [{"id": "a", "region": "EU"}, {"id": "b", "region": "NL"}],
    "offers": [
        {"supplier": "a", "product": "mask", "unit_price": 0.5, "capacity": 600},
        {"supplier": "b", "product": "mask", "unit_price": 0.8},
        {"supplier": "b", "product": "glove", "unit_price": 0.2},
    ],
}
IRONSTOCK = {
    "kind": "ironstock",
    "periods": 1,
    "settings": {"budget": 248},
    "products": [{"id": "mask", "unit_cost": 9, "holding_cost": 0.1, "shortage_penalty": 10}],
    "scenarios": [{"id": "wave", "probability": 0.5}],
    "scenario_demand": [{"scenario": "wave", "product": "mask", "period": 0, "demand": 500}],
}
ROTATION = {
    "kind": "rotation",
    "periods": 3,
    "products": [{"id": "mask", "target": 1, "min_remaining_life": 0, "shelf_life": 1, "unit_cost": 9}],
    "lots": [{"id": "L1", "product": "mask", "quantity": 500, "expiry": 2}],
}
ALLOCATION = {
    "kind": "allocation",
    "periods": 1,
    "products": [{"id": "mask"}],
    "institutions": [{"id": "h1", "sector": "cure", "type": "hospital", "region": "north"},
                     {"id": "n1", "sector": "care", "type": "nursing_home", "region": "north"}],
    "needs": [{"institution": "h1", "product": "mask", "period": 0, "need": 300},
              {"institution": "n1", "product": "mask", "period": 0, "need": 200}],
    "supply": [{"product": "mask", "period": 0, "quantity": 50}],
}
STEPS = {"sourcing": SOURCING, "ironstock": IRONSTOCK, "rotation": ROTATION, "allocation": ALLOCATION}


def write_plan(folder: Path, kinds=tuple(STEPS), links=None, steps=None, name="plan.yaml") -> Path:
    """The plan file and one step file per kind (steps overrides documents)."""
    docs = {**STEPS, **(steps or {})}
    (folder / "steps").mkdir(parents=True, exist_ok=True)
    for kind in kinds:
        (folder / "steps" / f"{kind}.yaml").write_text(yaml.safe_dump(docs[kind], sort_keys=False))
    plan = {"kind": "plan", "name": "tiny", "steps": {k: f"steps/{k}.yaml" for k in kinds}}
    if links is not None:
        plan["links"] = links
    path = folder / name
    path.write_text(yaml.safe_dump(plan, sort_keys=False))
    return path


def solved(tmp_path: Path, **kwargs):
    chain = sp.load(write_plan(tmp_path, **kwargs))
    out = tmp_path / "out"
    result = sp.api.solve_plan(chain, out)
    return chain, result, out


def links_of(out: Path) -> dict[tuple[str, str, str, str], float]:
    frame = pd.read_csv(out / "links.csv", dtype={"product": str})
    return {(r["from"], r["to"], r["product"], r["field"]): r["value"] for r in frame.to_dict("records")}


# -- each link, by hand ---------------------------------------------------------------------------


def test_the_whole_chain_carries_each_hand_computed_value(tmp_path):
    chain, result, out = solved(tmp_path)
    assert result.status == "optimal" and result.exit_code == 0
    links = links_of(out)
    assert links == pytest.approx({
        ("sourcing", "ironstock", "mask", "unit_cost"): 0.62,       # 620 / 1000
        ("sourcing", "rotation", "mask", "unit_cost"): 0.62,
        ("ironstock", "rotation", "mask", "target"): 400,           # 248 / 0.62
        ("rotation", "allocation", "mask", "supply"): 400,          # usable at the end of period 2
    })
    objectives = {s.kind: s.result.objective for s in result.steps}
    assert objectives == pytest.approx({"sourcing": 300 + 320 + 100 * 0.2, "ironstock": 540,
                                        "rotation": 400 * 0.62, "allocation": 100})
    assert result.steps[-1].result.kpis["min_fill_rate"] == pytest.approx(0.8)
    assert sp.check(chain, out) == []


def test_each_step_folder_is_a_complete_results_folder(tmp_path):
    chain, result, out = solved(tmp_path)
    for kind in STEPS:
        folder = out / kind
        summary = json.loads((folder / "summary.json").read_text())
        assert summary["kind"] == kind and summary["status"] == "optimal"
        for table in summary["tables"]:
            assert (folder / table).is_file()
        # the edited instance beside the results verifies on its own
        assert sp.check(folder / "instance.yaml", folder) == []
    summary = json.loads((out / "summary.json").read_text())
    assert summary["kind"] == "plan" and summary["status"] == "optimal" and summary["stopped_at"] is None
    assert [(s["kind"], s["status"]) for s in summary["steps"]] == [(k, "optimal") for k in STEPS]
    assert summary["steps"][1]["objective"] == pytest.approx(540)
    written = yaml.safe_load((out / "rotation" / "instance.yaml").read_text())
    assert written["products"][0]["target"] == pytest.approx(400)
    assert written["products"][0]["unit_cost"] == pytest.approx(0.62)


def test_sourcing_price_is_the_average_awarded_price_per_product(tmp_path):
    # rotation only: no ironstock, so the target stays 1 and one mask bought in period 2 (L1
    # covers 0 and 1) costs the average awarded price 0.62
    _, result, out = solved(tmp_path, kinds=("sourcing", "rotation"))
    assert links_of(out) == pytest.approx({("sourcing", "rotation", "mask", "unit_cost"): 0.62})
    assert result.steps[1].result.objective == pytest.approx(0.62)


def test_without_the_price_link_ironstock_buys_at_its_own_unit_cost(tmp_path):
    _, result, out = solved(tmp_path, kinds=("sourcing", "ironstock"), links={"sourcing_price": False})
    assert links_of(out) == {}
    reserve = pd.read_csv(out / "ironstock" / "reserve.csv")
    assert reserve["reserve"].iloc[0] == pytest.approx(248 / 9)


def test_a_targets_row_still_overrides_the_linked_reserve(tmp_path):
    # no budget: every mask is worth 5 > 0.10 of holding, so R = 500, the whole crisis demand.
    # Targets 500, 600 (the row), 500: L1 covers period 0, 100 are bought in period 1 and 500
    # in period 2, at rotation's own unit_cost 9 (no sourcing step): 600 · 9 = 5400
    ironstock = {**IRONSTOCK, "settings": {}}
    rotation = {**ROTATION, "targets": [{"product": "mask", "period": 1, "target": 600}]}
    chain, result, out = solved(tmp_path, kinds=("ironstock", "rotation"),
                                steps={"ironstock": ironstock, "rotation": rotation})
    assert links_of(out) == pytest.approx({("ironstock", "rotation", "mask", "target"): 500})
    stock = pd.read_csv(out / "rotation" / "stock.csv")
    assert list(stock["target"]) == pytest.approx([500, 600, 500])
    assert result.steps[1].result.objective == pytest.approx(600 * 9)
    assert sp.check(chain, out) == []


@pytest.mark.parametrize("crisis_period, supply", [(0, 500), (1, 500), (None, 400)])
def test_reserve_supply_is_usable_stock_at_the_end_of_the_crisis_period(tmp_path, crisis_period, supply):
    links = {} if crisis_period is None else {"crisis_period": crisis_period}
    _, result, out = solved(tmp_path, links=links)
    assert links_of(out)[("rotation", "allocation", "mask", "supply")] == pytest.approx(supply)
    # fill rate supply / 500 for both institutions (capped at 1)
    assert result.steps[-1].result.kpis["min_fill_rate"] == pytest.approx(min(1.0, supply / 500))


def test_without_rotation_allocation_receives_the_ironstock_reserve(tmp_path):
    # no sourcing: R = 248 / 9 = 27.56 masks
    chain, result, out = solved(tmp_path, kinds=("ironstock", "allocation"))
    assert links_of(out) == pytest.approx({("ironstock", "allocation", "mask", "supply"): 248 / 9})
    central = pd.read_csv(out / "allocation" / "central.csv")
    assert central.loc[central["period"] == 0, "supply"].iloc[0] == pytest.approx(248 / 9)
    assert sp.check(chain, out) == []


def test_supply_without_a_period_0_row_gets_one(tmp_path):
    # no sourcing: R = 248 / 9 = 27.56 is rotation's target; in period 2 it buys whole masks,
    # 28, and that usable stock is allocation's opening supply (its own rows start in period 1)
    allocation = {**ALLOCATION, "periods": 2, "supply": [{"product": "mask", "period": 1, "quantity": 100}]}
    _, result, out = solved(tmp_path, kinds=("ironstock", "rotation", "allocation"),
                            steps={"allocation": allocation})
    row = pd.read_csv(out / "links.csv").query("to == 'allocation'").iloc[0]
    assert row["value"] == 28 and row["replaced"] == 0
    written = yaml.safe_load((out / "allocation" / "instance.yaml").read_text())
    assert {(r["period"], float(r["quantity"])) for r in written["supply"]} == {(1, 100.0), (0, 28.0)}


def test_products_are_matched_by_id_and_unmatched_ones_keep_their_values(tmp_path):
    # gloves are sourced but ironstock has no gloves: only the mask price is carried
    ironstock = {**IRONSTOCK, "products": [*IRONSTOCK["products"],
                                           {"id": "gown", "unit_cost": 3, "holding_cost": 0, "shortage_penalty": 0}]}
    _, result, out = solved(tmp_path, kinds=("sourcing", "ironstock"), steps={"ironstock": ironstock})
    assert links_of(out) == pytest.approx({("sourcing", "ironstock", "mask", "unit_cost"): 0.62})
    written = yaml.safe_load((out / "ironstock" / "instance.yaml").read_text())
    assert [p["unit_cost"] for p in written["products"]] == pytest.approx([0.62, 3])


# -- a step without a plan stops the chain ----------------------------------------------------------


def test_an_infeasible_middle_step_stops_the_chain_with_its_reason(tmp_path):
    # a mask ordered in period 0 arrives in period 1 (lead_time 1) and there is no lot on hand:
    # the target of period 0 cannot be met
    rotation = {**ROTATION, "lots": [], "products": [{**ROTATION["products"][0], "lead_time": 1}]}
    path = write_plan(tmp_path, steps={"rotation": rotation})
    out = tmp_path / "out"
    run = CliRunner().invoke(main, ["solve", str(path), "--out", str(out), "--threads", "1"])
    assert run.exit_code == 1, run.output
    assert "rotation" in run.output and "target of mask in week 0" in run.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "infeasible" and summary["stopped_at"] == "rotation"
    assert "target of mask in week 0" in summary["reason"]
    assert [s["status"] for s in summary["steps"]] == ["optimal", "optimal", "infeasible", "not_run"]
    assert not (out / "allocation").exists()
    assert (out / "rotation" / "summary.json").is_file()
    # what was run verifies; the stopped step has no plan to verify, and check says so
    violations = sp.check(sp.load(path), out)
    assert len(violations) == 1 and violations[0].startswith(
        "rotation: no plan to verify: the status is 'infeasible' (the target of mask in week 0")


# -- validation: every step file and every link before any solve ------------------------------


def test_a_step_error_names_the_step_file(tmp_path):
    ironstock = {**IRONSTOCK, "products": [{**IRONSTOCK["products"][0], "holding_cots": 1}]}
    allocation = {**ALLOCATION, "supply": [{"product": "gown", "period": 0, "quantity": 1}]}
    path = write_plan(tmp_path, steps={"ironstock": ironstock, "allocation": allocation})
    with pytest.raises(InputError) as err:
        sp.load(path)
    text = str(err.value)
    assert str(tmp_path / "steps" / "ironstock.yaml") in text and "holding_cots" in text
    assert str(tmp_path / "steps" / "allocation.yaml") in text and "'gown'" in text
    run = CliRunner().invoke(main, ["validate", str(path)])
    assert run.exit_code == 2 and "steps/ironstock.yaml" in run.output


def test_nothing_is_solved_when_a_later_step_is_invalid(tmp_path):
    allocation = {**ALLOCATION, "periods": 0}
    path = write_plan(tmp_path, steps={"allocation": allocation})
    out = tmp_path / "out"
    run = CliRunner().invoke(main, ["solve", str(path), "--out", str(out)])
    assert run.exit_code == 2 and "steps/allocation.yaml" in run.output
    assert not out.exists()


@pytest.mark.parametrize("plan_doc, message", [
    ({"steps": {"ironstock": "steps/ironstock.yaml"}}, "at least two steps"),
    ({"steps": {"ironstock": "steps/ironstock.yaml", "rotaton": "steps/rotation.yaml"}}, "did you mean 'rotation'"),
    ({"steps": {"ironstock": "steps/ironstock.yaml", "rotation": "steps/missing.yaml"}}, "'steps/missing.yaml' not found"),
    ({"steps": {"ironstock": "steps/ironstock.yaml", "rotation": "../rotation.yaml"}}, "outside the plan's folder"),
    ({"steps": {"ironstock": "steps/rotation.yaml", "rotation": "steps/rotation.yaml"}}, "a rotation instance, not ironstock"),
    ({"steps": {"ironstock": "steps/ironstock.yaml", "rotation": "steps/rotation.yaml"},
      "links": {"reserve_target": "yes"}}, "expected true or false"),
    ({"steps": {"ironstock": "steps/ironstock.yaml", "rotation": "steps/rotation.yaml"},
      "links": {"reserve_targets": False}}, "did you mean 'reserve_target'"),
    ({"steps": {"ironstock": "steps/ironstock.yaml", "rotation": "steps/rotation.yaml"},
      "links": {"crisis_period": 3}}, "within 0..2"),
    ({"steps": {"ironstock": "steps/ironstock.yaml", "allocation": "steps/allocation.yaml"},
      "links": {"crisis_period": 0}}, "only to a plan with a rotation step"),
    ({"steps": {"ironstock": "steps/ironstock.yaml", "rotation": "steps/rotation.yaml"}, "stages": 1},
     "unknown key 'stages'"),
])
def test_invalid_plans_are_explained(tmp_path, plan_doc, message):
    write_plan(tmp_path)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"kind": "plan", **plan_doc}))
    with pytest.raises(InputError) as err:
        sp.load(path)
    assert message in str(err.value)
    assert str(path) in str(err.value) or "steps" in str(err.value)


def test_a_link_with_no_product_in_common_is_invalid(tmp_path):
    allocation = {**ALLOCATION, "products": [{"id": "FFP2"}],
                  "needs": [{**n, "product": "FFP2"} for n in ALLOCATION["needs"]],
                  "supply": [{"product": "FFP2", "period": 0, "quantity": 5}]}
    path = write_plan(tmp_path, kinds=("ironstock", "allocation"), steps={"allocation": allocation})
    with pytest.raises(InputError, match="reserve_supply .* carries nothing"):
        sp.load(path)
    path = write_plan(tmp_path, kinds=("ironstock", "allocation"), steps={"allocation": allocation},
                      links={"reserve_supply": False})
    assert "no link runs" in sp.load(path).warnings[0]


@pytest.mark.parametrize("crisis_period, supply", [("2027-01-11", 500), ("2027-01-17", 500), ("2027-01-18", 1)])
def test_crisis_period_may_be_a_date_of_the_rotation_calendar(tmp_path, crisis_period, supply):
    # 7-day periods from 2027-01-04: period 1 covers 11..17 January (L1's 500 masks), period 2
    # starts on the 18th (L1 is gone; without ironstock the target is the file's 1 mask, bought then)
    rotation = {**ROTATION, "start_date": "2027-01-04"}
    _, result, out = solved(tmp_path, kinds=("rotation", "allocation"), steps={"rotation": rotation},
                            links={"crisis_period": crisis_period})
    assert links_of(out) == pytest.approx({("rotation", "allocation", "mask", "supply"): supply})


@pytest.mark.parametrize("crisis_period, start_date", [("2027-01-25", "2027-01-04"), ("2027-01-03", "2027-01-04"),
                                                        ("2027-01-11", None)])
def test_a_crisis_date_outside_the_rotation_calendar_is_invalid(tmp_path, crisis_period, start_date):
    rotation = {**ROTATION, **({"start_date": start_date} if start_date else {})}
    path = write_plan(tmp_path, kinds=("rotation", "allocation"), steps={"rotation": rotation},
                      links={"crisis_period": crisis_period})
    with pytest.raises(InputError, match="links.crisis_period"):
        sp.load(path)


# -- the checker re-verifies every linked value --------------------------------------------------


def test_check_flags_a_tampered_link(tmp_path):
    chain, _, out = solved(tmp_path)
    links = pd.read_csv(out / "links.csv")
    links.loc[links["field"] == "target", "value"] = 450
    links.to_csv(out / "links.csv", index=False)
    violations = sp.check(chain, out)
    assert violations == ["links.csv: ironstock → rotation target of mask is 450 but the ironstock results give 400"]
    run = CliRunner().invoke(main, ["check", str(chain.path), str(out)])
    assert run.exit_code == 1 and "450" in run.output


def test_check_flags_a_step_instance_edited_after_the_solve(tmp_path):
    chain, _, out = solved(tmp_path)
    path = out / "rotation" / "instance.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["products"][0]["unit_cost"] = 0.5
    path.write_text(yaml.safe_dump(doc))
    assert sp.check(chain, out) == [
        "rotation: instance.yaml: table 'products' differs from the step file with the linked values"]


def test_check_recomputes_links_from_the_source_tables(tmp_path):
    # a reserve changed in ironstock's table: its own check fails, and the rotation step is
    # now judged against target 300 — which its purchases (400 in period 2) still meet, but
    # links.csv no longer matches what the tables give
    chain, _, out = solved(tmp_path)
    reserve = pd.read_csv(out / "ironstock" / "reserve.csv")
    reserve["reserve"] = 300.0
    reserve.to_csv(out / "ironstock" / "reserve.csv", index=False)
    violations = sp.check(chain, out)
    assert any(v.startswith("ironstock: ") for v in violations)
    assert "links.csv: ironstock → rotation target of mask is 400 but the ironstock results give 300" in violations
    assert any(v.startswith("rotation: instance.yaml") for v in violations)


def test_check_flags_a_plan_summary_that_disagrees_with_a_step(tmp_path):
    chain, _, out = solved(tmp_path)
    summary = json.loads((out / "summary.json").read_text())
    summary["steps"][0]["objective"] = 1.0
    (out / "summary.json").write_text(json.dumps(summary))
    assert sp.check(chain, out) == ["sourcing: the plan summary's objective 1.0 differs from its summary.json's 640.0"]


# -- the command line -----------------------------------------------------------------------------


def test_cli_validate_solve_check(tmp_path):
    path = write_plan(tmp_path)
    runner = CliRunner()
    run = runner.invoke(main, ["validate", str(path)])
    assert run.exit_code == 0, run.output
    assert "valid plan 'tiny': 4 steps" in run.output
    assert "link reserve_supply: rotation → allocation supply at the end of period 2 (mask)" in run.output
    out = tmp_path / "out"
    run = runner.invoke(main, ["solve", str(path), "--out", str(out), "--threads", "1"])
    assert run.exit_code == 0, run.output
    assert "ironstock → rotation target mask: 400 (was 1)" in run.output, run.output
    run = runner.invoke(main, ["solve", str(path), "--out", str(tmp_path / "j"), "--json"])
    assert json.loads(run.stdout)["steps"][3]["objective"] == pytest.approx(100)
    run = runner.invoke(main, ["check", str(path), str(out)])
    assert run.exit_code == 0, run.output


def test_solve_of_a_plan_through_the_instance_api_says_how(tmp_path):
    with pytest.raises(TypeError, match="solve_plan"):
        sp.solve(write_plan(tmp_path))


# -- the shipped example ----------------------------------------------------------------------------


def test_the_shipped_plan_validates_and_copies(tmp_path):
    from stockpile.examples import copy_to, find

    example = find("plan-nl")
    assert example.kind == "plan"
    chain = sp.load(copy_to("plan-nl", tmp_path))
    assert [s.kind for s in chain.steps] == ["sourcing", "ironstock", "rotation", "allocation"]
    assert chain.crisis_period == 25 and len(chain.links()) == 4


def test_the_shipped_plan_solves_to_its_known_figures(tmp_path):
    from stockpile.examples import find

    example = find("plan-nl")
    expected = example.expected
    gap = float(expected["mip_gap"])
    chain = sp.load(example.file)
    result = sp.api.solve_plan(chain, tmp_path, mip_gap=gap, threads=1)
    assert result.exit_code == 0
    for step in result.steps:
        known = expected["steps"][step.kind]
        assert step.status == known["status"], step.reason
        # both solves are within `gap` of the true optimum, so within 2·gap of each other
        assert step.result.objective == pytest.approx(known["objective"], rel=2 * gap + 1e-9), step.kind
    carried = links_of(tmp_path)
    assert carried == pytest.approx({(r["from"], r["to"], r["product"], r["field"]): r["value"]
                                     for r in expected["links"]}, rel=1e-6)
    assert sp.check(chain, tmp_path) == []


def test_a_second_run_replaces_the_first_and_a_foreign_folder_is_refused(tmp_path):
    path = write_plan(tmp_path)
    out = tmp_path / "out"
    chain = sp.load(path)
    sp.api.solve_plan(chain, out)
    assert {"report.html", "results.xlsx", "instance.yaml"} <= {p.name for p in (out / "allocation").iterdir()}
    # the same folder again, now stopping at rotation: allocation's old folder goes
    rotation = {**ROTATION, "lots": [], "products": [{**ROTATION["products"][0], "lead_time": 1}]}
    chain = sp.load(write_plan(tmp_path, steps={"rotation": rotation}))
    assert sp.api.solve_plan(chain, out).exit_code == 1
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "ironstock", "links.csv", "rotation", "sourcing", "summary.json"]
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="did not write"):
        sp.api.solve_plan(chain, foreign)
