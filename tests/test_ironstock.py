"""ironstock: hand-computed optima, duals, the checker, diagnosis, malformed input, CLI."""

from __future__ import annotations

import copy
import json

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import stockpile as sp
from stockpile.models.ironstock.data import IronstockData, greedy_shortage, periods_per_year
from stockpile import loader
from stockpile.checking import read_results
from stockpile.cli import main
from stockpile.errors import InputError


def fractile_doc(holding=1.0, penalty=5.0, **product) -> dict:
    """One product, one period, no resupply; crises of 100 / 200 / 300 units with
    probabilities 0.2 / 0.3 / 0.1 (no crisis: 0.4)."""
    return {
        "kind": "ironstock",
        "periods": 1,
        "products": [{"id": "mask", "unit_cost": 2, "holding_cost": holding, "shortage_penalty": penalty,
                      "unit_volume": 0.01, **product}],
        "scenarios": [{"id": "mild", "probability": 0.2}, {"id": "bad", "probability": 0.3},
                      {"id": "worst", "probability": 0.1}],
        "scenario_demand": [{"scenario": "mild", "product": "mask", "period": 0, "demand": 100},
                            {"scenario": "bad", "product": "mask", "period": 0, "demand": 200},
                            {"scenario": "worst", "product": "mask", "period": 0, "demand": 300}],
    }


def solve_doc(write_instance, doc, name="instance.yaml"):
    inst = sp.load(write_instance(doc, name))
    result = sp.solve(inst)
    return inst, result


def solve_and_check(write_instance, doc, tmp_path):
    inst, result = solve_doc(write_instance, doc)
    assert result.status.value == "optimal", result.reason
    out = tmp_path / "out"
    result.write(out)
    assert sp.check(inst, out) == []
    return inst, result


def reserve_of(result, product="mask") -> float:
    frame = result.tables["reserve"]
    return float(frame.loc[frame["product"] == product, "reserve"].iloc[0])


# -- hand-computed optima ---------------------------------------------------------------


@pytest.mark.parametrize("holding, penalty, reserve, objective", [
    # critical fractile: the smallest R with P(demand > R) <= holding / penalty.
    # P(d > 0) = 0.6, P(d > 100) = 0.4, P(d > 200) = 0.1, P(d > 300) = 0.
    # h/P = 0.2: R = 200; cost 1*200 + 5*(0.1*100) = 250
    (1, 5, 200, 250),
    # h/P = 0.5: R = 100; cost 100 + 2*(0.3*100 + 0.1*200) = 100 + 2*50 = 200
    (1, 2, 100, 200),
    # h/P = 0.667 >= 0.6: R = 0; cost 1.5*(0.2*100 + 0.3*200 + 0.1*300) = 1.5*110 = 165
    (1, 1.5, 0, 165),
    # h/P = 0.05: R = 300; cost 300 + 0 = 300
    (1, 20, 300, 300),
])
def test_critical_fractile(write_instance, tmp_path, holding, penalty, reserve, objective):
    inst, result = solve_and_check(write_instance, fractile_doc(holding, penalty), tmp_path)
    assert reserve_of(result) == pytest.approx(reserve, abs=1e-6)
    assert result.objective == pytest.approx(objective, abs=1e-6)
    probs = {"mild": 0.2, "bad": 0.3, "worst": 0.1}
    demand = {"mild": 100, "bad": 200, "worst": 300}
    expected_short = sum(probs[w] * max(0, demand[w] - reserve) for w in probs)
    assert result.kpis["expected_shortage_units"] == pytest.approx(expected_short, abs=1e-6)
    assert result.objective_terms["shortage"] == pytest.approx(penalty * expected_short, abs=1e-6)
    assert result.kpis["budget_marginal_value"] is None and result.kpis["storage_marginal_value"] is None


def test_binding_budget_and_its_marginal_value(write_instance, tmp_path):
    """Budget 300 EUR at 2 EUR/unit buys R = 150 (the unconstrained optimum is 200).

    Between 100 and 200 one unit more saves penalty 5 x P(d > R) 0.4 = 2 and costs
    holding 1: net 1 EUR/year per unit, i.e. 0.5 EUR/year per EUR of budget.
    Objective: 150 + 5*(0.3*50 + 0.1*150) = 150 + 150 = 300. Storage 10 m³ is slack (1.5 used).
    """
    doc = fractile_doc()
    doc["settings"] = {"budget": 300, "storage_capacity": 10}
    inst, result = solve_and_check(write_instance, doc, tmp_path)
    assert reserve_of(result) == pytest.approx(150)
    assert result.objective == pytest.approx(300)
    assert result.kpis["budget_marginal_value"] == pytest.approx(0.5)
    assert result.kpis["storage_marginal_value"] == pytest.approx(0.0)
    assert result.kpis["budget_used"] == pytest.approx(300)
    binding = result.tables["binding"].set_index("constraint")
    assert bool(binding.loc["budget", "binding"]) and not bool(binding.loc["storage", "binding"])

    # the dual is d objective / d budget: re-solving with one more EUR confirms the sign and size
    doc["settings"]["budget"] = 301
    _, more = solve_doc(write_instance, doc, "more.yaml")
    assert result.objective - more.objective == pytest.approx(0.5)


def test_binding_storage_marginal_value(write_instance, tmp_path):
    """Storage 1.5 m³ at 0.01 m³/unit holds R = 150; one m³ more holds 100 units more,
    each saving net 1 EUR/year (see the budget case): 100 EUR/year per m³."""
    doc = fractile_doc()
    doc["settings"] = {"storage_capacity": 1.5}
    inst, result = solve_and_check(write_instance, doc, tmp_path)
    assert reserve_of(result) == pytest.approx(150)
    assert result.kpis["storage_marginal_value"] == pytest.approx(100)
    assert result.kpis["budget_marginal_value"] is None


def test_marginal_values_come_from_the_lp_with_lots_fixed(write_instance, tmp_path):
    """Lots of 40 under a 300 EUR budget: at most 3 lots (R = 120, 240 EUR). With n fixed
    at 3 the budget row has slack, so its marginal value is 0 in that LP."""
    doc = fractile_doc(lot_size=40)
    doc["settings"] = {"budget": 300}
    inst, result = solve_and_check(write_instance, doc, tmp_path)
    assert reserve_of(result) == pytest.approx(120)
    assert int(result.tables["reserve"]["lots"].iloc[0]) == 3
    # 120 + 5*(0.3*80 + 0.1*180) = 120 + 210 = 330
    assert result.objective == pytest.approx(330)
    assert result.kpis["budget_marginal_value"] == pytest.approx(0.0)


def test_lot_size_rounding_from_existing_stock(write_instance, tmp_path):
    """R = 30 + 80 n. The continuous optimum 200 is not reachable; compare the neighbours:
    f(110) = 110 + 5*(0.2*0 + 0.3*90 + 0.1*190) = 110 + 230 = 340
    f(190) = 190 + 5*(0.3*10 + 0.1*110) = 190 + 70 = 260
    f(270) = 270 + 5*(0.1*30) = 285  -> R = 190 (n = 2), objective 260."""
    inst, result = solve_and_check(write_instance, fractile_doc(lot_size=80, existing_stock=30), tmp_path)
    assert reserve_of(result) == pytest.approx(190)
    assert int(result.tables["reserve"]["lots"].iloc[0]) == 2
    assert result.objective == pytest.approx(260)


def test_policy_floor_holds_even_when_stock_does_not_pay(write_instance, tmp_path):
    """min_cover 4 x baseline 70 = 280 > the fractile optimum 200: R = 280.
    Cost 280 + 5*(0.1*20) = 290."""
    inst, result = solve_and_check(write_instance,
                                   fractile_doc(baseline_demand=70, min_cover_periods=4), tmp_path)
    assert reserve_of(result) == pytest.approx(280)
    assert result.objective == pytest.approx(290)
    row = result.tables["binding"].set_index("id").loc["mask"]
    assert row["constraint"] == "min_cover" and bool(row["binding"])
    assert float(result.tables["reserve"]["cover_periods"].iloc[0]) == pytest.approx(4)


def test_reservation_beats_stock(write_instance, tmp_path):
    """Four periods of 100 units in one crisis (p = 0.1, penalty 50: 5 EUR expected per unit
    short, more than holding 2). Stock alone: R = 400, 800 EUR/year. A reservation of
    100/period at fee 3 delivers from period 1 on, 300 units for 300 EUR (1 EUR per unit);
    period 0 still needs R = 100 (200 EUR). Optimum: c = 100, R = 100, objective 500."""
    doc = {
        "kind": "ironstock", "periods": 4,
        "products": [{"id": "gown", "unit_cost": 1, "holding_cost": 2, "shortage_penalty": 50}],
        "scenarios": [{"id": "wave", "probability": 0.1}],
        "scenario_demand": [{"scenario": "wave", "product": "gown", "period": t, "demand": 100}
                            for t in range(4)],
        "reservations": [{"id": "line", "product": "gown", "max_capacity": 100, "fee": 3,
                          "ramp_up_periods": 1}],
    }
    inst, result = solve_and_check(write_instance, doc, tmp_path)
    assert reserve_of(result, "gown") == pytest.approx(100)
    assert float(result.tables["reservations"]["capacity"].iloc[0]) == pytest.approx(100)
    assert result.objective_terms == pytest.approx({"holding": 200, "reservation": 300, "writeoff": 0,
                                                    "shortage": 0})
    play = result.tables["playout"]
    assert list(play["resupply_capacity"]) == pytest.approx([0, 100, 100, 100])
    assert float(play["resupply"].iloc[0]) == pytest.approx(0)
    binding = result.tables["binding"].set_index("constraint")
    assert bool(binding.loc["max_capacity", "binding"])


@pytest.mark.parametrize("extra, reserve, terms", [
    # L = 52 weekly periods, r = 2/period: r*L = 104 units renew; above that each unit is
    # written off at unit_cost 10 x 52 / 52 = 10 EUR/year. Between 100 and 200 a unit saves 2
    # but costs 1 + 10 above 104: R = 104, shortage 5*(0.3*96 + 0.1*196) = 242.
    ({}, 104, {"holding": 104, "writeoff": 0, "shortage": 242}),
    # existing stock 150 must be kept: 46 units above 104 are written off (460 EUR);
    # shortage 5*(0.3*50 + 0.1*150) = 150
    ({"existing_stock": 150}, 150, {"holding": 150, "writeoff": 460, "shortage": 150}),
    # r = 0 writes off the whole reserve: 1 + 10 > 3 saved even below 100 -> R = 0
    ({"rotation_capacity": 0}, 0, {"holding": 0, "writeoff": 0, "shortage": 550}),
])
def test_writeoff_makes_extra_stock_unattractive(write_instance, tmp_path, extra, reserve, terms):
    product = {"unit_cost": 10, "shelf_life": 52, "rotation_capacity": 2, **extra}
    doc = fractile_doc(**product)
    doc["products"][0]["unit_cost"] = 10
    inst, result = solve_and_check(write_instance, doc, tmp_path)
    assert reserve_of(result) == pytest.approx(reserve, abs=1e-6)
    for name, value in terms.items():
        assert result.objective_terms[name] == pytest.approx(value, abs=1e-6)


def test_supply_fractions_period_rows_override(write_instance, tmp_path):
    """Source of 50/period; the crisis row gives 0.5 in general and 0 in period 1:
    capacity 25, 0, 25 against demand 60 each period. Serving everything needs stock
    after each period >= 0: R >= max(35, 95, 130) = 130 (penalty 100 x p 0.5 >> holding 1)."""
    doc = {
        "kind": "ironstock", "periods": 3,
        "products": [{"id": "glove", "unit_cost": 1, "holding_cost": 1, "shortage_penalty": 100},
                     {"id": "spare", "unit_cost": 1, "holding_cost": 1, "shortage_penalty": 100}],
        "scenarios": [{"id": "cut", "probability": 0.5}, {"id": "calm", "probability": 0.1}],
        "scenario_demand": [{"scenario": "cut", "product": "glove", "period": t, "demand": 60} for t in range(3)],
        "sources": [{"id": "asia", "product": "glove", "capacity": 50}],
        "scenario_supply": [{"scenario": "cut", "source": "asia", "available_fraction": 0.5},
                            {"scenario": "cut", "source": "asia", "period": 1, "available_fraction": 0}],
    }
    inst, result = solve_and_check(write_instance, doc, tmp_path)
    d = IronstockData(inst)
    assert d.source_capacity("cut", "glove") == pytest.approx([25, 0, 25])
    assert d.source_capacity("calm", "glove") == pytest.approx([50, 50, 50])  # no row: fraction 1
    assert reserve_of(result, "glove") == pytest.approx(130)
    assert reserve_of(result, "spare") == pytest.approx(0)
    assert result.objective == pytest.approx(130)
    # sparse: play-out only for the pair with demand; no resupply variable for 'spare'
    from stockpile.models.ironstock.formulation import build

    m = build(inst)
    assert {(w, p) for (w, p, t) in m.short} == {("cut", "glove")}
    assert all(p == "glove" for (w, p, t) in m.resupply)
    assert set(result.tables["shortage"]["product"]) == {"glove"}


def test_periods_per_year(write_instance):
    doc = fractile_doc()
    assert periods_per_year(sp.load(write_instance(doc, "a.yaml"))) == 52
    doc["period_days"] = 7
    assert periods_per_year(sp.load(write_instance(doc, "b.yaml"))) == 52
    doc["period_days"] = 14
    assert periods_per_year(sp.load(write_instance(doc, "c.yaml"))) == pytest.approx(365 / 14)
    doc["settings"] = {"periods_per_year": 12}
    assert periods_per_year(sp.load(write_instance(doc, "d.yaml"))) == 12


def test_greedy_shortage_serves_as_early_as_possible():
    # stock 10, capacity 5/period, demand 20, 0, 20: period 0 uses 15 (short 5), period 1
    # stores 5, period 2 has 10 (short 10)
    assert greedy_shortage([20, 0, 20], [5, 5, 5], 10) == [5, 0, 10]


# -- infeasibility ------------------------------------------------------------------------


def test_floors_above_budget_are_explained(write_instance, tmp_path):
    """min_cover 10 x baseline 100 = 1000 units at 2 EUR = 2,000 EUR > budget 500."""
    doc = fractile_doc(baseline_demand=100, min_cover_periods=10)
    doc["settings"] = {"budget": 500}
    inst, result = solve_doc(write_instance, doc)
    assert result.status.value == "infeasible"
    assert "mask" in result.reason and "2,000" in result.reason and "500" in result.reason
    assert "min_cover_periods 10" in result.reason


def test_floors_above_storage_are_explained(write_instance):
    """Existing stock 500 x 0.01 m³ = 5 m³ > storage 2 m³."""
    doc = fractile_doc(existing_stock=500)
    doc["settings"] = {"storage_capacity": 2}
    inst, result = solve_doc(write_instance, doc)
    assert result.status.value == "infeasible"
    assert "mask" in result.reason and "5 m³" in result.reason and "storage_capacity is 2 m³" in result.reason


# -- malformed input ----------------------------------------------------------------------


def _problems(write_instance, doc) -> str:
    with pytest.raises(InputError) as exc:
        sp.load(write_instance(doc))
    return "\n".join(str(p) for p in exc.value.problems)


@pytest.mark.parametrize("edit, expected", [
    (lambda d: d["products"][0].pop("shortage_penalty"), "field 'shortage_penalty': required field is missing"),
    (lambda d: d["products"][0].update(holding=1), "unknown field 'holding'"),
    (lambda d: d["products"][0].update(holding_cost=-1), "field 'holding_cost': expected a number ≥ 0"),
    (lambda d: d["products"][0].update(lot_size=0), "field 'lot_size': expected a number > 0"),
    (lambda d: d["scenarios"][0].update(probability=0.7), "probabilities sum to 1.1, more than 1"),
    (lambda d: d["scenario_demand"][0].update(product="maks"), "'maks' is not an id in table 'products'"),
    (lambda d: d["scenario_demand"][0].update(period=3), "expected a period within 0..0, got 3"),
    (lambda d: d["scenario_demand"].append(dict(d["scenario_demand"][0])),
     "duplicate scenario=mild, product=mask, period=0"),
    (lambda d: d.update(settings={"budgett": 5}), "unknown field 'settings.budgett' (did you mean 'budget'?)"),
    (lambda d: d.pop("periods"), "'periods' is required for kind ironstock"),
    (lambda d: d.update(sources=[{"id": "s", "product": "mask", "capacity": 1}],
                        scenario_supply=[{"scenario": "bad", "source": "s", "available_fraction": 1.5}]),
     "field 'available_fraction': expected a number ≤ 1"),
    (lambda d: d.update(reservations=[{"id": "r", "product": "gown", "max_capacity": 1, "fee": 1}]),
     "'gown' is not an id in table 'products'"),
    # the former name of shelf_life (MODELS.md "One meaning per name") names the new one
    (lambda d: d["products"][0].update(shelf_life_periods=52, rotation_capacity=1),
     "field 'shelf_life_periods' is now called 'shelf_life'"),
])
def test_malformed_input_is_a_located_problem(write_instance, edit, expected):
    doc = copy.deepcopy(fractile_doc())
    edit(doc)
    text = _problems(write_instance, doc)
    assert expected in text
    assert "instance.yaml" in text


def test_csv_problem_names_file_and_line(write_instance):
    doc = fractile_doc()
    doc["products"] = {"file": "products.csv"}
    path = write_instance(doc, files={"products.csv": "id,unit_cost,holding_cost,shortage_penalty\n"
                                                      "mask,2,1,5\ngown,2,x,5\n"})
    with pytest.raises(InputError) as exc:
        sp.load(path)
    text = "\n".join(str(p) for p in exc.value.problems)
    assert "products.csv" in text and "row 2 (line 3)" in text and "holding_cost" in text


def test_former_column_name_in_csv_names_the_new_one(write_instance):
    doc = fractile_doc()
    doc["products"] = {"file": "products.csv"}
    path = write_instance(doc, files={"products.csv": "id,unit_cost,holding_cost,shortage_penalty,shelf_life_periods\n"
                                                      "mask,2,1,5,52\n"})
    with pytest.raises(InputError) as exc:
        sp.load(path)
    text = "\n".join(str(p) for p in exc.value.problems)
    assert "products.csv" in text and "'shelf_life_periods'" in text and "now called 'shelf_life'" in text


# -- checker ------------------------------------------------------------------------------


def _tamper(out, table, column, row, value):
    path = out / f"{table}.csv"
    import pandas as pd

    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[row, column] = str(value)
    frame.to_csv(path, index=False)


def test_checker_catches_broken_balances_and_terms(write_instance, tmp_path):
    doc = fractile_doc()
    doc["settings"] = {"budget": 300}
    inst, result = solve_doc(write_instance, doc)
    base = tmp_path / "base"
    result.write(base)
    assert sp.check(inst, base) == []
    cases = [
        ("playout", "stock", 0, 999, "stock"),
        ("playout", "shortage", 2, 0, "use"),
        ("reserve", "reserve", 0, 200, "budget"),
        ("reserve", "reserve", 0, -5, "below existing_stock"),
    ]
    for table, column, row, value, fragment in cases:
        out = tmp_path / f"{table}-{column}-{row}"
        result.write(out)
        _tamper(out, table, column, row, value)
        violations = sp.check(inst, out)
        assert any(fragment in v for v in violations), (table, column, violations)


def test_checker_without_playout_uses_the_least_reachable_shortage(write_instance, tmp_path):
    doc = fractile_doc()
    doc["settings"] = {"playout": False}
    inst, result = solve_doc(write_instance, doc)
    assert "playout" not in result.tables
    out = tmp_path / "out"
    result.write(out)
    assert sp.check(inst, out) == []
    # claim no shortage in the worst crisis although R = 200 < 300 and there is no resupply
    _tamper(out, "shortage", "shortage", 2, 0)
    assert any("below 100" in v for v in sp.check(inst, out))


# -- properties on random instances ----------------------------------------------------------


@st.composite
def random_instances(draw):
    T = draw(st.integers(1, 4))
    n_products = draw(st.integers(1, 3))
    n_scen = draw(st.integers(1, 3))
    products = []
    for i in range(n_products):
        p = {"id": f"p{i}", "unit_cost": draw(st.integers(0, 5)), "holding_cost": draw(st.integers(0, 3)),
             "shortage_penalty": draw(st.integers(1, 60)), "unit_volume": draw(st.sampled_from([0, 0.5, 1])),
             "existing_stock": draw(st.integers(0, 20)), "baseline_demand": draw(st.integers(0, 10)),
             "min_cover_periods": draw(st.integers(0, 3))}
        if draw(st.booleans()):
            p["lot_size"] = draw(st.integers(5, 30))
        if draw(st.booleans()):
            p["shelf_life"] = draw(st.integers(1, 10))
            p["rotation_capacity"] = draw(st.integers(0, 10))
        products.append(p)
    probs = draw(st.lists(st.integers(1, 30), min_size=n_scen, max_size=n_scen))
    scenarios = [{"id": f"s{j}", "probability": q / 100} for j, q in enumerate(probs)]
    demand = []
    for s in scenarios:
        for p in products:
            if draw(st.booleans()):
                for t in range(T):
                    demand.append({"scenario": s["id"], "product": p["id"], "period": t,
                                   "demand": draw(st.integers(0, 60))})
    sources, supply, reservations = [], [], []
    for p in products:
        if draw(st.booleans()):
            sources.append({"id": f"src_{p['id']}", "product": p["id"], "capacity": draw(st.integers(0, 20))})
            for s in scenarios:
                if draw(st.booleans()):
                    supply.append({"scenario": s["id"], "source": f"src_{p['id']}",
                                   "available_fraction": draw(st.sampled_from([0, 0.25, 0.5, 1]))})
                if draw(st.booleans()):
                    supply.append({"scenario": s["id"], "source": f"src_{p['id']}", "period": draw(st.integers(0, T - 1)),
                                   "available_fraction": draw(st.sampled_from([0, 0.5, 1]))})
        if draw(st.booleans()):
            reservations.append({"id": f"res_{p['id']}", "product": p["id"], "max_capacity": draw(st.integers(0, 30)),
                                 "fee": draw(st.integers(0, 20)), "ramp_up_periods": draw(st.integers(0, T))})
    doc = {"kind": "ironstock", "periods": T, "products": products, "scenarios": scenarios,
           "scenario_demand": demand}
    if sources:
        doc["sources"] = sources
    if supply:
        doc["scenario_supply"] = supply
    if reservations:
        doc["reservations"] = reservations
    limits = {}
    if draw(st.booleans()):
        limits["budget"] = draw(st.integers(0, 400))
    if draw(st.booleans()):
        limits["storage_capacity"] = draw(st.integers(0, 200))
    if limits:
        doc["settings"] = limits
    return doc


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=random_instances())
def test_random_instances_pass_the_checker(doc, tmp_path_factory):
    folder = tmp_path_factory.mktemp("rand")
    path = folder / "instance.yaml"
    import yaml

    path.write_text(yaml.safe_dump(doc))
    try:
        inst = sp.load(path)
    except InputError:
        # the only invalid draws are duplicate (scenario, source, period) supply rows
        assert any(r.get("period") is not None for r in doc.get("scenario_supply", []))
        return
    result = sp.solve(inst, mip_gap=0)
    d = IronstockData(inst)
    least = {p: d.least_reserve(p) for p in d.products}
    fits_budget = inst.settings.budget is None or sum(
        d.products[p].unit_cost * (least[p] - d.products[p].existing_stock) for p in d.products) <= inst.settings.budget + 1e-6
    fits_storage = inst.settings.storage_capacity is None or sum(
        d.products[p].unit_volume * least[p] for p in d.products) <= inst.settings.storage_capacity + 1e-6
    if not (fits_budget and fits_storage):
        assert result.status.value == "infeasible" and result.reason
        return
    assert result.status.value == "optimal"
    out = folder / "out"
    result.write(out)
    assert sp.check(inst, out) == []
    R = result.tables["reserve"].set_index("product")["reserve"]
    c = dict(zip(result.tables["reservations"]["reservation"], result.tables["reservations"]["capacity"]))
    for p, prod in d.products.items():
        assert R[p] >= least[p] - 1e-6
        if prod.lot_size:
            n = (R[p] - prod.existing_stock) / prod.lot_size
            assert abs(n - round(n)) < 1e-6
    # at the optimum every play-out reaches the least shortage its reserve allows
    short = result.tables["shortage"].set_index(["scenario", "product"])["shortage"]
    for (w, p), dem in d.demand.items():
        least_short = sum(greedy_shortage(dem, d.resupply_capacity(w, p, c), R[p]))
        assert short[(w, p)] == pytest.approx(least_short, abs=1e-5 * max(1, sum(dem)))
    # balances hold row by row
    play = result.tables["playout"]
    for (w, p), g in play.groupby(["scenario", "product"]):
        before = R[p]
        for row in g.sort_values("period").itertuples():
            assert row.stock == pytest.approx(before + row.resupply - row.use, abs=1e-5)
            assert row.use + row.shortage == pytest.approx(row.demand, abs=1e-6)
            before = row.stock


# -- the shipped example and the CLI --------------------------------------------------------


def test_cli_solve_check_and_infeasible(write_instance, tmp_path):
    runner = CliRunner()
    doc = fractile_doc()
    doc["settings"] = {"budget": 300}
    path = write_instance(doc)
    out = tmp_path / "out"
    result = runner.invoke(main, ["solve", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["objective"] == pytest.approx(300)
    assert set(summary["objective_terms"]) == {"holding", "reservation", "writeoff", "shortage"}
    assert {"reserve.csv", "reservations.csv", "shortage.csv", "playout.csv", "binding.csv"} <= set(summary["tables"])
    result = runner.invoke(main, ["check", str(path), str(out)])
    assert result.exit_code == 0 and "ok" in result.output

    _tamper(out, "reserve", "reserve", 0, 250)
    result = runner.invoke(main, ["check", str(path), str(out)])
    assert result.exit_code == 1 and "violation" in result.output

    bad = fractile_doc(baseline_demand=100, min_cover_periods=10)
    bad["settings"] = {"budget": 500}
    result = runner.invoke(main, ["solve", str(write_instance(bad, "bad.yaml")), "--out", str(tmp_path / "bad")])
    assert result.exit_code == 1 and "budget" in result.output

    doc["products"][0]["holding_cost"] = "cheap"
    result = runner.invoke(main, ["solve", str(write_instance(doc, "invalid.yaml")), "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "holding_cost" in result.output


def test_shipped_example_solves_and_checks(tmp_path):
    from stockpile.examples import find

    example = find("ironstock-nl")
    inst = sp.load(example.file)
    result = sp.solve(inst, mip_gap=example.expected["mip_gap"])
    assert result.objective == pytest.approx(example.expected["objective"], rel=2e-4)
    assert result.kpis["budget_marginal_value"] > 0  # the budget binds
    result.write(tmp_path)
    summary, tables = read_results(tmp_path)
    assert sp.check(inst, tmp_path) == []
    assert len(tables["playout"]) == len(IronstockData(inst).pairs) * inst.periods


def test_document_round_trip_validates_the_same():
    """loader.read + validate (the sweep's path) gives the same instance as loader.load."""
    from stockpile.examples import find

    path = find("ironstock-nl").file
    doc = loader.read(path)
    a = loader.validate(doc.copy())
    b = loader.load(path)
    assert a.tables == b.tables and a.settings == b.settings


# -- checker tampering (every table required, every KPI and column recomputed) ---------------


def _tampered_summary(out, edit):
    path = out / "summary.json"
    summary = json.loads(path.read_text())
    edit(summary)
    path.write_text(json.dumps(summary))


def _budget_binding_result(write_instance):
    """Budget 300 binds with marginal value 0.5 (test_binding_budget_and_its_marginal_value)."""
    doc = fractile_doc(baseline_demand=10)
    doc["settings"] = {"budget": 300, "storage_capacity": 10}
    doc["sources"] = [{"id": "s", "product": "mask", "capacity": 0}]
    doc["reservations"] = [{"id": "k", "product": "mask", "max_capacity": 5, "fee": 100}]
    return solve_doc(write_instance, doc)


KPIS = ["budget_marginal_value", "expected_shortage_units", "reserve_value", "budget_used", "budget",
        "storage_used", "storage_capacity", "periods_per_year"]


@pytest.mark.parametrize("kpi", KPIS)
def test_checker_catches_a_doubled_kpi(write_instance, tmp_path, kpi):
    inst, result = _budget_binding_result(write_instance)
    assert result.kpis["budget_marginal_value"] == pytest.approx(0.5)
    out = tmp_path / "out"
    result.write(out)
    assert sp.check(inst, out) == []
    _tampered_summary(out, lambda s: s["kpis"].__setitem__(kpi, 2 * s["kpis"][kpi]))
    assert any(kpi in v for v in sp.check(inst, out)), kpi


def test_checker_catches_a_wrong_binding_list_and_flag(write_instance, tmp_path):
    inst, result = _budget_binding_result(write_instance)
    out = tmp_path / "list"
    result.write(out)
    _tampered_summary(out, lambda s: s["kpis"].__setitem__("binding", []))
    assert any("kpi binding" in v for v in sp.check(inst, out))
    out = tmp_path / "flag"
    result.write(out)
    _tamper(out, "binding", "binding", 1, "True")  # storage has slack
    assert any("binding is True" in v for v in sp.check(inst, out))


@pytest.mark.parametrize("table", ["reserve", "reservations", "shortage", "binding", "explain", "playout"])
def test_checker_reports_a_missing_table(write_instance, tmp_path, table):
    inst, result = _budget_binding_result(write_instance)
    out = tmp_path / "out"
    result.write(out)
    (out / f"{table}.csv").unlink()
    assert f"missing result table {table}.csv" in sp.check(inst, out)


@pytest.mark.parametrize("table, column, row, value", [
    ("reserve", "holding_cost", 0, 1e6), ("reserve", "bought", 0, 1), ("reserve", "cover_periods", 0, 99),
    ("reserve", "volume", 0, 99), ("reserve", "purchase_cost", 0, 1), ("reserve", "writeoff_cost", 0, 5),
    ("reservations", "fee", 0, 12345), ("reservations", "max_capacity", 0, 6),
    ("shortage", "fill_rate", 0, 0.5), ("shortage", "expected_cost", 1, 0), ("shortage", "probability", 0, 0.9),
    ("shortage", "cost", 2, 0), ("playout", "demand", 0, 1), ("playout", "resupply_capacity", 0, 7),
    ("binding", "limit", 0, 1), ("binding", "marginal_value", 0, 1.0),
])
def test_checker_recomputes_every_column(write_instance, tmp_path, table, column, row, value):
    inst, result = _budget_binding_result(write_instance)
    out = tmp_path / "out"
    result.write(out)
    _tamper(out, table, column, row, value)
    assert any(column in v for v in sp.check(inst, out)), (table, column)


# -- explain ----------------------------------------------------------------------------------


def _explain_row(result, product="mask") -> dict:
    frame = result.tables["explain"]
    return frame.loc[frame["product"] == product].iloc[0].to_dict()


def test_explain_shortage_balance_is_the_critical_fractile(write_instance, tmp_path):
    """h=1, P=5: R = 200; only 'worst' (p 0.1) is still short, so one more unit saves
    5 × 0.1 = 0.5 and costs 1: net −0.5, the reserve is set by the shortage balance."""
    inst, result = solve_and_check(write_instance, fractile_doc(1, 5), tmp_path)
    row = _explain_row(result)
    assert row["scenarios_short"] == 1 and row["short_in"] == "worst"
    assert row["probability_short"] == pytest.approx(0.1)
    assert row["saving_per_unit"] == pytest.approx(0.5) and row["net_value_per_unit"] == pytest.approx(-0.5)
    assert row["set_by"] == "shortage balance"
    assert result.kpis["explain"]["set_by"] == {"shortage balance": 1}


def test_explain_budget_and_floor(write_instance, tmp_path):
    """Budget 300 at 2 EUR holds R = 150: 'bad' and 'worst' (0.4) short, saving 2, cost 1,
    net 1 per unit = 0.5 per EUR (the budget's marginal value). A floor of 250 above the
    fractile optimum 200 is the policy floor: saving 5 × 0.1 = 0.5 < cost 1 there."""
    doc = fractile_doc()
    doc["settings"] = {"budget": 300}
    inst, result = solve_and_check(write_instance, doc, tmp_path / "a")
    row = _explain_row(result)
    assert row["set_by"] == "budget" and row["net_value_per_eur"] == pytest.approx(0.5)
    assert row["net_value_per_eur"] == pytest.approx(result.kpis["budget_marginal_value"])
    inst, result = solve_and_check(write_instance, fractile_doc(baseline_demand=50, min_cover_periods=5),
                                   tmp_path / "b")
    row = _explain_row(result)
    assert row["reserve"] == pytest.approx(250) and row["set_by"] == "policy floor"
    assert row["net_value_per_unit"] == pytest.approx(0.5 - 1)


def test_checker_rejects_a_false_explain_claim(write_instance, tmp_path):
    inst, result = solve_doc(write_instance, fractile_doc(1, 5))
    for column, value, fragment in [("set_by", "budget", "set_by 'budget' does not hold"),
                                    ("set_by", "policy floor", "does not hold"),
                                    ("probability_short", 0.3, "probability_short"),
                                    ("net_value_per_unit", 2, "net_value_per_unit")]:
        out = tmp_path / f"{column}-{value}"
        result.write(out)
        _tamper(out, "explain", column, 0, value)
        assert any(fragment in v for v in sp.check(inst, out)), column


# -- elastic mode -----------------------------------------------------------------------------


def _floors_above_budget():
    """Floor 2 × 100 = 200 units, budget 100 EUR at 2 EUR/unit: at most R = 50."""
    doc = fractile_doc(baseline_demand=100, min_cover_periods=2)
    doc["settings"] = {"budget": 100}
    return doc


def test_elastic_shortfall_matches_the_hand_computed_deficit(write_instance, tmp_path):
    """Lexicographic: the least shortfall is 200 − 50 = 150 units; then R = 50 costs
    50 + 5 × (0.2×50 + 0.3×150 + 0.1×250) = 50 + 400 = 450 (no shortfall term)."""
    inst = sp.load(write_instance(_floors_above_budget()))
    assert sp.solve(inst, sp.SolveOptions(progress=False)).status.value == "infeasible"
    result = sp.solve(inst, sp.SolveOptions(progress=False, elastic=True))
    assert result.status.value == "optimal"
    assert result.kpis["elastic"] is True and result.kpis["total_shortfall"] == pytest.approx(150)
    assert result.objective == pytest.approx(450) and "shortfall" not in result.objective_terms
    row = result.tables["shortfall"].iloc[0].to_dict()
    assert (row["rule"], row["product"], row["required"], row["achieved"], row["short"]) == \
        ("min_cover", "mask", 200, pytest.approx(50), pytest.approx(150))
    out = tmp_path / "out"
    result.write(out)
    assert sp.check(inst, out) == []
    _tamper(out, "shortfall", "short", 0, 10)  # not the real deficit
    assert any("short 10" in v for v in sp.check(inst, out))
    result.write(out)
    _tamper(out, "reserve", "reserve", 0, 40)  # below what shortfall.csv says was reached
    assert any("not a real deficit" in v for v in sp.check(inst, out))


def test_elastic_priced_shortfall_is_an_objective_term(write_instance, tmp_path):
    """shortfall_penalty products: 10 EUR/unit: term 150 × 10 = 1,500, objective 1,950."""
    doc = _floors_above_budget()
    doc["settings"].update(elastic=True, shortfall_penalty={"products": 10})
    inst, result = solve_and_check(write_instance, doc, tmp_path)
    assert result.objective_terms["shortfall"] == pytest.approx(1500)
    assert result.objective == pytest.approx(1950)


def test_shortfall_penalty_for_a_table_without_soft_rules_is_invalid(write_instance):
    doc = fractile_doc()
    doc["settings"] = {"shortfall_penalty": {"scenarios": 5}}
    assert "has no soft rule in ironstock" in _problems(write_instance, doc)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=random_instances())
def test_elastic_equals_the_hard_model_when_it_is_feasible(doc, tmp_path_factory):
    import yaml

    folder = tmp_path_factory.mktemp("elastic")
    path = folder / "instance.yaml"
    path.write_text(yaml.safe_dump(doc))
    inst = sp.load(path)
    hard = sp.solve(inst, sp.SolveOptions(progress=False, threads=1))
    soft = sp.solve(inst, sp.SolveOptions(progress=False, threads=1, elastic=True))
    if hard.status.has_solution:
        assert soft.kpis["total_shortfall"] == pytest.approx(0, abs=1e-6)
        # the same optimum (within the 1e-4 MIP gap); equally good plans may differ, so the plan
        # KPIs compared are those the objective fixes: no shortfall, the same objective terms
        assert soft.objective == pytest.approx(hard.objective, rel=2e-4, abs=1e-6)
        assert set(soft.objective_terms) == set(hard.objective_terms)
    if soft.status.has_solution:
        soft.write(folder / "out")
        assert sp.check(inst, folder / "out") == []
