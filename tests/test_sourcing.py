"""The sourcing model against its contract (MODELS.md "1. sourcing").

Every solve test is a tiny instance whose optimum is worked out by hand in the test; each
solution is also written and passed through the independent checker. Then: the checker
rejecting tampered solutions, plain-language infeasibility reasons, one test per class of
malformed input, and the CLI on the shipped instances.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import stockpile as sp
from stockpile.cli import main
from stockpile.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ["sourcing-nl-ppe", "sourcing-eu-gloves"]


def instance(products, suppliers, offers, **tables):
    doc = {"kind": "sourcing", "products": products, "suppliers": suppliers, "offers": offers}
    doc.update(tables)
    return doc


@pytest.fixture
def solve(write_instance, tmp_path):
    """solve(doc) -> (result, awards by (supplier, product) -> quantity); checks the written solution."""
    counter = iter(range(1000))

    def run(doc: dict):
        n = next(counter)
        path = write_instance(doc, name=f"instance{n}.yaml")
        inst = sp.load(path)
        result = sp.solve(inst, mip_gap=1e-9)
        assert result.status.value == "optimal", result.reason
        out = tmp_path / f"out{n}"
        result.write(out)
        assert sp.check(inst, out) == []
        assert sum(result.objective_terms.values()) == pytest.approx(result.objective)
        awards = {(r.supplier, r.product): r.quantity for r in result.tables["awards"].itertuples()}
        return result, awards

    return run


def bought(awards):
    """The awards that carry units (a free award with zero quantity is an equally good extra)."""
    return {k for k, q in awards.items() if q > 1e-9}


def price_of(result, supplier, product):
    a = result.tables["awards"]
    return float(a.loc[(a["supplier"] == supplier) & (a["product"] == product), "unit_price"].iloc[0])


# -- all-units tiers --------------------------------------------------------------------


def test_buying_exactly_at_a_tier_threshold_pays_that_tier(solve):
    """Demand 1000 from one supplier: base 2.00, tier from 1000 at 1.50.

    q = 1000 reaches the tier (largest min_quantity <= q), so all 1000 cost 1.50: 1500.
    """
    doc = instance([{"id": "p", "demand": 1000}], [{"id": "A", "region": "EU"}],
                   [{"supplier": "A", "product": "p", "unit_price": 2.0}],
                   discounts=[{"supplier": "A", "product": "p", "min_quantity": 1000, "unit_price": 1.5}])
    result, awards = solve(doc)
    assert awards == {("A", "p"): pytest.approx(1000)}
    assert price_of(result, "A", "p") == 1.5
    assert result.objective == pytest.approx(1500)


def test_a_dearer_tier_reached_at_its_threshold_is_paid(solve):
    """Prices need not fall: base 2.00, tier from 1000 at 2.50, demand exactly 1000.

    The boundary quantity pays the tier it reaches: 1000 × 2.50 = 2500.
    """
    doc = instance([{"id": "p", "demand": 1000}], [{"id": "A", "region": "EU"}],
                   [{"supplier": "A", "product": "p", "unit_price": 2.0}],
                   discounts=[{"supplier": "A", "product": "p", "min_quantity": 1000, "unit_price": 2.5}])
    result, _ = solve(doc)
    assert price_of(result, "A", "p") == 2.5
    assert result.objective == pytest.approx(2500)


def test_demand_is_an_equality_so_a_cheaper_tier_above_it_is_out_of_reach(solve):
    """Demand 900; base 2.00, tier from 1000 at 1.50.

    1000 × 1.50 = 1500 would be cheaper than 900 × 2.00 = 1800, but Σx + u = demand
    forbids buying 1000: the plan buys 900 at the base price, 1800.
    """
    doc = instance([{"id": "p", "demand": 900}], [{"id": "A", "region": "EU"}],
                   [{"supplier": "A", "product": "p", "unit_price": 2.0}],
                   discounts=[{"supplier": "A", "product": "p", "min_quantity": 1000, "unit_price": 1.5}])
    result, awards = solve(doc)
    assert awards == {("A", "p"): pytest.approx(900)}
    assert price_of(result, "A", "p") == 2.0
    assert result.objective == pytest.approx(1800)


def test_a_discount_from_zero_replaces_the_base_price(solve):
    """Base 5.00 but a discount row from 0 at 4.00: the 100 units cost 400 (not 500)."""
    doc = instance([{"id": "p", "demand": 100}], [{"id": "A", "region": "EU"}],
                   [{"supplier": "A", "product": "p", "unit_price": 5.0}],
                   discounts=[{"supplier": "A", "product": "p", "min_quantity": 0, "unit_price": 4.0}])
    result, _ = solve(doc)
    assert result.objective_terms["purchase"] == pytest.approx(400)
    assert price_of(result, "A", "p") == 4.0


def test_the_optimiser_sees_the_discount_from_zero(solve):
    """Regression: an offer whose only discount row starts at 0 was optimised at its base
    price. A: base 5.00, discount from 0 at 1.50; B: 2.00; demand 100.
    A is really the cheaper: 100 · 1.50 = 150 (B would cost 200)."""
    doc = instance([{"id": "p", "demand": 100}], [{"id": "A", "region": "EU"}, {"id": "B", "region": "EU"}],
                   [{"supplier": "A", "product": "p", "unit_price": 5.0},
                    {"supplier": "B", "product": "p", "unit_price": 2.0, "award_cost": 1}],
                   discounts=[{"supplier": "A", "product": "p", "min_quantity": 0, "unit_price": 1.5}])
    result, awards = solve(doc)
    assert awards == {("A", "p"): pytest.approx(100)}
    assert result.objective == pytest.approx(150)


def test_a_rising_tier_is_approached_from_below_within_the_gap(solve):
    """A: 1.00 below 500, 3.00 for all units from 500; B: 2.00; demand 800.

    Buying 500+ from A costs 3.00 a unit, so A stays below 500: q_A·1 + (800 − q_A)·2 =
    1600 − q_A falls towards 1100 as q_A → 500 but 500 itself costs 1500 + 600 = 2100.
    No cheapest plan exists; the plan stops just below 500, at the engine's resolution of
    1e-6 relative: q_A = 500 − 0.0005, objective 1100.0005 (bound 1100).
    (A all 800 = 2400; B all = 1600.)
    """
    doc = instance([{"id": "p", "demand": 800}], [{"id": "A", "region": "EU"}, {"id": "B", "region": "EU"}],
                   [{"supplier": "A", "product": "p", "unit_price": 1.0},
                    {"supplier": "B", "product": "p", "unit_price": 2.0}],
                   discounts=[{"supplier": "A", "product": "p", "min_quantity": 500, "unit_price": 3.0}])
    result, awards = solve(doc)
    assert awards[("A", "p")] == pytest.approx(500 - 5e-4, abs=1e-9)
    assert price_of(result, "A", "p") == 1.0
    assert result.objective == pytest.approx(1100 + 5e-4, abs=1e-8)
    assert result.solver["bound"] == pytest.approx(1100, rel=1e-9)


def test_demand_just_below_a_dearer_tier_is_bought_at_the_base_price(solve):
    """Regression: demand 999.995, one supplier, base 2.00, a dearer tier from 1000 at 2.50.

    999.995 < 1000, so the whole quantity pays the base price: 999.995 × 2 = 1999.99.
    (A model that stops a fixed 0.01 short of a dearer tier found no plan at all.)
    """
    doc = instance([{"id": "p", "demand": 999.995}], [{"id": "A", "region": "EU"}],
                   [{"supplier": "A", "product": "p", "unit_price": 2.0}],
                   discounts=[{"supplier": "A", "product": "p", "min_quantity": 1000, "unit_price": 2.5}])
    result, awards = solve(doc)
    assert awards == {("A", "p"): pytest.approx(999.995, abs=1e-9)}
    assert price_of(result, "A", "p") == 2.0
    assert result.objective == pytest.approx(1999.99)


def test_a_tier_choice_that_needs_the_threshold_itself_is_cut_off(solve):
    """Demand 1000 from A alone (base 1.00, dearer tier from 1000 at 3.00) or B at 2.60 with
    min_order 1000. The closed segment of A's base tier would buy 1000 at 1.00 = 1000, but
    1000 units pay 3.00 under the contract; no quantity below 1000 meets demand with that
    award. The real choices: A at its tier 3000, or B: 2600; the MIP is re-solved without
    the spurious choice and B wins.
    """
    doc = instance([{"id": "p", "demand": 1000, "max_suppliers": 1}],
                   [{"id": "A", "region": "EU"}, {"id": "B", "region": "EU"}],
                   [{"supplier": "A", "product": "p", "unit_price": 1.0},
                    {"supplier": "B", "product": "p", "unit_price": 2.6, "min_order": 1000}],
                   discounts=[{"supplier": "A", "product": "p", "min_quantity": 1000, "unit_price": 3.0}])
    result, awards = solve(doc)
    assert bought(awards) == {("B", "p")}
    assert result.objective == pytest.approx(2600)


def test_a_falling_tier_boundary_is_exact(solve):
    """A: 2.00 below 600, 1.50 from 600, capacity 600; B: 1.80; demand 1000.

    A at its capacity 600 reaches the tier: 600·1.5 + 400·1.8 = 900 + 720 = 1620.
    (A below 600 pays 2.00 > 1.80, so A would not be used at all: 1800.)
    """
    doc = instance([{"id": "p", "demand": 1000}], [{"id": "A", "region": "EU"}, {"id": "B", "region": "EU"}],
                   [{"supplier": "A", "product": "p", "unit_price": 2.0, "capacity": 600},
                    {"supplier": "B", "product": "p", "unit_price": 1.8}],
                   discounts=[{"supplier": "A", "product": "p", "min_quantity": 600, "unit_price": 1.5}])
    result, awards = solve(doc)
    assert awards[("A", "p")] == pytest.approx(600)
    assert result.objective == pytest.approx(1620)


# -- number of suppliers and award sizes ------------------------------------------------


def test_dual_sourcing_with_a_minimum_award_share(solve):
    """min_suppliers 2, min_award_share 0.3, demand 1000.

    A: 2.00, from 600 units 1.50; B: 1.80. B must get ≥ 300, so A ≤ 700.
    A = 700 at 1.50 + B 300 at 1.80 = 1050 + 540 = 1590 (A = 600: 900 + 720 = 1620;
    A below its tier: 300·2 + 700·1.8 = 1860).
    """
    doc = instance([{"id": "p", "demand": 1000, "min_suppliers": 2, "min_award_share": 0.3}],
                   [{"id": "A", "region": "EU"}, {"id": "B", "region": "EU"}],
                   [{"supplier": "A", "product": "p", "unit_price": 2.0},
                    {"supplier": "B", "product": "p", "unit_price": 1.8}],
                   discounts=[{"supplier": "A", "product": "p", "min_quantity": 600, "unit_price": 1.5}])
    result, awards = solve(doc)
    assert awards == {("A", "p"): pytest.approx(700), ("B", "p"): pytest.approx(300)}
    assert result.objective == pytest.approx(1590)


def test_a_zero_quantity_award_counts_toward_min_suppliers(solve):
    """min_suppliers 2, A 1.00, B 2.00, no minimum award: A takes all 100 (100 EUR) and
    B holds an award with zero quantity; with award_cost 5 each the objective is 110."""
    doc = instance([{"id": "p", "demand": 100, "min_suppliers": 2}],
                   [{"id": "A", "region": "EU"}, {"id": "B", "region": "EU"}],
                   [{"supplier": "A", "product": "p", "unit_price": 1.0, "award_cost": 5},
                    {"supplier": "B", "product": "p", "unit_price": 2.0, "award_cost": 5}])
    result, awards = solve(doc)
    assert awards == {("A", "p"): pytest.approx(100), ("B", "p"): 0.0}
    assert result.objective_terms == pytest.approx(
        {"purchase": 100, "award": 10, "fixed": 0, "unmet": 0, "disruption": 0})


def test_max_supplier_share_and_min_order(solve):
    """max_supplier_share 0.7: A (1.00) gets 70 of 100, B (2.00) 30: 70 + 60 = 130.
    With B's min_order 40, B must carry 40 and A 60: 60 + 80 = 140."""
    offers = [{"supplier": "A", "product": "p", "unit_price": 1.0},
              {"supplier": "B", "product": "p", "unit_price": 2.0}]
    doc = instance([{"id": "p", "demand": 100, "max_supplier_share": 0.7}],
                   [{"id": "A", "region": "EU"}, {"id": "B", "region": "EU"}], offers)
    result, awards = solve(doc)
    assert awards == {("A", "p"): pytest.approx(70), ("B", "p"): pytest.approx(30)}
    assert result.objective == pytest.approx(130)
    doc["offers"][1]["min_order"] = 40
    result, awards = solve(doc)
    assert awards == {("A", "p"): pytest.approx(60), ("B", "p"): pytest.approx(40)}
    assert result.objective == pytest.approx(140)


def test_max_suppliers_limits_the_split(solve):
    """Three suppliers of 40 units each (1, 2, 3 EUR), demand 80, max_suppliers 2:
    A 40 + B 40 = 40 + 80 = 120; C gets no award."""
    sup = [{"id": s, "region": "EU"} for s in "ABC"]
    offers = [{"supplier": s, "product": "p", "unit_price": c, "capacity": 40} for s, c in zip("ABC", (1, 2, 3))]
    result, awards = solve(instance([{"id": "p", "demand": 80, "max_suppliers": 2}], sup, offers))
    assert set(awards) == {("A", "p"), ("B", "p")}
    assert result.objective == pytest.approx(120)


# -- regions --------------------------------------------------------------------------


def test_region_cap_for_every_product_and_a_product_row_both_apply(solve):
    """Asia A 1.00, EU B 2.00; demand 100 of each of p and q.

    Row (*, Asia, max 0.4) caps both; row (q, Asia, max 0.25) also applies to q.
    p: 40·1 + 60·2 = 160; q: 25·1 + 75·2 = 175; total 335.
    """
    doc = instance([{"id": "p", "demand": 100}, {"id": "q", "demand": 100}],
                   [{"id": "A", "region": "Asia"}, {"id": "B", "region": "EU"}],
                   [{"supplier": s, "product": p, "unit_price": c}
                    for p in "pq" for s, c in (("A", 1.0), ("B", 2.0))],
                   region_limits=[{"product": "*", "region": "Asia", "max_share": 0.4},
                                  {"product": "q", "region": "Asia", "max_share": 0.25}])
    result, awards = solve(doc)
    assert awards[("A", "p")] == pytest.approx(40)
    assert awards[("A", "q")] == pytest.approx(25)
    assert result.objective == pytest.approx(335)


def test_region_minimum_share(solve):
    """NL (3.00) must get at least 30 % of 100: 30·3 + 70·1 = 160."""
    doc = instance([{"id": "p", "demand": 100}], [{"id": "A", "region": "Asia"}, {"id": "N", "region": "NL"}],
                   [{"supplier": "A", "product": "p", "unit_price": 1.0},
                    {"supplier": "N", "product": "p", "unit_price": 3.0}],
                   region_limits=[{"product": "p", "region": "NL", "min_share": 0.3}])
    result, awards = solve(doc)
    assert awards[("N", "p")] == pytest.approx(30)
    assert result.objective == pytest.approx(160)


# -- capacity, fixed cost, shortage ----------------------------------------------------


def test_supplier_capacity_is_shared_across_products(solve):
    """A (capacity 100 over all products) sells p and q at 1.00; B sells p at 3.00 and q at
    2.00; demands p 80, q 60. A's units save 2 on p and 1 on q, so A: p 80, q 20; B: q 40.
    Cost 80 + 20 + 40·2 = 180."""
    doc = instance([{"id": "p", "demand": 80}, {"id": "q", "demand": 60}],
                   [{"id": "A", "region": "EU", "capacity": 100}, {"id": "B", "region": "EU"}],
                   [{"supplier": "A", "product": "p", "unit_price": 1.0},
                    {"supplier": "A", "product": "q", "unit_price": 1.0},
                    {"supplier": "B", "product": "p", "unit_price": 3.0},
                    {"supplier": "B", "product": "q", "unit_price": 2.0}])
    result, awards = solve(doc)
    assert awards[("A", "p")] == pytest.approx(80)
    assert awards[("A", "q")] == pytest.approx(20)
    assert awards[("B", "q")] == pytest.approx(40)
    assert result.objective == pytest.approx(180)


@pytest.mark.parametrize("demand, winner, objective", [
    (100, "B", 150),  # A: 100 + 100 fixed = 200 > B: 1.5·100 = 150
    (300, "A", 400),  # A: 300 + 100 = 400 < B: 450
])
def test_fixed_cost_is_paid_once_per_supplier_used(solve, demand, winner, objective):
    doc = instance([{"id": "p", "demand": demand}],
                   [{"id": "A", "region": "EU", "fixed_cost": 100}, {"id": "B", "region": "EU"}],
                   [{"supplier": "A", "product": "p", "unit_price": 1.0},
                    {"supplier": "B", "product": "p", "unit_price": 1.5}])
    result, awards = solve(doc)
    assert bought(awards) == {(winner, "p")}
    assert result.objective == pytest.approx(objective)
    assert result.objective_terms["fixed"] == pytest.approx(100 if winner == "A" else 0)


def test_fixed_cost_is_shared_by_the_products_of_one_supplier(solve):
    """A sells p and q at 1.00 with fixed cost 100; B at 1.50, no fixed cost; demand 120 each.
    A for both: 240 + 100 = 340 < B for both: 360 (A for one only: 120+100+180 = 400)."""
    doc = instance([{"id": "p", "demand": 120}, {"id": "q", "demand": 120}],
                   [{"id": "A", "region": "EU", "fixed_cost": 100}, {"id": "B", "region": "EU"}],
                   [{"supplier": s, "product": p, "unit_price": c}
                    for p in "pq" for s, c in (("A", 1.0), ("B", 1.5))])
    result, awards = solve(doc)
    assert bought(awards) == {("A", "p"), ("A", "q")}
    assert result.objective == pytest.approx(340)


@pytest.mark.parametrize("penalty, bought, objective", [
    (6.0, 0.0, 600.0),     # a unit short costs 6 < price 10: buy nothing, 100·6
    (12.0, 100.0, 1000.0),  # a unit short costs 12 > 10: buy all, 100·10
])
def test_shortage_penalty_against_expensive_supply(solve, penalty, bought, objective):
    doc = instance([{"id": "p", "demand": 100, "shortage_penalty": penalty, "min_suppliers": 0}],
                   [{"id": "A", "region": "EU"}], [{"supplier": "A", "product": "p", "unit_price": 10.0}])
    result, awards = solve(doc)
    assert sum(awards.values()) == pytest.approx(bought)
    assert result.objective == pytest.approx(objective)
    assert result.kpis["units_unmet"] == pytest.approx(100 - bought)


def test_min_suppliers_holds_even_when_nothing_is_bought(solve):
    """Penalty 6 < price 10, award_cost 5. min_suppliers 1 (the default) still needs an
    award, with zero quantity: 600 + 5 = 605. min_suppliers 0 allows no award: 600."""
    doc = instance([{"id": "p", "demand": 100, "shortage_penalty": 6}], [{"id": "A", "region": "EU"}],
                   [{"supplier": "A", "product": "p", "unit_price": 10.0, "award_cost": 5}])
    result, awards = solve(doc)
    assert awards == {("A", "p"): 0.0}
    assert result.objective == pytest.approx(605)
    doc["products"][0]["min_suppliers"] = 0
    result, awards = solve(doc)
    assert awards == {}
    assert result.objective == pytest.approx(600)


# -- disruption scenarios --------------------------------------------------------------


def _risk_doc(risk_weight):
    return instance([{"id": "p", "demand": 100}],
                    [{"id": "A", "region": "Asia"}, {"id": "B", "region": "EU"}],
                    [{"supplier": "A", "product": "p", "unit_price": 1.0},
                     {"supplier": "B", "product": "p", "unit_price": 1.5}],
                    settings={"risk_weight": risk_weight, "disruption_penalty": 2.0},
                    scenarios=[{"id": "stop", "probability": 0.5}],
                    disruptions=[{"scenario": "stop", "region": "Asia", "delivered_fraction": 0}])


@pytest.mark.parametrize("risk_weight, winner, objective", [
    (0.0, "A", 100.0),   # risk ignored: A at 1.00
    (0.4, "A", 140.0),   # A costs 1 + 0.4·0.5·2 = 1.40 < 1.50: 100 + 0.4·0.5·100·2 = 140
    (1.0, "B", 150.0),   # A costs 1 + 0.5·2 = 2.00 > 1.50: all from B
])
def test_risk_weight_changes_the_split(solve, risk_weight, winner, objective):
    result, awards = solve(_risk_doc(risk_weight))
    assert bought(awards) == {(winner, "p")}
    assert result.objective == pytest.approx(objective)


def test_surge_standby_award_with_zero_quantity(solve):
    """A (Asia) 1.00 for all 100; B (EU) 5.00 with award_cost 10 and surge 100.
    Scenario (p 0.2): Asia delivers nothing; a lost unit costs 30.

    A alone: 100 + 0.2·100·30 = 700. A + B on standby (x_B = 0): B's surge replaces all
    100 lost units at B's base price: 100 + 10 + 0.2·100·5 = 210. Buying from B instead
    costs 4 more a unit and saves only 0.2·5 of surge: standby wins, objective 210.
    """
    doc = instance([{"id": "p", "demand": 100}],
                   [{"id": "A", "region": "Asia"}, {"id": "B", "region": "EU"}],
                   [{"supplier": "A", "product": "p", "unit_price": 1.0},
                    {"supplier": "B", "product": "p", "unit_price": 5.0, "award_cost": 10, "surge_capacity": 100}],
                   settings={"disruption_penalty": 30},
                   scenarios=[{"id": "stop", "probability": 0.2}],
                   disruptions=[{"scenario": "stop", "region": "Asia", "delivered_fraction": 0}])
    result, awards = solve(doc)
    assert awards == {("A", "p"): pytest.approx(100), ("B", "p"): 0.0}
    assert result.objective_terms == pytest.approx(
        {"purchase": 100, "award": 10, "fixed": 0, "unmet": 0, "disruption": 100})
    surge = result.tables["surge"]
    assert list(surge["surge"]) == pytest.approx([100])
    assert result.tables["scenarios"]["lost"].sum() == pytest.approx(0)


def test_rounding_noise_on_an_unawarded_offer_is_no_surge(write_instance):
    """Regression: HiGHS may leave e ≈ 1e-13 on an offer whose award rounds to 0; the
    result tables must not report it (the checker rejects surge without an award)."""
    import pyomo.environ as pyo

    from stockpile.models.sourcing.formulation import build, extract

    doc = instance([{"id": "p", "demand": 100}], [{"id": "A", "region": "Asia"}, {"id": "B", "region": "EU"}],
                   [{"supplier": "A", "product": "p", "unit_price": 1.0},
                    {"supplier": "B", "product": "p", "unit_price": 5.0, "surge_capacity": 100}],
                   settings={"disruption_penalty": 30}, scenarios=[{"id": "stop", "probability": 0.2}],
                   disruptions=[{"scenario": "stop", "region": "Asia", "delivered_fraction": 0}])
    inst = sp.load(write_instance(doc))
    m = build(inst)
    for var in m.component_data_objects(pyo.Var):
        var.set_value(0, skip_validation=True)
    m.y["A", "p"].set_value(1)
    m.x["A", "p"].set_value(100)
    m.e["B", "p", "stop"].set_value(2e-13, skip_validation=True)
    out = extract(inst, m, None)
    assert out.tables["surge"].empty
    assert out.objective_terms["disruption"] == pytest.approx(0.2 * 100 * 30)


@pytest.mark.parametrize("override, winner, objective", [
    (True, "B", 120.0),   # B's own row (fraction 1) overrides Asia's: B at 1.20, no loss
    (False, "A", 200.0),  # both hit: A 1 + 0.1·10 = 2.00 < B 1.2 + 1 = 2.20: 100 + 0.1·100·10
])
def test_a_supplier_row_overrides_its_region_row(solve, override, winner, objective):
    disruptions = [{"scenario": "s", "region": "Asia", "delivered_fraction": 0}]
    if override:
        disruptions.append({"scenario": "s", "supplier": "B", "delivered_fraction": 1})
    doc = instance([{"id": "p", "demand": 100}],
                   [{"id": "A", "region": "Asia"}, {"id": "B", "region": "Asia"}],
                   [{"supplier": "A", "product": "p", "unit_price": 1.0},
                    {"supplier": "B", "product": "p", "unit_price": 1.2}],
                   settings={"disruption_penalty": 10},
                   scenarios=[{"id": "s", "probability": 0.1}], disruptions=disruptions)
    result, awards = solve(doc)
    assert bought(awards) == {(winner, "p")}
    assert result.objective == pytest.approx(objective)


def test_a_partly_hit_supplier_surges_within_its_delivered_fraction(solve):
    """One supplier (1.00, surge 20), delivered fraction 0.5, probability 0.1, penalty 10.

    Undelivered 0.5·100 = 50; surge ≤ 0.5·20 = 10; lost ≥ 50 − 10 = 40.
    Objective 100 + 0.1·(40·10 + 10·1) = 141. The shortage_penalty (10) is the loss value.
    """
    doc = instance([{"id": "p", "demand": 100, "shortage_penalty": 10}], [{"id": "A", "region": "Asia"}],
                   [{"supplier": "A", "product": "p", "unit_price": 1.0, "surge_capacity": 20}],
                   scenarios=[{"id": "s", "probability": 0.1}],
                   disruptions=[{"scenario": "s", "supplier": "A", "delivered_fraction": 0.5}])
    result, _ = solve(doc)
    assert result.objective == pytest.approx(141)
    row = result.tables["scenarios"].iloc[0]
    assert (row["undelivered"], row["surge"], row["lost"]) == pytest.approx((50, 10, 40))


def test_warning_when_scenarios_exist_and_a_product_has_no_loss_value(write_instance):
    doc = instance([{"id": "p", "demand": 100}, {"id": "q", "demand": 10, "shortage_penalty": 3}],
                   [{"id": "A", "region": "Asia"}],
                   [{"supplier": "A", "product": "p", "unit_price": 1.0},
                    {"supplier": "A", "product": "q", "unit_price": 1.0}],
                   scenarios=[{"id": "s", "probability": 0.1}],
                   disruptions=[{"scenario": "s", "region": "Asia", "delivered_fraction": 0}])
    result = CliRunner().invoke(main, ["validate", str(write_instance(doc))])
    assert result.exit_code == 0
    warnings = [line for line in result.output.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "products p have no shortage_penalty" in warnings[0]
    doc["settings"] = {"disruption_penalty": 1}
    result = CliRunner().invoke(main, ["validate", str(write_instance(doc))])
    assert "warning" not in result.output


# -- the checker rejects tampered solutions --------------------------------------------


@pytest.fixture
def solved(write_instance, tmp_path):
    """A solved region-cap instance written to out/: Asia A 40 at 1, EU B 60 at 2 (tier from 60: 1.9)."""
    doc = instance([{"id": "p", "demand": 100}],
                   [{"id": "A", "region": "Asia"}, {"id": "B", "region": "EU", "capacity": 70}],
                   [{"supplier": "A", "product": "p", "unit_price": 1.0},
                    {"supplier": "B", "product": "p", "unit_price": 2.0}],
                   discounts=[{"supplier": "B", "product": "p", "min_quantity": 60, "unit_price": 1.9}],
                   region_limits=[{"product": "*", "region": "Asia", "max_share": 0.4}])
    path = write_instance(doc)
    out = tmp_path / "out"
    assert CliRunner().invoke(main, ["solve", str(path), "--out", str(out)]).exit_code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["objective"] == pytest.approx(40 + 60 * 1.9)
    return path, out


def _violations(path, out):
    result = CliRunner().invoke(main, ["check", str(path), str(out)])
    return result.exit_code, result.output


def test_checker_accepts_the_untouched_solution(solved):
    assert _violations(*solved) == (0, "ok: every rule holds and the objective matches the tables\n")


def test_checker_rejects_a_region_cap_exceeded(solved):
    path, out = solved
    awards = out / "awards.csv"
    text = awards.read_text().replace("A,p,Asia,40.0", "A,p,Asia,50.0").replace("B,p,EU,60.0", "B,p,EU,50.0")
    awards.write_text(text)
    code, output = _violations(path, out)
    assert code == 1
    assert "region Asia gets 50.0000, above max_share 0.4" in output


def test_checker_rejects_a_supplier_capacity_exceeded(solved):
    path, out = solved
    awards = out / "awards.csv"
    awards.write_text(awards.read_text().replace("B,p,EU,60.0", "B,p,EU,75.0"))
    code, output = _violations(path, out)
    assert code == 1
    assert "supplier B: 75.0000 units above its capacity 70.0000" in output
    assert "bought 115.0000 + unmet 0.0000 != demand 100.0000" in output


def test_checker_rejects_a_wrong_tier_price(solved):
    path, out = solved
    awards = out / "awards.csv"
    awards.write_text(awards.read_text().replace(",1.9,60.0,", ",2.0,60.0,"))
    code, output = _violations(path, out)
    assert code == 1
    assert "pays 1.9/unit under the tiers, table says 2" in output


def test_checker_rejects_a_wrong_objective_term(solved):
    path, out = solved
    summary = json.loads((out / "summary.json").read_text())
    summary["objective_terms"]["purchase"] += 5
    summary["objective_terms"]["award"] -= 5  # the terms still add up to the objective
    (out / "summary.json").write_text(json.dumps(summary))
    code, output = _violations(path, out)
    assert code == 1
    assert "objective term purchase" in output and "objective term award" in output


@pytest.fixture
def solved_at_risk(write_instance, tmp_path):
    """risk_weight 0.4: A (Asia, 1.00) carries all 100; in scenario 'stop' (p 0.5) Asia
    delivers nothing, so 100 units are lost: objective 100 + 0.4·0.5·100·2 = 140."""
    path = write_instance(_risk_doc(0.4))
    out = tmp_path / "risk"
    assert CliRunner().invoke(main, ["solve", str(path), "--out", str(out)]).exit_code == 0
    assert json.loads((out / "summary.json").read_text())["objective"] == pytest.approx(140)
    assert _violations(path, out)[0] == 0
    return path, out


def test_checker_rejects_lost_units_set_to_zero(solved_at_risk):
    path, out = solved_at_risk
    table = out / "scenarios.csv"
    text = table.read_text()
    assert "stop,0.5,p,100.0,0.0,100.0," in text
    table.write_text(text.replace("stop,0.5,p,100.0,0.0,100.0,", "stop,0.5,p,100.0,0.0,0.0,"))
    code, output = _violations(path, out)
    assert code == 1
    assert "scenarios.csv row stop, p: lost is '0.0', the plan gives 100.0" in output


def test_checker_rejects_an_awarded_flag_flipped(solved_at_risk):
    path, out = solved_at_risk
    table = out / "suppliers.csv"
    text = table.read_text()
    assert "A,Asia,True," in text
    table.write_text(text.replace("A,Asia,True,", "A,Asia,False,"))
    code, output = _violations(path, out)
    assert code == 1
    assert "suppliers.csv row A: awarded is 'False', the plan gives True" in output


@pytest.mark.parametrize("kpi", ["units_bought", "expected_units_lost", "awards", "average_unit_price"])
def test_checker_rejects_a_doubled_kpi(solved_at_risk, kpi):
    path, out = solved_at_risk
    summary = json.loads((out / "summary.json").read_text())
    summary["kpis"][kpi] *= 2
    (out / "summary.json").write_text(json.dumps(summary))
    code, output = _violations(path, out)
    assert code == 1
    assert f"kpi {kpi} is" in output


@pytest.mark.parametrize("table", ["awards", "products", "suppliers", "regions", "scenarios", "surge"])
def test_checker_rejects_a_missing_result_table(solved_at_risk, table):
    path, out = solved_at_risk
    (out / f"{table}.csv").unlink()
    code, output = _violations(path, out)
    assert code == 1
    assert f"missing result table {table}.csv" in output


def test_checker_rejects_surge_without_an_award(write_instance, tmp_path):
    doc = _risk_doc(1.0)
    doc["offers"][0].update(surge_capacity=50, award_cost=1)  # A is dearer in risk, so gets no award
    path = write_instance(doc)
    out = tmp_path / "out"
    CliRunner().invoke(main, ["solve", str(path), "--out", str(out)])
    (out / "surge.csv").write_text("scenario,supplier,product,surge,unit_price,cost\nstop,A,p,10.0,1.0,10.0\n")
    code, output = _violations(path, out)
    assert code == 1 and "without an award" in output


# -- infeasible instances: exit 1 with a plain-language reason -------------------------


def _solve_cli(path, tmp_path):
    return CliRunner().invoke(main, ["solve", str(path), "--out", str(tmp_path / "infeasible")])


def test_demand_above_total_offered_capacity(write_instance, tmp_path):
    doc = instance([{"id": "ffp2_mask", "demand": 1200000}],
                   [{"id": "A", "region": "EU", "capacity": 500000}, {"id": "B", "region": "Asia"}],
                   [{"supplier": "A", "product": "ffp2_mask", "unit_price": 0.5},
                    {"supplier": "B", "product": "ffp2_mask", "unit_price": 0.3, "capacity": 400000}])
    result = _solve_cli(write_instance(doc), tmp_path)
    assert result.exit_code == 1
    assert "demand of ffp2_mask 1,200,000 exceeds total offered capacity 900,000" in result.output


def test_region_cap_leaves_demand_uncovered(write_instance, tmp_path):
    """Asia may supply 0.4·1,000,000 = 400,000; EU offers 300,000: 700,000 < demand."""
    doc = instance([{"id": "gowns", "demand": 1000000}],
                   [{"id": "A", "region": "Asia"}, {"id": "E", "region": "EU"}],
                   [{"supplier": "A", "product": "gowns", "unit_price": 1.0},
                    {"supplier": "E", "product": "gowns", "unit_price": 2.0, "capacity": 300000}],
                   region_limits=[{"product": "*", "region": "Asia", "max_share": 0.4}])
    result = _solve_cli(write_instance(doc), tmp_path)
    assert result.exit_code == 1
    assert "Asia max_share 0.4 + other capacity cannot cover demand of gowns 1,000,000" in result.output
    summary = json.loads((tmp_path / "infeasible" / "summary.json").read_text())
    assert summary["status"] == "infeasible" and "Asia max_share 0.4" in summary["reason"]


@pytest.mark.parametrize("change, reason", [
    ({"products": [{"id": "p", "demand": 100, "min_suppliers": 3}]},
     "p needs at least 3 suppliers but only 2 can be awarded (2 offer it)"),
    ({"products": [{"id": "p", "demand": 50, "min_suppliers": 2, "min_award_share": 0.6}]},
     "p: 2 suppliers must each get their minimum award (60 units at least), more than the demand of 50"),
    ({"products": [{"id": "p", "demand": 100}, {"id": "q", "demand": 5}]},
     "no supplier offers q, but its demand of 5 must be met in full"),
    ({"region_limits": [{"product": "p", "region": "EU", "min_share": 0.5}]},
     "EU min_share 0.5 of p needs 50 but EU suppliers offer 40"),
    ({"products": [{"id": "p", "demand": 200, "max_supplier_share": 0.25}]},
     "demand of p 200 exceeds total offered capacity 90 (max_supplier_share 0.25 caps each supplier at 50)"),
    ({"products": [{"id": "p", "demand": 100, "max_suppliers": 1}]},
     "p may go to at most 1 supplier, who can carry 60 together"),
])
def test_infeasible_reasons(write_instance, tmp_path, change, reason):
    """Base: demand 100 from Asia A (capacity 60) and EU B (capacity 40)."""
    doc = instance([{"id": "p", "demand": 100}], [{"id": "A", "region": "Asia"}, {"id": "B", "region": "EU"}],
                   [{"supplier": "A", "product": "p", "unit_price": 1.0, "capacity": 60},
                    {"supplier": "B", "product": "p", "unit_price": 2.0, "capacity": 40}])
    doc.update(change)
    result = _solve_cli(write_instance(doc), tmp_path)
    assert result.exit_code == 1, result.output
    assert reason in result.output


# -- malformed input: exit 2, one line naming file, table, row and field ---------------

BASE = instance(
    [{"id": "mask", "demand": 100}, {"id": "gown", "demand": 50}],
    [{"id": "A", "region": "EU"}, {"id": "B", "region": "Asia"}],
    [{"supplier": "A", "product": "mask", "unit_price": 1.0},
     {"supplier": "B", "product": "mask", "unit_price": 0.8},
     {"supplier": "A", "product": "gown", "unit_price": 2.0}],
    discounts=[{"supplier": "A", "product": "mask", "min_quantity": 50, "unit_price": 0.9}],
    region_limits=[{"product": "*", "region": "Asia", "max_share": 0.5}],
    settings={"disruption_penalty": 1},
    scenarios=[{"id": "s1", "probability": 0.3}, {"id": "s2", "probability": 0.2}],
    disruptions=[{"scenario": "s1", "region": "Asia", "delivered_fraction": 0.5}],
)


def _set(doc, table, row, field, value):
    doc[table][row][field] = value
    return doc


MALFORMED = {
    "unknown field": (lambda d: _set(d, "products", 1, "demnad", 5),
                      "table 'products', row 2, field 'demnad': unknown field 'demnad' (did you mean 'demand'?)"),
    "missing field": (lambda d: d["offers"][2].pop("unit_price") and d,
                      "table 'offers', row 3, field 'unit_price': required field is missing"),
    "wrong type": (lambda d: _set(d, "products", 0, "demand", "lots"),
                   "table 'products', row 1, field 'demand': expected a number, got 'lots'"),
    "negative quantity": (lambda d: _set(d, "offers", 1, "capacity", -5),
                          "table 'offers', row 2, field 'capacity': expected a number ≥ 0, got -5"),
    "non-integer count": (lambda d: _set(d, "products", 0, "min_suppliers", 1.5),
                          "table 'products', row 1, field 'min_suppliers': expected a whole number, got 1.5"),
    "dangling reference": (lambda d: _set(d, "offers", 1, "supplier", "C"),
                           "table 'offers', row 2, field 'supplier': 'C' is not an id in table 'suppliers'"),
    "duplicate id": (lambda d: d["suppliers"].append({"id": "A", "region": "NL"}) or d,
                     "table 'suppliers', row 3, field 'id': duplicate id=A (first in row 1)"),
    "duplicate offer": (lambda d: _set(d, "offers", 1, "supplier", "A"),
                        "table 'offers', row 2, field 'product': duplicate supplier=A, product=mask (first in row 1)"),
    "probabilities above 1": (lambda d: _set(d, "scenarios", 1, "probability", 0.8),
                              "table 'scenarios', row 2, field 'probability': probabilities sum to 1.1, more than 1"),
    "discount without offer": (lambda d: _set(d, "discounts", 0, "product", "gown") and _set(d, "discounts", 0,
                                                                                           "supplier", "B"),
                               "table 'discounts', row 1, field 'product': no offer of supplier 'B' for product "
                               "'gown'"),
    "region label unknown": (lambda d: _set(d, "region_limits", 0, "region", "asia"),
                             "table 'region_limits', row 1, field 'region': no supplier is in region 'asia' "
                             "(did you mean 'Asia'?)"),
    "region product unknown": (lambda d: _set(d, "region_limits", 0, "product", "gowns"),
                               "table 'region_limits', row 1, field 'product': 'gowns' is not a product id (or *) "
                               "(did you mean 'gown'?)"),
    "disruption with supplier and region": (
        lambda d: _set(d, "disruptions", 0, "supplier", "B"),
        "table 'disruptions', row 1, field 'region': give exactly one of supplier or region, not both"),
    "disruption with neither": (
        lambda d: d["disruptions"][0].pop("region") and d,
        "table 'disruptions', row 1, field 'region': give exactly one of supplier or region (neither is given)"),
    "max_suppliers below min_suppliers": (
        lambda d: _set(_set(d, "products", 0, "min_suppliers", 2), "products", 0, "max_suppliers", 1),
        "table 'products', row 1, field 'max_suppliers': max_suppliers 1 is below min_suppliers 2"),
    "min_share above max_share": (
        lambda d: _set(d, "region_limits", 0, "min_share", 0.6),
        "table 'region_limits', row 1, field 'min_share': min_share 0.6 is above max_share 0.5"),
    "min_award_share above max_supplier_share": (
        lambda d: _set(_set(d, "products", 1, "max_supplier_share", 0.3), "products", 1, "min_award_share", 0.4),
        "table 'products', row 2, field 'min_award_share': min_award_share 0.4 is above max_supplier_share 0.3"),
    "share above 1": (lambda d: _set(d, "disruptions", 0, "delivered_fraction", 1.5),
                      "table 'disruptions', row 1, field 'delivered_fraction': expected a number ≤ 1, got 1.5"),
    "unknown setting": (lambda d: d["settings"].update(risk_weigth=2) or d,
                        "field 'settings.risk_weigth': unknown field 'settings.risk_weigth' "
                        "(did you mean 'risk_weight'?)"),
    "duplicate region row": (lambda d: d["region_limits"].append({"product": "*", "region": "Asia"}) or d,
                             "table 'region_limits', row 2, field 'region': duplicate product=*, region=Asia "
                             "(first in row 1)"),
}


def _errors(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("error:")]


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_input_gives_one_located_error(write_instance, tmp_path, case):
    edit, message = MALFORMED[case]
    path = write_instance(edit(copy.deepcopy(BASE)))
    for command in (["validate", str(path)], ["solve", str(path), "--out", str(tmp_path / "o")]):
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 2, result.output
        errors = _errors(result.output)
        assert len(errors) == 1, result.output
        assert errors[0].startswith(f"error: {path}, "), errors[0]
        assert message in errors[0]
        assert "Traceback" not in result.output


def test_the_base_of_the_malformed_cases_is_valid(write_instance):
    assert CliRunner().invoke(main, ["validate", str(write_instance(BASE))]).exit_code == 0


def test_a_bad_csv_cell_names_the_csv_file_and_line(write_instance, tmp_path):
    offers = ("supplier,product,unit_price,capacity\n"
              "A,mask,1.0,\n"
              "B,mask,cheap,200\n")
    doc = dict(copy.deepcopy(BASE), offers={"file": "tables/offers.csv"})
    path = write_instance(doc, files={"tables/offers.csv": offers})
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2
    errors = _errors(result.output)
    assert errors == [f"error: {tmp_path / 'tables' / 'offers.csv'}, table 'offers', row 2 (line 3), "
                      "field 'unit_price': expected a number, got 'cheap'"]


def test_csv_tables_load_like_inline_records(write_instance, solve):
    offers = "supplier,product,unit_price,capacity,notes\nA,mask,1.0,,\nB,mask,0.8,,from Asia\nA,gown,2.0,,\n"
    doc = dict(copy.deepcopy(BASE), offers={"file": "offers.csv"})
    path = write_instance(doc, files={"offers.csv": offers})
    inline, _ = solve(BASE)
    from_csv = sp.solve(sp.load(path), mip_gap=1e-9)
    assert from_csv.objective == pytest.approx(inline.objective)


def _workbook(path: Path, rows: list[list]) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    book.active.title = "other"
    sheet = book.create_sheet("offers")
    for row in rows:
        sheet.append(row)
    book.save(path)


def test_xlsx_table_loads_and_a_bad_cell_names_sheet_and_row(write_instance, tmp_path, solve):
    header = ["supplier", "product", "unit_price", "capacity"]
    _workbook(tmp_path / "bids.xlsx", [header, ["A", "mask", 1.0, None], ["B", "mask", 0.8, None],
                                       ["A", "gown", 2.0, None]])
    doc = dict(copy.deepcopy(BASE), offers={"file": "bids.xlsx", "sheet": "offers"})
    path = write_instance(doc)
    inline, _ = solve(BASE)
    assert sp.solve(sp.load(path), mip_gap=1e-9).objective == pytest.approx(inline.objective)

    _workbook(tmp_path / "bids.xlsx", [header, ["A", "mask", 1.0, None], ["B", "mask", 0.8, -3],
                                       ["A", "gown", 2.0, None]])
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2
    assert _errors(result.output) == [f"error: {tmp_path / 'bids.xlsx'}[offers], table 'offers', row 2 (line 3), "
                                      "field 'capacity': expected a number ≥ 0, got -3"]


def test_load_raises_input_error_for_the_api(write_instance):
    doc = _set(copy.deepcopy(BASE), "offers", 0, "unit_price", -1)
    with pytest.raises(InputError) as info:
        sp.load(write_instance(doc))
    (problem,) = info.value.problems
    assert (problem.table, problem.row, problem.field) == ("offers", 1, "unit_price")


# -- the shipped instances through the CLI ---------------------------------------------


@pytest.mark.parametrize("name", SHIPPED)
def test_cli_validate_solve_check_on_the_shipped_instances(name, tmp_path):
    import yaml

    path = ROOT / "instances" / name / "instance.yaml"
    expected = yaml.safe_load((ROOT / "instances" / name / "expected.yaml").read_text())
    runner = CliRunner()
    result = runner.invoke(main, ["validate", str(path)])
    assert result.exit_code == 0 and "valid sourcing instance" in result.output
    out = tmp_path / name
    result = runner.invoke(main, ["solve", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "optimal"
    assert summary["objective"] == pytest.approx(expected["objective"], rel=2 * expected["mip_gap"])
    assert {p.name for p in out.glob("*.csv")} == {"awards.csv", "products.csv", "suppliers.csv", "regions.csv",
                                                  "scenarios.csv", "surge.csv"}
    result = runner.invoke(main, ["check", str(path), str(out)])
    assert result.exit_code == 0, result.output


def test_flagship_plan_respects_its_headline_rules(tmp_path):
    """Dual sourcing for masks, gloves and gowns; Asia ≤ 40 % of every product; NL ≥ 15 % of masks."""
    result = sp.solve(ROOT / "instances" / "sourcing-nl-ppe" / "instance.yaml")
    awards = result.tables["awards"]
    for product in ("ffp2_mask", "nitrile_glove", "isolation_gown"):
        assert (awards["product"] == product).sum() >= 2
    regions = result.tables["regions"]
    assert (regions.loc[regions["region"] == "Asia", "share"] <= 0.4 + 1e-9).all()
    nl_masks = regions.loc[(regions["region"] == "NL") & (regions["product"] == "ffp2_mask"), "share"]
    assert float(nl_masks.iloc[0]) >= 0.15 - 1e-9
