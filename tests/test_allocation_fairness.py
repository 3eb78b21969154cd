"""allocation fairness: leximin against maxmin by hand, by brute force and by property; time limits; tampering."""

from __future__ import annotations

import copy
import itertools
import math
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from stockpile import api
from stockpile.checking import check_results
from stockpile.loader import Document, validate
from stockpile.models.allocation.check import check as check_allocation
from stockpile.models.allocation.data import AllocationData

ROOT = Path(__file__).resolve().parents[1]


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
    return {(r.institution, r.product): r.fill_rate for r in res.tables["fill"].itertuples()}


def inst_rows(*rows):
    return [dict(zip(("id", "sector", "type", "region", "priority"), r)) for r in rows]


# One region's capacity binds: a1 (region A, capacity 10) and b1, b2 (region B, unlimited),
# each needs 100 of one product (pack 1); central supply 100; b1 has priority 2.
REGION_DOC = {
    "institutions": inst_rows(("a1", "care", "gp", "A", 1), ("b1", "cure", "hospital", "B", 2),
                              ("b2", "care", "gp", "B", 1)),
    "needs": [{"institution": i, "product": "m", "period": 0, "need": 100} for i in ("a1", "b1", "b2")],
    "supply": [{"product": "m", "period": 0, "quantity": 100}],
    "products": [{"id": "m"}],
    "regions": [{"id": "A", "capacity": 10}, {"id": "B"}],
}


def test_maxmin_spends_the_rest_where_priority_is_highest(tmp_path):
    """maxmin: a1 ≤ 10 (region A) → z = 0.1 for everyone. Step 2 then minimises
    1·short(a1) + 2·short(b1) + 1·short(b2) with every fill ≥ 0.1: a1 and b2 keep 10 each,
    b1 gets the other 80: W = 90 + 2·20 + 90 = 220. b2's floor is the one region A sets for a1.
    The efficient plan gives b1 all 100: W = 100 + 0 + 100 = 200; price of fairness 20."""
    doc = {**REGION_DOC, "settings": {"fairness": "maxmin"}}
    _, res, summary, tables = solved(tmp_path, doc)
    assert summary["status"] == "optimal"
    assert fills(res) == pytest.approx({("a1", "m"): 0.1, ("b1", "m"): 0.8, ("b2", "m"): 0.1})
    assert summary["objective"] == pytest.approx(220)
    assert summary["kpis"]["price_of_fairness"] == pytest.approx(20)
    assert summary["kpis"]["levels"] == [] and len(tables["levels"]) == 0


def test_leximin_lowers_only_the_pairs_region_a_limits(tmp_path):
    """leximin: level 1 = 0.1 holds a1 alone, and what holds it is region A's capacity in
    week 0 (10 of a1's 100). Level 2: b1 and b2 share the other 90: 0.45 each, held by the
    central supply up to week 0. Sorted fill rates (0.1, 0.45, 0.45) beat maxmin's
    (0.1, 0.1, 0.8) lexicographically.
    Whole packs keep every pair within one pack (1/100) of its level, and step 2 minimises
    W within that: a1 ≥ 0.09, b2 ≥ 0.44, so b1 (priority 2) gets the rest, 47:
    W = 91 + 2·53 + 56 = 253 (region A then carries 9 of its 10). The efficient plan (b1
    gets all 100) has W = 200, so the price of fairness is 53."""
    _, res, summary, tables = solved(tmp_path, REGION_DOC)
    assert summary["status"] == "optimal"
    levels = summary["kpis"]["levels"]
    assert [(lv["fill_rate"], lv["pairs"]) for lv in levels] == [(pytest.approx(0.1), 1), (pytest.approx(0.45), 2)]
    lv = tables["levels"]
    first = lv[lv["level"] == "1"]
    assert "region_capacity" in set(first["limit"])
    cap = first[first["limit"] == "region_capacity"].iloc[0]
    assert (cap["region"], cap["period"], float(cap["slack"])) == ("A", "0", 1.0)
    second = lv[lv["level"] == "2"]
    assert "central_supply" in set(second["limit"])
    assert fills(res) == pytest.approx({("a1", "m"): 0.09, ("b1", "m"): 0.47, ("b2", "m"): 0.44})
    assert summary["objective"] == pytest.approx(253)
    assert summary["kpis"]["price_of_fairness"] == pytest.approx(53)
    assert "region A's transport capacity in week 0" in summary["kpis"]["explain"]["lowest_held_by"]


def test_leximin_and_maxmin_agree_when_only_the_central_stock_binds(tmp_path):
    """Supply 90 for needs 100 and 50 (pack 1): one level, 0.6, held by the central supply."""
    doc = {"institutions": inst_rows(("H", "cure", "hospital", "R", 1), ("N", "care", "nursing_home", "R", 1)),
           "needs": [{"institution": "H", "product": "m", "period": 0, "need": 100},
                     {"institution": "N", "product": "m", "period": 0, "need": 50}],
           "supply": [{"product": "m", "period": 0, "quantity": 90}],
           "products": [{"id": "m"}]}
    _, res, summary, _ = solved(tmp_path, doc)
    assert [(lv["fill_rate"], lv["pairs"]) for lv in summary["kpis"]["levels"]] == [(pytest.approx(0.6), 2)]
    assert summary["kpis"]["levels"][0]["held_by"] == ["central supply of m up to week 0"]


# -- brute force ---------------------------------------------------------------------------------


def _max_use(need: list[float], stock0: float, delivered: list[float]) -> float:
    stock, total = stock0, 0.0
    for t, q in enumerate(need):
        stock += delivered[t]
        u = min(q, stock)
        total += u
        stock -= u
    return total


def brute_maxmin(d: AllocationData) -> float:
    """Best minimum fill rate over every whole-pack plan (no parity in these instances)."""
    keys = list(d.delivery_keys)
    ranges = [range(d.delivery_keys[k] + 1) for k in keys]
    best = -1.0
    for packs in itertools.product(*ranges):
        x = dict(zip(keys, packs))
        ok = True
        for p in d.products:
            sent = 0.0
            for t in range(d.T):
                sent += sum(n for (i, q, s), n in x.items() if q == p and s == t) * d.pack[p]
                if sent > d.cumulative_supply[p][t] + 1e-9:
                    ok = False
        for r in d.region_labels:
            cap = d.capacity(r)
            if cap is not None:
                for t in range(d.T):
                    if sum(n * d.pack[q] for (i, q, s), n in x.items() if s == t and d.region_of(i) == r) > cap + 1e-9:
                        ok = False
        if not ok:
            continue
        z = min(_max_use(d.need[k], d.stock0.get(k, 0.0),
                         [x.get((k[0], k[1], t), 0) * d.pack[k[1]] for t in range(d.T)]) / d.total_need[k]
                for k in d.pairs)
        best = max(best, z)
    return best


def lp_levels(d: AllocationData) -> list[float]:
    """Leximin levels by an independent LP (scipy, per-period use and stock) and a test LP per pair.

    Columns: deliveries x_ipt ≥ 0 (units, ≤ cap), use u_ipt ∈ [0, need]. Stock after t:
    stock0 + Σ_{τ≤t}(x − u) ≥ 0; central Σ_{τ≤t} x ≤ supply to t; region Σ x ≤ capacity.
    A pair is saturated at z when max f_k with every free pair ≥ z and held pairs ≥ level is ≤ z.
    """
    pairs, T = d.pairs, d.T
    nx = len(pairs) * T
    n = 2 * nx + 1  # x, u, z
    xi = {(k, t): a * T + t for a, k in enumerate(pairs) for t in range(T)}
    ui = {(k, t): nx + a * T + t for a, k in enumerate(pairs) for t in range(T)}
    bounds = []
    for k in pairs:
        for t in range(T):
            cap = d.settings.max_delivery_periods
            bounds.append((0, None if cap is None else cap * d.need[k][t]))
    for k in pairs:
        bounds.extend((0, d.need[k][t]) for t in range(T))
    bounds.append((0, 1))
    A, b = [], []

    def row(coefs, rhs):
        r = np.zeros(n)
        for c, v in coefs:
            r[c] += v
        A.append(r); b.append(rhs)

    for k in pairs:
        for t in range(T):  # use ≤ stock: Σ u − Σ x ≤ stock0
            row([(ui[(k, s)], 1) for s in range(t + 1)] + [(xi[(k, s)], -1) for s in range(t + 1)], d.stock0.get(k, 0.0))
    for p in d.products:
        for t in range(T):
            row([(xi[(k, s)], 1) for k in pairs if k[1] == p for s in range(t + 1)], d.cumulative_supply[p][t])
    for r_ in d.region_labels:
        cap = d.capacity(r_)
        if cap is not None:
            for t in range(T):
                row([(xi[(k, t)], 1) for k in pairs if d.region_of(k[0]) == r_], cap)

    def fill(k):
        return [(ui[(k, t)], 1 / d.total_need[k]) for t in range(T)]

    held: dict = {}
    levels = []
    while len(held) < len(pairs):
        A2, b2 = list(A), list(b)
        free = [k for k in pairs if k not in held]

        def add(coefs, rhs):
            r = np.zeros(n)
            for c, v in coefs:
                r[c] += v
            A2.append(r); b2.append(rhs)

        for k in free:  # z − f_k ≤ 0
            add([(n - 1, 1)] + [(c, -v) for c, v in fill(k)], 0)
        for k, lv in held.items():  # − f_k ≤ − level
            add([(c, -v) for c, v in fill(k)], -lv + 1e-9)
        c = np.zeros(n); c[-1] = -1
        res = linprog(c, A_ub=np.array(A2), b_ub=np.array(b2), bounds=bounds, method="highs")
        z = -res.fun
        levels.append(z)
        for k in free:  # the test LP: can k rise above z while every other free pair keeps z?
            A3, b3 = list(A2), list(b2)
            r = np.zeros(n); r[-1] = -1; A3.append(r); b3.append(-z + 1e-9)  # z ≥ z*
            c = np.zeros(n)
            for col, v in fill(k):
                c[col] = -v
            top = -linprog(c, A_ub=np.array(A3), b_ub=np.array(b3), bounds=bounds, method="highs").fun
            if top <= z + 1e-7:
                held[k] = z
        assert any(k in held for k in free), "progressive filling made no progress"
    return levels


@st.composite
def tiny(draw):
    T = draw(st.integers(1, 2))
    n = draw(st.integers(2, 3))
    regions = ["A", "B"]
    rows = [{"id": f"I{k}", "sector": draw(st.sampled_from(["cure", "care"])), "type": "t",
             "region": draw(st.sampled_from(regions)), "priority": draw(st.sampled_from([1, 2]))} for k in range(n)]
    pack = draw(st.sampled_from([1, 2, 5]))
    needs = [{"institution": r["id"], "product": "m", "period": t, "need": draw(st.integers(1, 9))}
             for r in rows for t in range(T)]
    supply = [{"product": "m", "period": t, "quantity": draw(st.integers(0, 14))} for t in range(T)]
    reg = [{"id": "A", "capacity": draw(st.one_of(st.none(), st.integers(0, 10)))}, {"id": "B"}]
    return {"periods": T, "institutions": rows, "needs": needs, "supply": supply,
            "products": [{"id": "m", "pack_size": pack}], "regions": reg}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=tiny())
def test_maxmin_equals_brute_force_and_leximin_levels_equal_an_independent_lp(tmp_path, doc):
    mm = {**doc, "settings": {"fairness": "maxmin"}}
    inst, _, summary, _ = solved(tmp_path, mm)
    best = brute_maxmin(AllocationData(inst))
    assert summary["status"] == "optimal"
    assert summary["kpis"]["min_fill_rate"] == pytest.approx(best, abs=1e-6)
    inst, _, summary, tables = solved(tmp_path, doc)
    expected = lp_levels(AllocationData(inst))
    got = [lv["fill_rate"] for lv in summary["kpis"]["levels"]]
    # the engine merges equal levels found by one LP; the test LP finds them one value at a time
    assert sorted(set(np.round(got, 6))) == sorted(set(np.round(expected, 6)))


@st.composite
def small(draw):
    doc = draw(tiny())
    if draw(st.booleans()):
        doc["settings"] = {"max_delivery_periods": draw(st.sampled_from([1.0, 1.5]))}
    return doc


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=small())
def test_leximin_levels_are_lexicographically_at_least_maxmins_fill_rates(tmp_path, doc):
    """The maxmin plan is a plan with fractional packs too, so the leximin levels (sorted per
    pair) are lexicographically ≥ its sorted fill rates; and each leximin pair is within one
    pack of its level."""
    settings_ = doc.get("settings", {})
    inst, res_mm, _, _ = solved(tmp_path, {**doc, "settings": {**settings_, "fairness": "maxmin"}})
    _, res_lx, summary, _ = solved(tmp_path, doc)
    d = AllocationData(inst)
    lx = res_lx.tables["fill"]
    levels = sorted(lx["level_fill_rate"].astype(float))
    mm = sorted(res_mm.tables["fill"]["fill_rate"].astype(float))
    for a, b in zip(levels, mm):
        if abs(a - b) > 1e-7:
            assert a > b
            break
    for r in lx.itertuples():
        assert r.fill_rate >= r.level_fill_rate - d.pack[r.product] / d.total_need[(r.institution, r.product)] - 1e-7


# -- time limit ------------------------------------------------------------------------------------


def _generated(tmp_path, size="medium"):
    from benchmarks.generators import generate, write_instance

    doc, tables = generate("allocation", size, 1)
    return write_instance(tmp_path / size, doc, tables)


def test_time_limit_covers_every_step_and_keeps_a_plan(tmp_path):
    """A limit far too short for every step: a plan is still written (status feasible, exit 0),
    the steps cut are named, the run ends near the limit, and the checker accepts the plan."""
    import resource

    from stockpile.loader import load

    inst = load(_generated(tmp_path))
    cpu0 = resource.getrusage(resource.RUSAGE_SELF).ru_utime
    res = api.solve(inst, time_limit=1.0, threads=1)
    cpu = resource.getrusage(resource.RUSAGE_SELF).ru_utime - cpu0
    assert res.status.value == "feasible" and res.exit_code == 0
    assert res.kpis["steps_cut"], "a step must say it was cut"
    assert res.solve_seconds >= sum(float(s) for s in res.tables["steps"]["seconds"]) - 1e-6
    res.write(tmp_path / "out")
    summary, tables = api.read_results(tmp_path / "out")
    assert check_results(inst, summary, tables) == []
    # building the matrix and writing the tables come on top of the limit: seconds of CPU here
    # (CPU, not wall: the test machine may be shared)
    assert cpu < 1.0 + 20


# -- the checker: tampering -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def region_result(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("region")
    return solved(tmp, REGION_DOC)


def _copy(tables):
    return {k: v.copy() for k, v in tables.items()}


def test_checker_catches_a_shortage_set_to_zero(region_result):
    inst, _, summary, tables = region_result
    bad = _copy(tables)
    row = bad["usage"].index[bad["usage"]["shortage"].astype(float) > 0][0]
    bad["usage"].loc[row, "shortage"] = "0"
    assert any("shortage" in v for v in check_allocation(inst, summary, bad))


@pytest.mark.parametrize("table", ["regions", "levels", "deliveries", "usage", "fill", "sectors", "types",
                                   "central", "transport", "comparison", "steps"])
def test_checker_catches_a_deleted_table(region_result, table):
    inst, _, summary, tables = region_result
    bad = _copy(tables)
    del bad[table]
    assert f"missing result table {table}.csv" in " ".join(check_allocation(inst, summary, bad))


@pytest.mark.parametrize("kpi", ["units_used", "units_needed", "units_delivered", "fill_rate", "min_fill_rate",
                                 "weighted_shortage", "efficient_weighted_shortage", "baseline_fill_rate_care",
                                 "lp_min_fill_rate"])
def test_checker_catches_a_doubled_kpi(region_result, kpi):
    inst, _, summary, tables = region_result
    wrong = copy.deepcopy(summary)
    wrong["kpis"][kpi] = 2 * float(wrong["kpis"][kpi]) + 1e-3
    assert any(kpi in v for v in check_allocation(inst, wrong, tables))


def test_checker_catches_tampered_levels(region_result):
    inst, _, summary, tables = region_result
    bad = _copy(tables)
    bad["levels"].loc[0, "slack"] = "5"
    assert any("slack" in v for v in check_allocation(inst, summary, bad))
    bad = _copy(tables)
    bad["levels"].loc[bad["levels"]["level"] == "2", "pairs"] = "3"
    assert any("level 2" in v for v in check_allocation(inst, summary, bad))
    wrong = copy.deepcopy(summary)
    wrong["kpis"]["levels"][1]["fill_rate"] = 0.9
    assert any("kpi levels" in v for v in check_allocation(inst, wrong, tables))
    bad = _copy(tables)  # a pair pushed more than one pack below its level
    fill = bad["fill"]
    row = fill.index[fill["institution"] == "b2"][0]
    fill.loc[row, "level_fill_rate"] = "0.9"
    assert check_allocation(inst, summary, bad)


# -- elastic ------------------------------------------------------------------------------------------


def test_elastic_changes_nothing_for_allocation(tmp_path):
    """Needs are soft already (shortage): elastic mode gives the same plan and an empty shortfall table."""
    _, res, summary, _ = solved(tmp_path, REGION_DOC)
    doc = {**REGION_DOC, "settings": {"elastic": True, "shortfall_penalty": {"needs": 5}}}
    _, res_e, summary_e, tables_e = solved(tmp_path, doc)
    assert summary_e["objective"] == pytest.approx(summary["objective"])
    assert fills(res_e) == pytest.approx(fills(res))
    assert summary_e["kpis"]["elastic"] is True and summary_e["kpis"]["total_shortfall"] == 0
    assert len(tables_e["shortfall"]) == 0 and "short" in tables_e["shortfall"].columns
