"""rotation: hand-computed optima, properties, the checker, diagnosis, malformed input, CLI."""

from __future__ import annotations

import itertools
import math

import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import stockpile as sp
from stockpile.checking import read_results
from stockpile.cli import main
from stockpile.errors import InputError
from stockpile.examples import find
from stockpile.solver import SolveOptions, solve_model


def product(**fields) -> dict:
    base = {"id": "mask", "target": 0, "min_remaining_life": 0, "shelf_life": 10, "unit_cost": 1}
    base.update(fields)
    return base


def doc(periods: int, products: list, lots=(), outlets=(), targets=(), settings_=None) -> dict:
    out = {"kind": "rotation", "periods": periods, "products": list(products)}
    if lots:
        out["lots"] = list(lots)
    if outlets:
        out["outlets"] = list(outlets)
    if targets:
        out["targets"] = list(targets)
    if settings_:
        out["settings"] = settings_
    return out


def solve_and_check(write_instance, document, tmp_path, name="instance.yaml"):
    inst = sp.load(write_instance(document, name))
    result = sp.solve(inst)
    assert result.status.value == "optimal", result.reason
    out = tmp_path / ("out-" + name)
    result.write(out)
    assert sp.check(inst, out) == []
    return inst, result, out


def issues(result) -> pd.DataFrame:
    s = result.tables["schedule"]
    return s[s["action"] == "issue"]


# -- hand-computed optima -------------------------------------------------------------------


@pytest.mark.parametrize("capacity, objective, rotated, written", [
    # 100 units expire at the start of period 2; the outlet pays 1/unit and takes `capacity`
    # per period in periods 0 and 1; disposal costs 0.5/unit. A lot already expired (expiry
    # 0, 10 units) is written off at once: +5. Buying at 5 to sell at 1 never pays.
    # capacity 60: issue 60 + 40 -> revenue 100, nothing left: -100 + 5 = -95
    (60, -95.0, 100.0, 10.0),
    # capacity 30: issue 30 + 30 -> revenue 60, 40 left written off: -60 + 0.5*40 + 5 = -35
    (30, -35.0, 60.0, 50.0),
])
def test_rotating_before_expiry_beats_writing_off(write_instance, tmp_path, capacity, objective, rotated, written):
    d = doc(3, [product(disposal_cost=0.5, unit_cost=5)],
            lots=[{"id": "L", "product": "mask", "quantity": 100, "expiry": 2},
                  {"id": "old", "product": "mask", "quantity": 10, "expiry": 0}],
            outlets=[{"id": "hospital", "product": "mask", "capacity": capacity, "price": 1}])
    _, result, _ = solve_and_check(write_instance, d, tmp_path)
    assert result.objective == pytest.approx(objective)
    assert result.kpis["units_rotated"] == pytest.approx(rotated)
    assert result.kpis["units_written_off"] == pytest.approx(written)
    assert result.kpis["units_written_off_at_start"] == pytest.approx(10)
    w = result.tables["writeoffs"].set_index("lot")
    assert w.loc["old", "period"] == 0
    if written > 10:
        assert w.loc["L", "period"] == 2 and w.loc["L", "quantity"] == pytest.approx(40)


def test_without_an_outlet_the_lot_is_written_off(write_instance, tmp_path):
    # same lot, no outlet: 100 written off at 0.5 -> 50
    d = doc(3, [product(disposal_cost=0.5)], lots=[{"id": "L", "product": "mask", "quantity": 100, "expiry": 2}])
    _, result, _ = solve_and_check(write_instance, d, tmp_path)
    assert result.objective == pytest.approx(50.0)
    assert result.objective_terms["disposal"] == pytest.approx(50.0)


def test_acceptance_window_forbids_a_late_issue(write_instance, tmp_path):
    # 50 units expire at the start of period 4 (of 5). The outlet needs 3 periods of life:
    # 4 - t >= 3 only for t = 0, 1 -> at most 2 x 10 = 20 issued, revenue 2 x 20 = 40
    # (buying at 5 to sell at 2 does not pay);
    # 30 written off in period 4 at 1/unit -> objective -40 + 30 = -10.
    d = doc(5, [product(disposal_cost=1, unit_cost=5)], lots=[{"id": "L", "product": "mask", "quantity": 50, "expiry": 4}],
            outlets=[{"id": "wholesaler", "product": "mask", "capacity": 10, "min_remaining_life": 3, "price": 2}])
    _, result, _ = solve_and_check(write_instance, d, tmp_path)
    assert result.objective == pytest.approx(-10.0)
    assert set(issues(result)["period"]) == {0, 1}
    assert (issues(result)["remaining_life"] >= 3).all()


def test_lot_alive_after_the_horizon_is_not_written_off(write_instance, tmp_path):
    # expiry 4 with 4 periods: the lot expires after the last period, so nothing is written
    # off and only the 20 units the window allows are issued: objective -40.
    d = doc(4, [product(disposal_cost=1, unit_cost=5)], lots=[{"id": "L", "product": "mask", "quantity": 50, "expiry": 4}],
            outlets=[{"id": "wholesaler", "product": "mask", "capacity": 10, "min_remaining_life": 3, "price": 2}])
    _, result, _ = solve_and_check(write_instance, d, tmp_path)
    assert result.objective == pytest.approx(-40.0)
    assert result.tables["writeoffs"].empty
    assert result.tables["lots"].set_index("lot").loc["L", "end_stock"] == pytest.approx(30)
    # end-of-period stock 40, 30, 30, 30 with 3, 2, 1, 0 periods left:
    # (40*3 + 30*2 + 30*1 + 30*0) / (40 + 30 + 30 + 30) = 210 / 130
    assert result.kpis["average_remaining_life"] == pytest.approx(210 / 130)


def test_buying_to_sell_pays_when_an_outlet_pays_more_than_cost(write_instance, tmp_path):
    # No target, no lots; the outlet pays 2 for units that cost 1 and takes 10 per period:
    # buy 10 and issue 10 in each of 3 periods -> 3 x 10 x (1 - 2) = -30.
    d = doc(3, [product(unit_cost=1)], outlets=[{"id": "h", "product": "mask", "capacity": 10, "price": 2}])
    _, result, _ = solve_and_check(write_instance, d, tmp_path)
    assert result.objective == pytest.approx(-30.0)
    assert result.kpis["units_bought"] == pytest.approx(30)


def test_target_forces_a_purchase_with_lead_time(write_instance, tmp_path):
    # Target 100 in every period of 4. The lot on hand (100, expiry 2) counts at the end of
    # periods 0 and 1 only (2 - (t+1) >= 0). With lead time 2 the order must be placed in
    # period 0 to arrive in period 2: one lot of 100 at 1/unit -> 100. The old lot is
    # written off in period 2 at no cost.
    d = doc(4, [product(target=100, lead_time=2, lot_size=100)],
            lots=[{"id": "L", "product": "mask", "quantity": 100, "expiry": 2}])
    _, result, _ = solve_and_check(write_instance, d, tmp_path)
    assert result.objective == pytest.approx(100.0)
    buy = result.tables["purchases"].iloc[0]
    assert (buy["period_ordered"], buy["period_arriving"], buy["expiry"], buy["lots"]) == (0, 2, 12, 1)
    stock = result.tables["stock"]
    assert (stock["usable"] >= stock["target"] - 1e-9).all()


def test_lot_size_rounds_purchases_up(write_instance, tmp_path):
    # Target 250, lots of 100, 1/unit and holding 5.2/unit/year = 0.1 per weekly period, 2 periods:
    # 3 lots = 300 units -> 300 + 0.1 x 300 x 2 = 360.
    d = doc(2, [product(target=250, lot_size=100, holding_cost=5.2)])
    _, result, _ = solve_and_check(write_instance, d, tmp_path)
    assert result.objective == pytest.approx(360.0)
    assert result.kpis["units_bought"] == pytest.approx(300)
    assert result.objective_terms["holding"] == pytest.approx(60.0)


def test_holding_cost_is_per_year(write_instance, tmp_path):
    # Target 100, one lot of 100 at 1/unit bought in period 0 and held 3 periods of 30 days:
    # 365/30 periods a year, so holding 36.5/unit/year is 3 per period: 100 + 3 x 100 x 3 = 1000.
    d = doc(3, [product(target=100, lot_size=100, holding_cost=36.5)])
    d["period_days"] = 30
    _, result, _ = solve_and_check(write_instance, d, tmp_path)
    assert result.objective_terms["holding"] == pytest.approx(900.0)
    assert result.objective == pytest.approx(1000.0)


def test_former_name_storage_volume_is_rejected_naming_unit_volume(write_instance):
    d = doc(2, [product(target=10, storage_volume=1)])
    with pytest.raises(InputError) as err:
        sp.load(write_instance(d))
    assert "unit_volume" in str(err.value) and "storage_volume" in str(err.value)


@pytest.mark.parametrize("order_cost, objective, orders", [
    # Targets 100 / 200 / 300 in periods 0 / 1 / 2, lots of 100 at 1/unit, holding 52/unit/year = 1 per week.
    # One order of 300 in period 0: 300 + 250 + holding 900 = 1450.
    # Just in time (3 orders): 300 + 3 x 250 + holding 100+200+300 = 1650; two orders: 1500.
    (250, 1450.0, 1),
    # order cost 50: just in time 300 + 150 + 600 = 1050 < two orders 1100 < one order 1250.
    (50, 1050.0, 3),
])
def test_order_cost_trades_against_holding(write_instance, tmp_path, order_cost, objective, orders):
    d = doc(3, [product(target=100, lot_size=100, holding_cost=52, order_cost=order_cost)],
            targets=[{"product": "mask", "period": 1, "target": 200}, {"product": "mask", "period": 2, "target": 300}])
    _, result, _ = solve_and_check(write_instance, d, tmp_path)
    assert result.objective == pytest.approx(objective)
    assert result.kpis["orders"] == orders
    assert result.objective_terms["order"] == pytest.approx(orders * order_cost)


@pytest.mark.parametrize("capacity, objective", [
    # Target 100 with min_remaining_life 2 over 2 periods. Lot A (100, expiry 3) counts at
    # the end of period 0 only (3 - 1 >= 2), so 100 units (10 lots of 10, 1/unit) must be on
    # hand by period 1: 100. Without a storage limit A simply stays (shipping it costs 5).
    (None, 100.0),
    # With 150 m³ (1 m³/unit) at most 50 of A may remain next to the 100 new units: one
    # shipment of >= 50 units -> 100 + 5 = 105.
    (150, 105.0),
])
def test_storage_capacity_forces_rotation(write_instance, tmp_path, capacity, objective):
    d = doc(2, [product(target=100, min_remaining_life=2, lot_size=10, unit_volume=1)],
            lots=[{"id": "A", "product": "mask", "quantity": 100, "expiry": 3}],
            outlets=[{"id": "care", "product": "mask", "capacity": 100, "shipment_cost": 5}],
            settings_={"storage_capacity": capacity} if capacity else None)
    _, result, _ = solve_and_check(write_instance, d, tmp_path)
    assert result.objective == pytest.approx(objective)
    if capacity:
        volume = result.tables["stock"].groupby("period")["volume"].sum()
        assert (volume <= capacity + 1e-6).all()
        assert result.kpis["shipments"] == 1


def test_terms_sum_to_objective_and_revenue_is_negative(write_instance, tmp_path):
    d = doc(3, [product(target=50, lot_size=25, holding_cost=0.52, order_cost=3, disposal_cost=0.2)],
            lots=[{"id": "L", "product": "mask", "quantity": 80, "expiry": 2}],
            outlets=[{"id": "h", "product": "mask", "capacity": 20, "price": 0.5, "shipment_cost": 1}])
    _, result, _ = solve_and_check(write_instance, d, tmp_path)
    assert set(result.objective_terms) == {"purchase", "order", "holding", "disposal", "shipment", "revenue"}
    assert sum(result.objective_terms.values()) == pytest.approx(result.objective)
    assert result.objective_terms["revenue"] <= 0
    assert result.kpis["revenue"] == pytest.approx(-result.objective_terms["revenue"])


# -- properties on random small instances ----------------------------------------------------


@st.composite
def instances(draw):
    T = draw(st.integers(2, 5))
    products, lots, outlets = [], [], []
    for k in range(draw(st.integers(1, 2))):
        pid = f"p{k}"
        mrl = draw(st.integers(0, 2))
        products.append(product(
            id=pid, target=draw(st.sampled_from([0, 20, 50])), min_remaining_life=mrl,
            shelf_life=draw(st.integers(mrl + 1, mrl + 4)), unit_cost=draw(st.sampled_from([1, 2])),
            holding_cost=draw(st.sampled_from([0, 2.6])), disposal_cost=draw(st.sampled_from([0, 0.3])),
            lot_size=draw(st.sampled_from([1, 15, 40])), order_cost=draw(st.sampled_from([0, 4])),
            unit_volume=draw(st.sampled_from([0, 0.01]))))
        for j in range(draw(st.integers(0, 3))):
            lots.append({"id": f"{pid}-L{j}", "product": pid, "quantity": draw(st.integers(1, 60)),
                         "expiry": draw(st.integers(-1, T + 2))})
        for j in range(draw(st.integers(0, 2))):
            outlets.append({"id": f"o{j}", "product": pid, "capacity": draw(st.sampled_from([0, 10, 30])),
                            "min_remaining_life": draw(st.integers(0, 3)),
                            "price": draw(st.sampled_from([0, 0.5, 1.5])),
                            "shipment_cost": draw(st.sampled_from([0, 2]))})
    return doc(T, products, lots, outlets)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(d=instances())
def test_random_instances_satisfy_every_rule(write_instance, tmp_path, d):
    inst = sp.load(write_instance(d))
    result = sp.solve(inst)
    # lead time 0 and shelf_life > min_remaining_life: a purchase can always cover a target
    assert result.status.value == "optimal", result.reason
    result.write(tmp_path / "out")
    assert sp.check(inst, tmp_path / "out") == []
    expiry = {lot["id"]: lot["expiry"] for lot in d.get("lots", [])}
    expiry.update(dict(zip(result.tables["purchases"]["lot"], result.tables["purchases"]["expiry"])))
    sched = issues(result)
    for r in sched.itertuples():
        assert r.period < expiry[r.lot]  # no unit issued at or after expiry
    lots = result.tables["lots"]
    balance = lots["initial"] - lots["issued"] - lots["written_off"] - lots["end_stock"]
    assert (balance.abs() <= 1e-6).all()
    stock = result.tables["stock"]
    assert (stock["usable"] >= stock["target"] - 1e-6).all()
    bands = stock[[c for c in stock.columns if c.startswith("life_")]].sum(axis=1)
    assert ((bands - stock["total"]).abs() <= 1e-6).all()
    assert sum(result.objective_terms.values()) == pytest.approx(result.objective)


@st.composite
def tight_instances(draw):
    """Like `instances`, with lead times and a storage limit: some are infeasible."""
    d = draw(instances())
    for p in d["products"]:
        p["lead_time"] = draw(st.integers(0, 2))
        p["target"] = draw(st.sampled_from([0, 20, 50, 90]))
    if draw(st.booleans()):
        d["settings"] = {"storage_capacity": draw(st.sampled_from([0.2, 0.5, 1.5]))}
    return d


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(d=tight_instances())
def test_diagnosis_is_sound_and_solutions_check(write_instance, tmp_path, d):
    """A reason found on the data alone means the model is infeasible; a plan found passes the checker."""
    from stockpile.models.rotation.diagnose import diagnose

    inst = sp.load(write_instance(d))
    result = sp.solve(inst)
    assert result.status.value in ("optimal", "infeasible")
    if diagnose(inst) is not None:
        assert result.status.value == "infeasible"
    if result.status.value == "optimal":
        result.write(tmp_path / "out")
        assert sp.check(inst, tmp_path / "out") == []
    else:
        assert result.reason


# -- brute force against the MIP -------------------------------------------------------------


def brute_force(inst, extra: int = 1) -> float:
    """Fix every integer decision (lots per order, order and shipment indicators) in turn and
    solve the LP that is left; the least objective over all feasible fixings is the optimum.

    Lots per order are enumerated `extra` beyond the model's own bound N_c, with the limits
    derived from N_c lifted, and the valid cuts are switched off: so the enumeration also
    confirms that neither the bound nor the cuts cut off an optimum. A fixing that leaves a
    constant row violated is infeasible."""
    from pyomo.common.errors import InfeasibleConstraintException

    from stockpile.models.rotation.formulation import build

    m = build(inst)
    d = m.data
    for cuts in (m.purchase_need, m.order_need, m.order_step, m.order_link):
        cuts.deactivate()  # order_link: the order indicator is fixed with n below
    for var in (m.stock, m.fresh):
        for v in var.values():
            v.setub(None)
    product_of = {lot.id: lot.product for lot in d.lots}
    for (l, o, t), v in m.issue.items():
        v.setub(d.outlets[(o, product_of[l])].capacity)
    for (p, o, t), v in m.fresh_issue.items():
        v.setub(d.outlets[(o, p)].capacity)
    n_keys = list(m.n)
    ship_keys = list(m.ship)
    ranges = [range(int(m.n[k].ub) + 1 + extra) for k in n_keys]
    for k in n_keys:
        m.n[k].setub(None)
    best = math.inf
    options = SolveOptions(progress=False)
    for ns in itertools.product(*ranges):
        for ships in itertools.product((0, 1), repeat=len(ship_keys)):
            for k, v in zip(n_keys, ns):
                m.n[k].fix(v)
                if k in m.order:
                    m.order[k].fix(1 if v > 0 else 0)  # an order with nothing bought only costs
            for k, v in zip(ship_keys, ships):
                m.ship[k].fix(v)
            try:
                sol = solve_model(m, options)
            except InfeasibleConstraintException:
                continue
            if sol.status.value == "optimal":
                best = min(best, sol.objective)
    return best


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_mip_optimum_matches_brute_force(write_instance, seed):
    import random

    rng = random.Random(seed)
    T = 3
    d = doc(T, [product(target=rng.choice([30, 45]), min_remaining_life=1, shelf_life=3,
                        lead_time=rng.choice([0, 1]), lot_size=40, unit_cost=1, holding_cost=2.6,
                        order_cost=rng.choice([3, 8]), disposal_cost=0.4)],
            lots=[{"id": "L", "product": "mask", "quantity": rng.choice([30, 50, 70]), "expiry": rng.choice([1, 2])}],
            outlets=[{"id": "h", "product": "mask", "capacity": rng.choice([15, 25]), "price": rng.choice([0.6, 1.2]),
                      "shipment_cost": rng.choice([2, 6])}])
    inst = sp.load(write_instance(d, f"bf{seed}.yaml"))
    mip = sp.solve(inst)
    assert mip.status.value == "optimal"
    assert mip.objective == pytest.approx(brute_force(inst), abs=1e-6)


@pytest.mark.parametrize("storage", [None, 200.0, 150.0])
def test_two_products_solved_apart_match_brute_force_on_the_whole(write_instance, tmp_path, storage):
    # Two products with lots on hand, order costs and outlets (mask's with a shipment cost of
    # 30, more than shipping its expiring lot earns: 25 x 0.6 + 25 x 0.4 disposal saved).
    # Without storage_capacity (None) or with room for both plans (200 m³; they peak at
    # 170 m³ in period 0: mask 70 + 80 bought, gown 40 of 0.5 m³) the products are solved as
    # separate MIPs and summed; with 150 m³ the separate plans overflow it, so mask's lot
    # must be shipped out and the whole instance is solved as one MIP. Either way the
    # optimum is the brute-force optimum of the whole instance (extra=0: the single-product
    # cases above also check the purchase bound N_c).
    d = doc(2, [product(target=45, min_remaining_life=1, shelf_life=3, lot_size=40, unit_cost=1, holding_cost=2.6,
                        order_cost=3, disposal_cost=0.4, unit_volume=1),
                product(id="gown", target=30, min_remaining_life=1, shelf_life=3, lot_size=40, unit_cost=2,
                        holding_cost=5.2, order_cost=8, disposal_cost=0.2, unit_volume=0.5)],
            lots=[{"id": "L", "product": "mask", "quantity": 70, "expiry": 1},
                  {"id": "G", "product": "gown", "quantity": 10, "expiry": 2}],
            outlets=[{"id": "h", "product": "mask", "capacity": 25, "price": 0.6, "shipment_cost": 30},
                     {"id": "h", "product": "gown", "capacity": 10, "price": 1.5}],
            settings_={"storage_capacity": storage} if storage else None)
    inst, result, _ = solve_and_check(write_instance, d, tmp_path, f"two-{storage}.yaml")
    assert result.objective == pytest.approx(brute_force(inst, extra=0), abs=1e-6)
    assert result.kpis["orders"] >= 1 and result.kpis["shipments"] >= 1
    assert result.kpis["peak_storage_volume"] == pytest.approx(145.0 if storage == 150.0 else 170.0)


def test_printed_objective_and_gap_are_those_written(write_instance, tmp_path):
    d = doc(3, [product(target=45, lot_size=40, order_cost=3, disposal_cost=0.4),
                product(id="gown", target=30, lot_size=40, unit_cost=2)],
            lots=[{"id": "L", "product": "mask", "quantity": 70, "expiry": 1}],
            outlets=[{"id": "h", "product": "mask", "capacity": 25, "price": 0.6, "shipment_cost": 2}])
    out = tmp_path / "out"
    solved = CliRunner().invoke(main, ["solve", str(write_instance(d)), "--out", str(out)])
    assert solved.exit_code == 0, solved.output
    summary, _ = read_results(out)
    last = [line for line in solved.stderr.splitlines() if "objective" in line][-1]
    assert f"objective {summary['objective']:,.2f}" in last
    assert f"objective  {summary['objective']:>18,.2f}" in solved.stdout


# -- the checker catches tampering ----------------------------------------------------------


@pytest.fixture
def solved(write_instance, tmp_path):
    d = doc(4, [product(target=60, lot_size=50, holding_cost=0.52, disposal_cost=0.5, order_cost=2, unit_volume=0.01)],
            lots=[{"id": "L", "product": "mask", "quantity": 90, "expiry": 2}],
            outlets=[{"id": "h", "product": "mask", "capacity": 25, "price": 0.6, "min_remaining_life": 1,
                      "shipment_cost": 1}])
    inst, result, out = solve_and_check(write_instance, d, tmp_path)
    assert len(issues(result)) >= 1
    return inst, out


def tamper(out, table, edit):
    summary, tables = read_results(out)
    frame = tables[table]
    changed = edit(frame)
    frame = frame if changed is None else changed
    frame.to_csv(out / f"{table}.csv", index=False)


def _over_capacity(f):
    f.loc[f["action"] == "issue", "quantity"] = "26"  # the outlet takes 25 per period


def _after_expiry(f):
    f.loc[f["action"] == "issue", "period"] = "3"  # lot L expires at the start of period 2


def _fractional_lots(f):
    f["lots"] = "1.5"


def _wrong_arrival(f):
    f["period_arriving"] = (f["period_arriving"].astype(int) + 1).astype(str)


def _drop_rows(f):
    return f.iloc[0:0]


@pytest.mark.parametrize("table, edit, words", [
    ("schedule", _over_capacity, "capacity"),
    ("schedule", _after_expiry, "expiry"),
    ("purchases", _fractional_lots, "whole"),
    ("purchases", _wrong_arrival, "lead_time"),
    ("purchases", _drop_rows, "target"),
    ("writeoffs", _drop_rows, "written off"),
])
def test_checker_catches_a_tampered_solution(solved, table, edit, words):
    inst, out = solved
    tamper(out, table, edit)
    violations = sp.check(inst, out)
    assert violations and any(words in v for v in violations), violations


@pytest.mark.parametrize("table", ["schedule", "purchases", "writeoffs", "stock", "lots", "shipments"])
def test_checker_reports_a_deleted_result_table(solved, table):
    inst, out = solved
    (out / f"{table}.csv").unlink()
    assert f"missing result table {table}.csv" in sp.check(inst, out)


@pytest.mark.parametrize("kpi", ["units_bought", "orders", "units_rotated", "units_written_off", "revenue",
                                 "shipments", "average_remaining_life", "peak_storage_volume"])
def test_checker_catches_a_doubled_kpi(solved, kpi):
    import json

    inst, out = solved
    summary = json.loads((out / "summary.json").read_text())
    assert summary["kpis"][kpi]  # non-zero in this plan, so doubling changes it
    summary["kpis"][kpi] *= 2
    (out / "summary.json").write_text(json.dumps(summary))
    assert any(f"summary kpi {kpi}" in v for v in sp.check(inst, out))


def _double_column(column):
    def edit(frame):
        frame[column] = (pd.to_numeric(frame[column]) * 2 + 1).astype(str)
        return frame
    return edit


@pytest.mark.parametrize("table, column", [
    ("stock", "usable"), ("stock", "margin"), ("stock", "volume"), ("stock", "life_0_3"),
    ("lots", "issued"), ("lots", "end_stock"), ("shipments", "quantity"), ("shipments", "revenue"),
    ("schedule", "revenue"), ("schedule", "remaining_life"), ("purchases", "order_cost"),
])
def test_checker_recomputes_every_column(solved, table, column):
    inst, out = solved
    tamper(out, table, _double_column(column))
    assert any(column in v for v in sp.check(inst, out))


def test_checker_catches_a_wrong_objective_term(solved):
    import json

    inst, out = solved
    summary = json.loads((out / "summary.json").read_text())
    summary["objective_terms"]["holding"] += 1
    summary["objective"] += 1
    (out / "summary.json").write_text(json.dumps(summary))
    assert any("holding" in v for v in sp.check(inst, out))


# -- infeasibility explained -----------------------------------------------------------------


def test_infeasible_target_names_product_week_stock_and_first_arrival(write_instance):
    d = doc(8, [product(id="ffp2_mask", target=500_000, min_remaining_life=2, lead_time=6)],
            lots=[{"id": "L1", "product": "ffp2_mask", "quantity": 420_000, "expiry": 30},
                  {"id": "L2", "product": "ffp2_mask", "quantity": 90_000, "expiry": 4}])
    result = sp.solve(sp.load(write_instance(d)))
    assert result.status.value == "infeasible"
    # L2 counts at the end of weeks 0 and 1 (4 - (t+1) >= 2), so week 2 is the first short one
    assert "target of ffp2_mask in week 2 is 500,000" in result.reason
    assert "hold 420,000" in result.reason
    assert "first purchase can arrive in week 6" in result.reason


def test_infeasible_when_new_units_never_count(write_instance):
    d = doc(3, [product(target=10, min_remaining_life=5, shelf_life=4)])
    inst = sp.load(write_instance(d))
    assert any("never count" in w for w in inst.warnings)
    result = sp.solve(inst)
    assert result.status.value == "infeasible"
    assert "shelf_life 4" in result.reason


def test_infeasible_storage_below_target_volume(write_instance):
    d = doc(2, [product(target=1000, unit_volume=0.5)], settings_={"storage_capacity": 400})
    result = sp.solve(sp.load(write_instance(d)))
    assert result.status.value == "infeasible"
    assert "storage_capacity is 400 m³" in result.reason and "targets alone take 500 m³" in result.reason


# -- malformed input -------------------------------------------------------------------------


def problems_of(write_instance, document, files=None) -> list[str]:
    with pytest.raises(InputError) as exc:
        sp.load(write_instance(document, files=files))
    return [str(p) for p in exc.value.problems]


@pytest.mark.parametrize("mutate, words", [
    (lambda d: d["products"][0].pop("shelf_life"), ["table 'products'", "row 1", "field 'shelf_life'", "required"]),
    (lambda d: d["products"][0].update(shelf_life=0), ["field 'shelf_life'", "≥ 1"]),
    (lambda d: d["lots"][0].update(quantity=0), ["table 'lots'", "row 1", "field 'quantity'", "> 0"]),
    (lambda d: d["lots"][0].update(expiry=2.5), ["field 'expiry'", "whole number"]),
    (lambda d: d["lots"][0].update(product="gown"), ["field 'product'", "'gown' is not an id"]),
    (lambda d: d["outlets"].append(dict(d["outlets"][0])), ["table 'outlets'", "row 2", "duplicate id=h, product=mask"]),
    (lambda d: d["outlets"][0].pop("capacity"), ["table 'outlets'", "field 'capacity'", "required"]),
    (lambda d: d.update(targets=[{"product": "mask", "period": 9, "target": 5}]),
     ["table 'targets'", "field 'period'", "within 0..2"]),
    (lambda d: d.update(settings={"storage": 5}), ["settings.storage", "did you mean 'storage_capacity'"]),
    (lambda d: d["outlets"][0].update(pric=1), ["unknown field 'pric'", "did you mean 'price'"]),
])
def test_malformed_input_names_table_row_and_field(write_instance, mutate, words):
    d = doc(3, [product(target=10)], lots=[{"id": "L", "product": "mask", "quantity": 5, "expiry": 2}],
            outlets=[{"id": "h", "product": "mask", "capacity": 5}])
    mutate(d)
    text = "\n".join(problems_of(write_instance, d))
    for w in words:
        assert w in text, text


def test_malformed_csv_row_names_its_line(write_instance):
    d = doc(3, [product(target=10)], lots={"file": "lots.csv"})
    d["lots"] = {"file": "lots.csv"}
    text = "\n".join(problems_of(write_instance, d, files={"lots.csv": "id,product,quantity,expiry\nA,mask,5,2\n"
                                                                     "B,mask,-1,3\n"}))
    assert "lots.csv" in text and "row 2 (line 3)" in text and "field 'quantity'" in text


# -- the shipped instance through the CLI ----------------------------------------------------


def test_cli_solves_and_checks_the_shipped_instance(tmp_path):
    example = find("rotation-nl-reserve")
    runner = CliRunner()
    out = tmp_path / "out"
    gap = str(example.expected.get("mip_gap", 1e-4))
    solved = runner.invoke(main, ["solve", str(example.file), "--out", str(out), "--mip-gap", gap,
                                  "--time-limit", "30"])
    assert solved.exit_code == 0, solved.output
    summary, tables = read_results(out)
    assert summary["status"] in ("optimal", "feasible")
    assert {"schedule", "purchases", "writeoffs", "stock", "lots"} <= set(tables)
    assert summary["kpis"]["units_written_off_at_start"] == pytest.approx(1_500_000)
    checked = runner.invoke(main, ["check", str(example.file), str(out)])
    assert checked.exit_code == 0, checked.output
    assert "ok" in checked.output


def test_cli_reports_infeasible_with_exit_code_1(write_instance, tmp_path):
    d = doc(4, [product(target=100, lead_time=3)])
    result = CliRunner().invoke(main, ["solve", str(write_instance(d)), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert "first purchase can arrive in week 3" in result.output
