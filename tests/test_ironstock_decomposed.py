"""ironstock by scenario decomposition (mpi-sppy L-shaped): same plan, objective and check as the monolithic model."""

from __future__ import annotations

import copy
import random
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import stockpile as sp
from stockpile.models.ironstock import decomposed
from stockpile.models.ironstock.data import IronstockData, greedy_shortage
from stockpile.models.ironstock.formulation import shortage_cuts
from stockpile.solver import SolveOptions

from test_ironstock import fractile_doc, random_instances, reserve_of

EXAMPLE = Path(__file__).resolve().parents[1] / "instances" / "ironstock-nl" / "instance.yaml"
OPTIONS = SolveOptions(threads=1, progress=False)


def with_method(doc: dict, method: str, **extra) -> dict:
    doc = copy.deepcopy(doc)
    doc.setdefault("settings", {}).update(method=method, **extra)
    return doc


def solve_both(write_instance, doc, tmp_path, **extra):
    """Solve monolithic and decomposed; both must pass the checker when they have a plan."""
    results = []
    for method in ("monolithic", "decomposed"):
        inst = sp.load(write_instance(with_method(doc, method, **extra), f"{method}.yaml"))
        result = sp.solve(inst, OPTIONS)
        if result.status.has_solution:
            out = tmp_path / method
            result.write(out)
            assert sp.check(inst, out) == [], method
        results.append(result)
    return results


# -- the compact play-out is exact ----------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(T=st.integers(1, 8), seed=st.integers(0, 10**6))
def test_shortage_cuts_equal_the_least_shortage(T, seed):
    """max(0, max over cut rows) equals greedy play-out's total shortage for any R and c."""
    rng = random.Random(seed)
    doc = {"kind": "ironstock", "periods": T,
           "products": [{"id": "p", "unit_cost": 1, "holding_cost": 1, "shortage_penalty": 5}],
           "scenarios": [{"id": "w", "probability": 0.5}],
           "scenario_demand": [{"scenario": "w", "product": "p", "period": t, "demand": rng.randint(0, 50)}
                               for t in range(T)],
           "sources": [{"id": "s", "product": "p", "capacity": rng.randint(0, 20)}],
           "scenario_supply": [{"scenario": "w", "source": "s", "period": t, "available_fraction": rng.choice([0, 0.5, 1])}
                               for t in range(T) if rng.random() < 0.6],
           "reservations": [{"id": f"k{i}", "product": "p", "max_capacity": 30, "fee": 1,
                             "ramp_up_periods": rng.randint(0, T)} for i in range(rng.randint(0, 2))]}
    doc["scenario_demand"][0]["demand"] += 1  # at least one unit, so the pair exists
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "instance.yaml"
        path.write_text(yaml.safe_dump(doc))
        d = IronstockData(sp.load(path))
    R = rng.uniform(0, 120)
    c = {k: rng.uniform(0, 30) for k in d.reservations}
    rows = shortage_cuts(d, "w", "p")
    cut_value = max([0.0] + [b - R - sum(a * c[k] for k, a in coef.items()) for b, coef in rows])
    least = sum(greedy_shortage(d.demand[("w", "p")], d.resupply_capacity("w", "p", c), R))
    assert cut_value == pytest.approx(least, abs=1e-7)


# -- hand-computed optima, decomposed ---------------------------------------------------------


@pytest.mark.parametrize("holding, penalty, reserve, objective", [
    # the critical fractile cases of test_ironstock: P(d > R) <= h/P with 0.4 of "no crisis" mass
    (1, 5, 200, 250),  # 200 + 5*(0.1*100)
    (1, 2, 100, 200),  # 100 + 2*(0.3*100 + 0.1*200)
    (1, 1.5, 0, 165),  # 1.5*(0.2*100 + 0.3*200 + 0.1*300)
])
def test_decomposed_critical_fractile_with_no_crisis_mass(write_instance, tmp_path, holding, penalty, reserve, objective):
    mono, dec = solve_both(write_instance, fractile_doc(holding, penalty), tmp_path)
    assert dec.kpis["method"] == "decomposed" and mono.kpis["method"] == "monolithic"
    assert reserve_of(dec) == pytest.approx(reserve, abs=1e-6)
    assert dec.objective == pytest.approx(objective, abs=1e-6)
    assert dec.objective == pytest.approx(mono.objective, rel=1e-9)
    assert dec.kpis["decomposition"]["gap"] <= 1e-4


def test_decomposed_budget_couples_products(write_instance, tmp_path):
    """Two products share a 300 EUR budget at 2 EUR/unit. Gown has penalty 20 and crises of
    100 in every scenario (P(d > R) = 0.6 below 100): a unit saves 20*0.6 − 1 = 11/yr, 5.5
    per EUR; a mask below 100 saves 5*0.6 − 1 = 2/yr, 1 per EUR. So gown gets 100 units
    (200 EUR), mask the remaining 50 (100 EUR): mask 50 + 5*(0.2*50 + 0.3*150 + 0.1*250)
    = 450; gown 100 + 0 = 100. Objective 550; the marginal EUR buys half a mask: 1.0."""
    doc = fractile_doc()
    doc["products"].append({"id": "gown", "unit_cost": 2, "holding_cost": 1, "shortage_penalty": 20})
    doc["scenario_demand"] += [{"scenario": w, "product": "gown", "period": 0, "demand": 100}
                               for w in ("mild", "bad", "worst")]
    doc["settings"] = {"budget": 300}
    mono, dec = solve_both(write_instance, doc, tmp_path)
    for result in (mono, dec):
        assert reserve_of(result, "gown") == pytest.approx(100)
        assert reserve_of(result, "mask") == pytest.approx(50)
        assert result.objective == pytest.approx(550)
        assert result.kpis["budget_marginal_value"] == pytest.approx(1.0)


def test_decomposed_lots_and_infeasible_floors(write_instance, tmp_path):
    """Lots of 40 under a 300 EUR budget: 3 lots (see test_ironstock), objective 330; a
    floor above the budget is infeasible with the same reason as the monolithic model."""
    doc = fractile_doc(lot_size=40)
    doc["settings"] = {"budget": 300}
    mono, dec = solve_both(write_instance, doc, tmp_path)
    assert dec.objective == pytest.approx(330) and reserve_of(dec) == pytest.approx(120)
    assert int(dec.tables["reserve"]["lots"].iloc[0]) == 3
    doc = fractile_doc(baseline_demand=100, min_cover_periods=2)
    doc["settings"] = {"budget": 100}
    mono, dec = solve_both(write_instance, doc, tmp_path)
    assert mono.status.value == dec.status.value == "infeasible"
    assert dec.reason == mono.reason and "budget" in dec.reason


def test_auto_switches_above_the_documented_size(write_instance):
    doc = fractile_doc()
    small = sp.solve(sp.load(write_instance(with_method(doc, "auto"), "a.yaml")), OPTIONS)
    assert small.kpis["method"] == "monolithic"  # 3 pairs × 1 period ≤ 1,000,000
    large = sp.solve(sp.load(write_instance(with_method(doc, "auto", decompose_above=2), "b.yaml")), OPTIONS)
    assert large.kpis["method"] == "decomposed"  # 3 cells > 2
    assert large.objective == pytest.approx(small.objective)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=random_instances(), bundle=st.integers(0, 2))
def test_random_instances_decomposed_equal_monolithic(doc, bundle, tmp_path_factory):
    folder = tmp_path_factory.mktemp("dec")

    def write(d, name):
        path = folder / name
        path.write_text(yaml.safe_dump(d))
        return path

    mono, dec = solve_both(write, doc, folder, bundle_size=bundle)
    assert mono.status.has_solution == dec.status.has_solution
    if mono.status.has_solution:
        # both within their gap (1e-4) of the optimum
        assert dec.objective == pytest.approx(mono.objective, rel=2e-4, abs=1e-6)


# -- MPI ------------------------------------------------------------------------------------


@pytest.mark.skipif(not decomposed.mpi_available(),
                    reason="no MPI: mpi4py with an MPI library and mpiexec are needed (pip install '.[mpi]')")
def test_shipped_example_under_mpiexec_two_ranks(tmp_path):
    inst = sp.load(EXAMPLE)
    mono = sp.solve(inst, OPTIONS)
    inst = sp.load(EXAMPLE)
    inst.settings = inst.settings.model_copy(update={"method": "decomposed", "processes": 2})
    dec = sp.solve(inst, OPTIONS)
    assert dec.kpis["decomposition"]["ranks"] == 2
    assert dec.objective == pytest.approx(mono.objective, rel=1e-6)  # EUR 11,437,553.54
    assert dec.kpis["budget_marginal_value"] == pytest.approx(0.0625)
    dec.write(tmp_path / "out")
    assert sp.check(inst, tmp_path / "out") == []
