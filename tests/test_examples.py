"""Regression: every shipped example solves to its recorded objective and passes the checker."""

from __future__ import annotations

import pytest

import stockpile as sp
from stockpile.examples import examples

# a plan (kind: plan) records each step's objective instead; tests/test_plan.py solves it
CASES = [e for e in examples() if e.expected and not e.expected.get("slow") and e.kind != "plan"]


def test_every_example_has_a_readme_and_an_expected_objective():
    for example in examples():
        assert (example.folder / "README.md").is_file(), example.name
        known = "steps" if example.kind == "plan" else "objective"
        assert known in example.expected, f"{example.name} lacks expected.yaml"


@pytest.mark.parametrize("example", CASES, ids=[e.name for e in CASES])
def test_example_solves_to_its_known_objective(example, tmp_path):
    inst = sp.load(example.file)
    gap = float(example.expected.get("mip_gap", 1e-4))
    result = sp.solve(inst, mip_gap=gap, time_limit=example.expected.get("time_limit"))
    assert result.status.value in ("optimal", "feasible")
    known = float(example.expected["objective"])
    # both solves are within `gap` of the true optimum, so they are within 2·gap of each other
    assert result.objective == pytest.approx(known, rel=2 * gap + 1e-9, abs=1e-6)
    result.write(tmp_path)
    assert sp.check(inst, tmp_path) == []
