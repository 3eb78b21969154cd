"""The Pyomo -> HiGHS hand-off: values, statuses, duals, offsets, integrality."""

from __future__ import annotations

import pyomo.environ as pyo
import pytest

from stockpile.solver import SolveOptions, Status, solve_model

QUIET = SolveOptions(progress=False)


def test_lp_values_objective_offset_and_duals():
    # min 3x + 2y + 10  s.t.  x + y >= 4,  x <= 3.5,  0 <= y <= 1,  0 <= x - y <= 2.5
    # y is cheaper but capped at 1, so y = 1 and x = 3 (cover binds); objective 9 + 2 + 10 = 21.
    # One more unit of cover (rhs 4 -> 5) is bought as x at 3: dual 3. cap and band are slack.
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, None))
    m.y = pyo.Var(bounds=(0, 1))
    m.cover = pyo.Constraint(expr=m.x + m.y >= 4)
    m.cap = pyo.Constraint(expr=m.x <= 3.5)
    m.band = pyo.Constraint(expr=pyo.inequality(0, m.x - m.y, 2.5))
    m.obj = pyo.Objective(expr=3 * m.x + 2 * m.y + 10)
    sol = solve_model(m, QUIET)
    assert sol.status is Status.OPTIMAL
    assert pyo.value(m.x) == pytest.approx(3) and pyo.value(m.y) == pytest.approx(1)
    assert sol.objective == pytest.approx(21)
    assert sol.mip_gap == 0
    # d obj / d rhs: one more unit to cover costs 3 (x) ...
    assert sol.dual(m.cover) == pytest.approx(3)
    # ... and the slack cap and band rows have no value
    assert sol.dual(m.cap) == pytest.approx(0)
    assert sol.dual(m.band) == pytest.approx(0)


def test_dual_of_a_binding_upper_limit_is_negative():
    # max-style saving: min -5x s.t. x <= 2 (budget); one more unit of budget saves 5.
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, None))
    m.budget = pyo.Constraint(expr=m.x <= 2)
    m.obj = pyo.Objective(expr=-5 * m.x)
    sol = solve_model(m, QUIET)
    assert sol.dual(m.budget) == pytest.approx(-5)


def test_mip_rounds_integers_and_reports_the_bound():
    # knapsack: max 5a + 4b + 3c, 2a + 3b + c <= 4, binaries -> a + c = 8 (a+b weight 5 > 4)
    m = pyo.ConcreteModel()
    m.v = pyo.Var(["a", "b", "c"], domain=pyo.Binary)
    m.cap = pyo.Constraint(expr=2 * m.v["a"] + 3 * m.v["b"] + m.v["c"] <= 4)
    m.obj = pyo.Objective(expr=-(5 * m.v["a"] + 4 * m.v["b"] + 3 * m.v["c"]))
    sol = solve_model(m, QUIET)
    assert sol.status is Status.OPTIMAL
    assert [m.v[k].value for k in "abc"] == [1, 0, 1]
    assert sol.objective == pytest.approx(-8)
    assert sol.bound == pytest.approx(-8)
    assert sol.num_int == 3
    with pytest.raises(ValueError):
        sol.dual(m.cap)


def test_infeasible_and_unbounded_are_told_apart():
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, 1))
    m.c = pyo.Constraint(expr=m.x >= 2)
    m.obj = pyo.Objective(expr=m.x)
    assert solve_model(m, QUIET).status is Status.INFEASIBLE

    u = pyo.ConcreteModel()
    u.x = pyo.Var(bounds=(0, None))
    u.c = pyo.Constraint(expr=u.x >= 1)
    u.obj = pyo.Objective(expr=-u.x)
    assert solve_model(u, QUIET).status is Status.UNBOUNDED


def test_model_with_only_constant_objective_is_optimal():
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, 1))
    m.c = pyo.Constraint(expr=m.x <= 1)
    m.obj = pyo.Objective(expr=7.0)
    sol = solve_model(m, QUIET)
    assert sol.status is Status.OPTIMAL and sol.objective == pytest.approx(7)


def test_time_limit_without_solution_is_an_error_status():
    # A zero time limit stops HiGHS before it finds anything for a MIP with no trivial point.
    m = pyo.ConcreteModel()
    m.v = pyo.Var(range(30), domain=pyo.NonNegativeIntegers, bounds=(0, 10))
    m.c = pyo.Constraint(expr=sum((i % 7 + 2) * m.v[i] for i in range(30)) == 97)
    m.obj = pyo.Objective(expr=sum((i % 5 + 1) * m.v[i] for i in range(30)))
    sol = solve_model(m, SolveOptions(time_limit=0.0, progress=False))
    assert sol.status in (Status.ERROR, Status.FEASIBLE)
    if sol.status is Status.FEASIBLE:
        assert sol.objective is not None and sol.mip_gap is not None


def test_feasibility_relaxation_names_the_constraints_to_bend():
    # x1 + x2 = 14 with both at most 5: the demand row must bend by 4 (to 10).
    from stockpile.solver import feasibility_relaxation

    m = pyo.ConcreteModel()
    m.x = pyo.Var([1, 2], bounds=(0, 5))
    m.demand = pyo.Constraint(expr=m.x[1] + m.x[2] == 14)
    m.obj = pyo.Objective(expr=m.x[1] + 2 * m.x[2])
    assert feasibility_relaxation(m, QUIET) == [("demand", pytest.approx(4))]


def test_pipeline_falls_back_to_the_relaxation_when_no_rule_explains(monkeypatch):
    from stockpile import pipeline
    from stockpile.instance import Instance
    from stockpile.pipeline import Extracted

    def build(_):
        m = pyo.ConcreteModel()
        m.x = pyo.Var(bounds=(0, 1))
        m.floor = pyo.Constraint(expr=m.x >= 3)
        m.obj = pyo.Objective(expr=m.x)
        return m

    inst = Instance(kind="sourcing", name="t", settings=None, tables={})
    result = pipeline.run(inst, QUIET, build, lambda *a: Extracted({}), lambda _: None)
    assert result.status is Status.INFEASIBLE and result.exit_code == 1
    assert "floor (by 2)" in result.reason


def test_changing_the_thread_count_between_solves_in_one_process():
    # HiGHS sizes one thread pool per process; a later solve with another count must still run.
    m = pyo.ConcreteModel()
    m.v = pyo.Var(["a", "b"], domain=pyo.Binary)
    m.c = pyo.Constraint(expr=m.v["a"] + m.v["b"] <= 1)
    m.obj = pyo.Objective(expr=-(2 * m.v["a"] + 3 * m.v["b"]))
    for threads in (2, 1, None, 1):
        sol = solve_model(m, SolveOptions(threads=threads, progress=False))
        assert sol.status is Status.OPTIMAL and sol.objective == pytest.approx(-3)


def test_resolve_with_integers_fixed_prices_the_remaining_lp():
    # min 4n + x  s.t.  10n + x >= 25 (cover),  x <= 8 (cap),  n integer in [0, 5].
    # n = 2 needs x = 5: cost 13; n = 3 needs no x: cost 12 -> optimum n = 3, x = 0, obj 12.
    # With n fixed at 3 the LP has slack on cover (30 >= 25): dual 0; its objective is 12 again.
    from stockpile.solver import resolve_with_integers_fixed

    m = pyo.ConcreteModel()
    m.n = pyo.Var(domain=pyo.NonNegativeIntegers, bounds=(0, 5))
    m.x = pyo.Var(bounds=(0, 8))
    m.cover = pyo.Constraint(expr=10 * m.n + m.x >= 25)
    m.obj = pyo.Objective(expr=4 * m.n + m.x)
    mip = solve_model(m, QUIET, keep=True)
    assert mip.objective == pytest.approx(12) and m.n.value == 3
    lp = resolve_with_integers_fixed(mip)
    assert lp.status is Status.OPTIMAL and lp.num_int == 0
    assert lp.objective == pytest.approx(12) and lp.dual(m.cover) == pytest.approx(0)

    # Tighter: cover 32 -> n = 3 and x = 2 (obj 14) beats n = 4 (16); fixed at n = 3 the
    # cover row binds and each extra unit of cover costs one more x: dual 1.
    m.cover.set_value(10 * m.n + m.x >= 32)
    mip = solve_model(m, QUIET, keep=True)
    assert mip.objective == pytest.approx(14)
    assert resolve_with_integers_fixed(mip).dual(m.cover) == pytest.approx(1)
    with pytest.raises(ValueError):
        resolve_with_integers_fixed(solve_model(m, QUIET))
