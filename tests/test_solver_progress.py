"""Progress lines while a MIP runs: HiGHS's callback reports the best plan, bound and gap."""

from __future__ import annotations

import pyomo.environ as pyo

from stockpile.solver import SolveOptions, solve_model


def knapsack(n: int = 40) -> pyo.ConcreteModel:
    """A small MIP with a non-trivial search (weights and values differ per item)."""
    m = pyo.ConcreteModel()
    m.i = pyo.RangeSet(n)
    m.x = pyo.Var(m.i, domain=pyo.Binary)
    m.cap = pyo.Constraint(expr=sum((7 * i % 23 + 5) * m.x[i] for i in m.i) <= 150)
    m.obj = pyo.Objective(expr=sum((11 * i % 19 + 3) * m.x[i] for i in m.i), sense=pyo.maximize)
    return m


def test_progress_lines_name_best_plan_bound_and_gap(monkeypatch):
    import stockpile.solver as solver

    lines: list[str] = []
    real = solver.watch_progress
    monkeypatch.setattr(solver, "watch_progress", lambda h, report, every=0.0: real(h, report, every=0.0))
    sol = solve_model(knapsack(), SolveOptions(threads=1), report=lines.append)
    assert sol.status.value == "optimal"
    assert lines, "the callback never reported"
    assert all(("best plan so far" in s and "bound" in s and "gap" in s) or s.startswith("no plan yet")
               for s in lines)


def test_no_report_without_a_listener_and_for_an_lp():
    m = knapsack()
    lp = pyo.TransformationFactory("core.relax_integer_vars").create_using(m)
    lines: list[str] = []
    sol = solve_model(lp, SolveOptions(threads=1), report=lines.append)
    assert sol.status.value == "optimal" and lines == []
