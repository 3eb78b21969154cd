"""Column-wise validation gives exactly the records of row-by-row validation, or steps aside."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

import stockpile as sp
from stockpile.models.allocation.schema import Institution
from stockpile.models.rotation.schema import Product as RotationProduct
from stockpile.models.sourcing.schema import Product as SourcingProduct
from stockpile import columns

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ["sourcing-nl-ppe", "sourcing-eu-gloves", "ironstock-nl", "rotation-nl-reserve", "allocation-nl-crisis"]

CELLS = st.one_of(
    st.sampled_from(["0", "1", "2", "3", "0.5", "1e3", "-1", "1.5", "7", "", " 4", "1_000", "nan", "inf", "abc",
                     "1e400", "2.0", "+3", ".5", "5.", "1e-3", "2027-01-04", "cure", "care", "x"]),
    st.integers(-3, 10), st.floats(-2, 10), st.just(float("nan")), st.none(), st.booleans(),
)


def rows_of(draw_rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if v is not None} for row in draw_rows]


def per_row(rows, model):
    try:
        return [model(**row) for row in rows]
    except ValidationError:
        return None


@pytest.mark.parametrize("model, names", [
    (SourcingProduct, ["id", "demand", "shortage_penalty", "min_suppliers", "max_suppliers",
                       "max_supplier_share", "min_award_share", "notes"]),
    (RotationProduct, ["id", "target", "min_remaining_life", "shelf_life", "unit_cost", "lot_size"]),
    (Institution, ["id", "sector", "type", "region", "priority"]),
])
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_column_path_equals_row_path_or_steps_aside(model, names, data):
    n = data.draw(st.integers(1, 6))
    rows = rows_of([{name: data.draw(CELLS) for name in names} for _ in range(n)])
    rows = [{**row, "id": f"r{i}"} for i, row in enumerate(rows)] if data.draw(st.booleans()) else rows
    fast = columns.validate(rows, model, min_rows=0)
    slow = per_row(rows, model)
    if fast is None:
        return  # stepped aside: the row path decides, with its own messages
    assert slow is not None, rows  # never accepts what the row path rejects
    assert fast == slow
    for a, b in zip(fast, slow):
        assert [type(v) for v in a.__dict__.values()] == [type(v) for v in b.__dict__.values()]
        assert a.__pydantic_fields_set__ == b.__pydantic_fields_set__
        assert a.model_dump() == b.model_dump()


@pytest.mark.parametrize("example", EXAMPLES)
def test_shipped_examples_load_the_same_both_ways(monkeypatch, example):
    path = ROOT / "instances" / example / "instance.yaml"
    monkeypatch.setattr(columns, "MIN_ROWS", 0)
    fast = sp.load(path)
    monkeypatch.setattr(columns, "validate", lambda rows, model, min_rows=None: None)
    slow = sp.load(path)
    assert fast.tables == slow.tables


def test_large_csv_takes_the_column_path(tmp_path, monkeypatch):
    rows = "".join(f"i{i},{'cure' if i % 2 else 'care'},hospital,R{i % 3},{1 + i % 4}\n" for i in range(3000))
    (tmp_path / "institutions.csv").write_text("id,sector,type,region,priority\n" + rows)
    (tmp_path / "instance.yaml").write_text(
        "kind: allocation\nperiods: 1\ninstitutions: {file: institutions.csv}\n"
        "needs: [{institution: i0, product: p, period: 0, need: 1}]\n"
        "supply: [{product: p, period: 0, quantity: 1}]\nproducts: [{id: p}]\n")
    used = []
    original = columns._construct
    monkeypatch.setattr(columns, "_construct", lambda *a: used.append(1) or original(*a))
    inst = sp.load(tmp_path / "instance.yaml")
    assert used and len(inst["institutions"]) == 3000
    assert inst["institutions"][5].priority == 2.0 and inst["institutions"][5].sector == "cure"
