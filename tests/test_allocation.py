"""allocation: hand-computed optima, the baseline rule, properties, malformed input, CLI."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stockpile import api
from stockpile.checking import check_results
from stockpile.cli import main
from stockpile.errors import InputError
from stockpile.loader import Document, validate
from stockpile.models.allocation.check import check as check_allocation
from stockpile.models.allocation.data import AllocationData, baseline

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "instances" / "allocation-nl-crisis" / "instance.yaml"


def instance(tmp_path: Path, doc: dict):
    doc = {"kind": "allocation", "periods": 1, **copy.deepcopy(doc)}
    return validate(Document(doc, tmp_path / "t.yaml"))


def solved(tmp_path: Path, doc: dict, **opts):
    inst = instance(tmp_path, doc)
    res = api.solve(inst, **opts)
    out = tmp_path / "out"
    res.write(out)
    summary, tables = api.read_results(out)
    assert check_results(inst, summary, tables) == []
    return inst, res, summary, tables


def fills(res) -> dict:
    f = res.tables["fill"]
    return {(r.institution, r.product): r.fill_rate for r in f.itertuples()}


def inst_rows(*rows):
    return [dict(zip(("id", "sector", "type", "region", "priority"), r)) for r in rows]


# -- hand-computed optima -----------------------------------------------------------------------


def test_maxmin_splits_scarce_stock_between_two_institutions(tmp_path):
    """Central stock 90, pack 1; H needs 100, N needs 50, both priority 1.

    Max-min: fill z for both needs 100z + 50z ≤ 90 → z = 0.6 (H 60, N 30).
    Shortage-only would be indifferent (any split of 90 leaves 60 short), so the
    efficient plan has the same weighted shortage 60: price of fairness 0.
    """
    doc = {"settings": {"fairness": "maxmin"}, "institutions": inst_rows(("H", "cure", "hospital", "R", 1), ("N", "care", "nursing_home", "R", 1)),
           "needs": [{"institution": "H", "product": "m", "period": 0, "need": 100},
                     {"institution": "N", "product": "m", "period": 0, "need": 50}],
           "supply": [{"product": "m", "period": 0, "quantity": 90}],
           "products": [{"id": "m"}]}
    _, res, summary, _ = solved(tmp_path, doc)
    assert summary["status"] == "optimal"
    assert fills(res) == pytest.approx({("H", "m"): 0.6, ("N", "m"): 0.6})
    assert summary["kpis"]["min_fill_rate"] == pytest.approx(0.6)
    assert summary["objective"] == pytest.approx(60.0)
    assert summary["kpis"]["price_of_fairness"] == pytest.approx(0.0)


def test_step2_picks_the_max_min_optimum_with_less_weighted_shortage(tmp_path):
    """Two products, pack 1. H (priority 3) needs 10 a and 10 b; N (priority 1) needs 10 a.

    Supply a = 10, b = 20. Step 1: the pairs (H,a), (N,a) share 10 → z* = 0.5; (H,b) can
    reach 1. Step 2 keeps every pair ≥ 0.5 and minimises 3·short(H) + 1·short(N): a is
    split 5/5 (any more to H would drop N below 0.5), b fills H completely (10 of 20).
    Weighted shortage = 3·(5 + 0) + 1·5 = 20. Without step 1 the efficient plan gives all of
    a to H: 3·0 + 1·10 = 10, so the price of fairness is 20 − 10 = 10.
    """
    doc = {"settings": {"fairness": "maxmin"}, "institutions": inst_rows(("H", "cure", "hospital", "R", 3), ("N", "care", "nursing_home", "R", 1)),
           "needs": [{"institution": "H", "product": "a", "period": 0, "need": 10},
                     {"institution": "H", "product": "b", "period": 0, "need": 10},
                     {"institution": "N", "product": "a", "period": 0, "need": 10}],
           "supply": [{"product": "a", "period": 0, "quantity": 10}, {"product": "b", "period": 0, "quantity": 20}],
           "products": [{"id": "a"}, {"id": "b"}]}
    _, res, summary, tables = solved(tmp_path, doc)
    assert fills(res) == pytest.approx({("H", "a"): 0.5, ("H", "b"): 1.0, ("N", "a"): 0.5})
    assert summary["objective"] == pytest.approx(20.0)
    assert summary["kpis"]["efficient_weighted_shortage"] == pytest.approx(10.0)
    assert summary["kpis"]["price_of_fairness"] == pytest.approx(10.0)
    comp = {r["plan"]: r for r in tables["comparison"].to_dict("records")}
    assert float(comp["efficient"]["weighted_shortage"]) == pytest.approx(10.0)


def test_fairness_none_minimises_weighted_shortage_only(tmp_path):
    """Same data as above with fairness none: H (priority 3) gets all of a → W = 10, price 0."""
    doc = {"settings": {"fairness": "none"},
           "institutions": inst_rows(("H", "cure", "hospital", "R", 3), ("N", "care", "nursing_home", "R", 1)),
           "needs": [{"institution": "H", "product": "a", "period": 0, "need": 10},
                     {"institution": "N", "product": "a", "period": 0, "need": 10}],
           "supply": [{"product": "a", "period": 0, "quantity": 10}],
           "products": [{"id": "a"}]}
    _, res, summary, _ = solved(tmp_path, doc)
    assert fills(res) == pytest.approx({("H", "a"): 1.0, ("N", "a"): 0.0})
    assert summary["objective"] == pytest.approx(10.0)
    assert summary["kpis"]["price_of_fairness"] == 0


def test_parity_holds_care_at_k_times_cure(tmp_path):
    """Fairness none, H (cure, priority 5) and N (care, priority 1) each need 100, supply 100.

    Without parity H gets everything (W = 5·0 + 100 = 100). Parity k = 0.5: care fill ≥ 0.5 ×
    cure fill: with h + n = 100, n/100 ≥ 0.5·h/100 → n ≥ h/2 → h ≤ 66.67 in real numbers.
    Deliveries are whole packs (of 1): N can use at most what it receives, an integer n, so
    h ≤ 2n and h + n ≤ 100 → n = 34, h = 66 (n = 33 would allow only h ≤ 66 as well, with
    1 unit unused). W = 5(100 − h) + (100 − n) = 5·34 + 66 = 236.
    """
    doc = {"settings": {"fairness": "none", "care_cure_parity": 0.5},
           "institutions": inst_rows(("H", "cure", "hospital", "R", 5), ("N", "care", "nursing_home", "R", 1)),
           "needs": [{"institution": "H", "product": "a", "period": 0, "need": 100},
                     {"institution": "N", "product": "a", "period": 0, "need": 100}],
           "supply": [{"product": "a", "period": 0, "quantity": 100}],
           "products": [{"id": "a"}]}
    _, res, summary, tables = solved(tmp_path, doc)
    f = fills(res)
    assert f[("H", "a")] == pytest.approx(0.66, abs=1e-6)
    assert f[("N", "a")] == pytest.approx(0.34, abs=1e-6)
    assert summary["objective"] == pytest.approx(236, rel=1e-6)
    sectors = {(r.sector, r.product): r.fill_rate for r in res.tables["sectors"].itertuples()}
    assert sectors[("care", "a")] >= 0.5 * sectors[("cure", "a")] - 1e-9


def test_pack_rounding_and_stock_carry_over(tmp_path):
    """Pack 10, one institution, needs 25 in period 0 and 25 in period 1, central 50 at t=0.

    Whole packs: 3 packs (30) then 2 packs (20), or 5 at once: use 25 + 25, fill 1.
    With supply 45 only 4 packs can leave (40): use 40, fill 0.8, 5 units stay central.
    """
    doc = {"periods": 2,
           "institutions": inst_rows(("H", "cure", "hospital", "R", 1)),
           "needs": [{"institution": "H", "product": "a", "period": 0, "need": 25},
                     {"institution": "H", "product": "a", "period": 1, "need": 25}],
           "supply": [{"product": "a", "period": 0, "quantity": 45}],
           "products": [{"id": "a", "pack_size": 10}]}
    _, res, summary, tables = solved(tmp_path, doc)
    assert summary["kpis"]["min_fill_rate"] == pytest.approx(0.8)
    units = res.tables["deliveries"]["units"]
    assert units.sum() == pytest.approx(40)
    assert all(u % 10 == 0 for u in units)
    central = res.tables["central"]
    assert central.loc[central["period"] == 1, "stock"].iloc[0] == pytest.approx(5)


def test_transport_cost_breaks_ties_and_region_capacity_binds(tmp_path):
    """A in region near (cost 1, capacity 30), B in region far (cost 3), each needs 40, supply 60.

    Max-min: 60 for 80 of need → z = 0.75 (30 each); A's region carries at most 30 anyway.
    Then W = 20 is fixed; transport = 30·1 + 30·3 = 120.
    """
    doc = {"institutions": inst_rows(("A", "care", "gp", "near", 1), ("B", "care", "gp", "far", 1)),
           "needs": [{"institution": "A", "product": "a", "period": 0, "need": 40},
                     {"institution": "B", "product": "a", "period": 0, "need": 40}],
           "supply": [{"product": "a", "period": 0, "quantity": 60}],
           "products": [{"id": "a"}],
           "regions": [{"id": "near", "capacity": 30, "cost_per_unit": 1}, {"id": "far", "cost_per_unit": 3}]}
    _, res, summary, _ = solved(tmp_path, doc)
    assert summary["kpis"]["min_fill_rate"] == pytest.approx(0.75)
    assert summary["kpis"]["transport_cost"] == pytest.approx(120)
    t = res.tables["transport"]
    assert t.loc[t["region"] == "near", "units"].max() <= 30 + 1e-9


def test_delivery_cap_limits_hoarding(tmp_path):
    """max_delivery_periods 1.5: need 10 per period for 2 periods, all supply (20) at t=0.

    Period 0 may receive at most 15; period 1 at most 15 more; no pre-stocking beyond that:
    fill 1 needs 10 + 10 (or 15 + 5). The cap is checked on every delivery.
    """
    doc = {"periods": 2, "settings": {"max_delivery_periods": 1.5},
           "institutions": inst_rows(("A", "care", "gp", "R", 1)),
           "needs": [{"institution": "A", "product": "a", "period": t, "need": 10} for t in (0, 1)],
           "supply": [{"product": "a", "period": 0, "quantity": 20}],
           "products": [{"id": "a"}]}
    _, res, summary, _ = solved(tmp_path, doc)
    assert summary["kpis"]["min_fill_rate"] == pytest.approx(1.0)
    assert res.tables["deliveries"]["units"].max() <= 15 + 1e-9


# -- the baseline rule -------------------------------------------------------------------------


BASELINE_DOC = {
    "periods": 2,
    "institutions": inst_rows(("H", "cure", "hospital", "R", 2), ("N", "care", "nursing_home", "R", 1),
                              ("G", "care", "gp", "R", 1)),
    "needs": [{"institution": "H", "product": "m", "period": 0, "need": 100},
              {"institution": "H", "product": "m", "period": 1, "need": 100},
              {"institution": "N", "product": "m", "period": 0, "need": 50},
              {"institution": "N", "product": "m", "period": 1, "need": 50},
              {"institution": "G", "product": "m", "period": 1, "need": 30}],
    "stocks": [{"institution": "N", "product": "m", "quantity": 20}],
    "supply": [{"product": "m", "period": 0, "quantity": 100}, {"product": "m", "period": 1, "quantity": 90}],
    "products": [{"id": "m", "pack_size": 10}],
}


def test_baseline_rule_on_three_institutions(tmp_path):
    """Pack 10. Period 0: requests H 100, N 50 − 20 = 30, G 0 → 130 > on hand 100.
    Ratio 100/130: H 76.9 → 70, N 23.1 → 20; central keeps 10. Use H 70, N min(50, 20+20) = 40.
    Period 1: on hand 10 + 90 = 100; requests H 100, N 50, G 30 → 180; ratio 100/180:
    H 55.6 → 50, N 27.8 → 20, G 16.7 → 10; central keeps 20. Use H 50, N 20, G 10.
    Totals: H 120/200 = 0.6, N 60/100 = 0.6, G 10/30 = 0.333. Min 1/3.
    Weighted shortage 2·80 + 1·40 + 1·20 = 220.
    """
    d = AllocationData(instance(tmp_path, BASELINE_DOC))
    b = baseline(d)
    assert b.deliveries == {("H", "m", 0): 70, ("N", "m", 0): 20, ("H", "m", 1): 50, ("N", "m", 1): 20,
                            ("G", "m", 1): 10}
    assert b.central == {("m", 0): 10, ("m", 1): 20}
    assert b.use_of(("H", "m")) == 120 and b.use_of(("N", "m")) == 60 and b.use_of(("G", "m")) == 10
    _, _, summary, tables = solved(tmp_path, BASELINE_DOC)
    assert summary["kpis"]["baseline_min_fill_rate"] == pytest.approx(1 / 3)
    assert summary["kpis"]["baseline_weighted_shortage"] == pytest.approx(220)
    comp = {r["plan"]: r for r in tables["comparison"].to_dict("records")}
    assert float(comp["baseline"]["weighted_shortage"]) == pytest.approx(220)
    # the optimised plan does at least as well on the minimum fill rate
    assert summary["kpis"]["min_fill_rate"] >= 1 / 3


def test_checker_rejects_a_tampered_plan(tmp_path):
    inst, _, summary, tables = solved(tmp_path, BASELINE_DOC)
    bad = {k: v.copy() for k, v in tables.items()}
    bad["deliveries"].loc[0, "units"] = str(float(bad["deliveries"].loc[0, "units"]) + 5)
    assert any("packs" in v for v in check_allocation(inst, summary, bad))
    bad = {k: v.copy() for k, v in tables.items()}
    bad["usage"].loc[0, "use"] = str(float(bad["usage"].loc[0, "need"]) + 1)
    assert check_allocation(inst, summary, bad)
    wrong = copy.deepcopy(summary)
    wrong["kpis"]["baseline_weighted_shortage"] = 1.0
    assert any("baseline" in v for v in check_allocation(inst, wrong, tables))


def test_rounded_method_keeps_every_rule(tmp_path):
    """The rounded pack method on the baseline data: whole packs, checker clean, min fill ≤ the LP bound."""
    doc = {**BASELINE_DOC, "settings": {"pack_method": "rounded", "care_cure_parity": 0.9}}
    _, res, summary, _ = solved(tmp_path, doc)
    assert summary["kpis"]["pack_method"] == "rounded"
    assert summary["kpis"]["min_fill_rate"] <= summary["kpis"]["lp_min_fill_rate"] + 1e-6
    assert all(u % 10 == 0 for u in res.tables["deliveries"]["units"])


# -- properties on random small instances ---------------------------------------------------------


@st.composite
def small_instances(draw):
    T = draw(st.integers(1, 3))
    n = draw(st.integers(1, 4))
    products = ["a", "b"][: draw(st.integers(1, 2))]
    packs = {p: draw(st.sampled_from([1, 5, 10])) for p in products}
    regions = ["R1", "R2"]
    inst_list = [{"id": f"I{k}", "sector": draw(st.sampled_from(["cure", "care"])), "type": "t",
                  "region": draw(st.sampled_from(regions)), "priority": draw(st.sampled_from([0.5, 1, 2]))}
                 for k in range(n)]
    needs = []
    for rec in inst_list:
        for p in products:
            for t in range(T):
                q = draw(st.integers(0, 40))
                if q:
                    needs.append({"institution": rec["id"], "product": p, "period": t, "need": q})
    supply = [{"product": p, "period": t, "quantity": draw(st.integers(0, 60))} for p in products for t in range(T)]
    stocks = [{"institution": rec["id"], "product": products[0], "quantity": draw(st.integers(0, 15))}
              for rec in inst_list[:1]]
    settings_ = {"fairness": draw(st.sampled_from(["leximin", "maxmin", "none"])),
                 "pack_method": draw(st.sampled_from(["exact", "rounded"]))}
    if draw(st.booleans()):
        settings_["care_cure_parity"] = draw(st.sampled_from([0.5, 0.9, 1.0]))
    if draw(st.booleans()):
        settings_["max_delivery_periods"] = draw(st.sampled_from([1.0, 1.43, 2.0]))
    region_rows = [{"id": r, "capacity": draw(st.one_of(st.none(), st.integers(0, 80))),
                    "cost_per_unit": draw(st.sampled_from([0, 0.5, 1]))} for r in regions]
    return {"periods": T, "settings": settings_, "institutions": inst_list, "needs": needs, "stocks": stocks,
            "supply": supply, "products": [{"id": p, "pack_size": packs[p]} for p in products],
            "regions": region_rows}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=small_instances())
def test_checker_accepts_every_solution_and_invariants_hold(tmp_path, doc):
    inst, res, summary, tables = solved(tmp_path, doc)  # asserts the checker finds nothing
    assert summary["status"] in ("optimal", "feasible")
    d = AllocationData(inst)
    central = res.tables["central"]
    assert (central["stock"] >= -1e-6).all()
    for r in res.tables["deliveries"].itertuples():
        assert r.packs == int(r.packs) and r.units == pytest.approx(r.packs * d.pack[r.product])
    usage = res.tables["usage"]
    assert (usage["use"] <= usage["need"] + 1e-9).all() and (usage["stock"] >= -1e-6).all()
    unconstrained = all(r["capacity"] is None for r in doc["regions"]) and \
        "max_delivery_periods" not in doc["settings"] and "care_cure_parity" not in doc["settings"]
    if summary["kpis"]["min_fill_rate"] is not None and summary["kpis"]["fairness"] == "maxmin" \
            and summary["kpis"]["pack_method"] == "exact" and unconstrained:
        # the pro-rata plan obeys every rule then, so the max-min plan is at least as fair
        assert summary["kpis"]["min_fill_rate"] >= summary["kpis"]["baseline_min_fill_rate"] - 1e-6


# -- malformed input ------------------------------------------------------------------------------


def _problems(tmp_path, doc) -> str:
    with pytest.raises(InputError) as exc:
        instance(tmp_path, doc)
    return "\n".join(str(p) for p in exc.value.problems)


def test_sector_must_be_cure_or_care(tmp_path):
    doc = copy.deepcopy(BASELINE_DOC)
    doc["institutions"][1]["sector"] = "hospital"
    text = _problems(tmp_path, doc)
    assert "table 'institutions', row 2, field 'sector'" in text and "cure" in text


def test_unknown_region_is_reported(tmp_path):
    doc = copy.deepcopy(BASELINE_DOC)
    doc["regions"] = [{"id": "R1"}]
    text = _problems(tmp_path, doc)
    assert "field 'region'" in text and "'R' is not an id in table 'regions'" in text


def test_malformed_rows(tmp_path):
    doc = copy.deepcopy(BASELINE_DOC)
    doc["needs"].append({"institution": "X", "product": "m", "period": 5, "need": -1})
    doc["products"][0]["pack_size"] = 0
    doc["settings"] = {"fairnes": "none"}
    text = _problems(tmp_path, doc)
    assert "unknown field 'settings.fairnes'" in text
    assert "pack_size" in text
    assert "need" in text


def test_duplicate_need_and_period_out_of_range(tmp_path):
    doc = copy.deepcopy(BASELINE_DOC)
    doc["needs"].append(dict(doc["needs"][0]))
    doc["supply"].append({"product": "m", "period": 7, "quantity": 1})
    text = _problems(tmp_path, doc)
    assert "duplicate" in text and "period within 0..1" in text


# -- the shipped instance through the CLI ----------------------------------------------------------


def test_cli_solve_and_check_shipped_instance(tmp_path):
    expected = yaml.safe_load((SHIPPED.parent / "expected.yaml").read_text())
    runner = CliRunner()
    out = tmp_path / "res"
    # a time limit keeps the test short on a shared machine; a cut run still writes a checked plan
    r = runner.invoke(main, ["solve", str(SHIPPED), "--out", str(out), "--time-limit", "60", "--threads", "1"])
    assert r.exit_code == 0, r.output
    summary, tables = api.read_results(out)
    if summary["status"] == "optimal":
        assert summary["objective"] == pytest.approx(expected["objective"], rel=max(expected["mip_gap"], 1e-6))
    assert summary["kpis"]["lp_min_fill_rate"] > summary["kpis"]["baseline_min_fill_rate"]
    assert {"deliveries", "fill", "sectors", "types", "regions", "central", "transport", "comparison",
            "levels", "steps"} <= set(tables)
    r = runner.invoke(main, ["check", str(SHIPPED), str(out)])
    assert r.exit_code == 0, r.output
    # a tampered result is caught
    deliveries = out / "deliveries.csv"
    lines = deliveries.read_text().splitlines()
    cells = lines[1].split(",")
    cells[3] = str(int(cells[3]) + 10_000)
    lines[1] = ",".join(cells)
    deliveries.write_text("\n".join(lines) + "\n")
    r = runner.invoke(main, ["check", str(SHIPPED), str(out)])
    assert r.exit_code == 1
