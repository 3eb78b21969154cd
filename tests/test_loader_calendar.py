"""Calendar time: start_date, ISO dates for periods and expiries, the date column of results."""

from __future__ import annotations

import datetime as dt
import json

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

import stockpile as sp
from stockpile.calendar import first_day, period_of
from stockpile.cli import main
from stockpile.errors import InputError

START = "2027-01-04"  # a Monday; period k = the 7 days from 2027-01-04 + 7k


def rotation(**changes) -> dict:
    doc = {
        "kind": "rotation",
        "periods": 4,
        "start_date": START,
        "products": [{"id": "m", "target": 10, "min_remaining_life": 0, "shelf_life": 10, "unit_cost": 1}],
        "lots": [{"id": "L1", "product": "m", "quantity": 20, "expiry": "2027-01-20"}],
        "targets": [{"product": "m", "period": "2027-01-11", "target": 15}],
    }
    doc.update(changes)
    return doc


def problems(path) -> list[str]:
    with pytest.raises(InputError) as info:
        sp.load(path)
    return [str(p) for p in info.value.problems]


def test_dates_become_the_periods_that_contain_them(write_instance):
    inst = sp.load(write_instance(rotation()))
    assert inst.start_date == dt.date(2027, 1, 4)
    # 2027-01-20 is day 16 from the start: 16 // 7 = period 2; 2027-01-11 is day 7: period 1
    assert inst["lots"][0].expiry == 2
    assert inst["targets"][0].period == 1


@pytest.mark.parametrize("day, period", [("2027-01-04", 0), ("2027-01-10", 0), ("2027-01-11", 1),
                                         ("2027-01-31", 3)])
def test_period_boundaries(write_instance, day, period):
    inst = sp.load(write_instance(rotation(targets=[{"product": "m", "period": day, "target": 15}])))
    assert inst["targets"][0].period == period


def test_period_days_sets_the_length(write_instance):
    # 14-day periods: day 13 (2027-01-17) is period 0, day 14 (2027-01-18) period 1
    doc = rotation(period_days=14, targets=[{"product": "m", "period": "2027-01-17", "target": 1},
                                             {"product": "m", "period": "2027-01-18", "target": 2}])
    assert [t.period for t in sp.load(write_instance(doc))["targets"]] == [0, 1]


def test_date_before_the_start_or_past_the_horizon_is_invalid(write_instance):
    before = rotation(targets=[{"product": "m", "period": "2027-01-03", "target": 15}])
    (msg,) = problems(write_instance(before))
    assert "table 'targets'" in msg and "field 'period'" in msg and "before start_date 2027-01-04" in msg
    past = rotation(targets=[{"product": "m", "period": "2027-02-01", "target": 15}])
    (msg,) = problems(write_instance(past))
    assert "past the horizon (period 3 ends on 2027-01-31)" in msg


def test_an_expiry_may_lie_before_the_start_or_after_the_horizon(write_instance):
    doc = rotation(lots=[{"id": "old", "product": "m", "quantity": 5, "expiry": "2026-12-28"},
                         {"id": "new", "product": "m", "quantity": 5, "expiry": "2027-06-01"}])
    lots = sp.load(write_instance(doc))["lots"]
    # 2026-12-28 is 7 days before the start: period -1; 2027-06-01 is day 148: period 21
    assert [lot.expiry for lot in lots] == [-1, 21]


def test_a_date_needs_a_start_date(write_instance):
    doc = rotation()
    del doc["start_date"]
    msgs = problems(write_instance(doc))
    assert any("the date 2027-01-20 needs a top-level start_date" in m and "table 'lots'" in m for m in msgs)


@pytest.mark.parametrize("bad", ["2027-02-30", "next monday", 5])
def test_start_date_must_be_an_iso_date(write_instance, bad):
    msgs = problems(write_instance(rotation(start_date=bad)))
    assert any("field 'start_date'" in m for m in msgs)


def test_a_date_that_does_not_exist_is_invalid(write_instance):
    (msg,) = problems(write_instance(rotation(targets=[{"product": "m", "period": "2027-02-30", "target": 1}])))
    assert "'2027-02-30' is not a date" in msg and "row 1" in msg


def test_start_date_applies_to_models_with_periods_only(write_instance):
    doc = {"kind": "sourcing", "start_date": START, "products": [{"id": "a", "demand": 1}],
           "suppliers": [{"id": "s", "region": "EU"}], "offers": [{"supplier": "s", "product": "a", "unit_price": 1}]}
    (msg,) = problems(write_instance(doc))
    assert "'start_date' does not apply to kind sourcing" in msg


def test_dates_in_csv_xlsx_and_json(tmp_path):
    (tmp_path / "lots.csv").write_text("id,product,quantity,expiry\nL1,m,20,2027-01-20\n")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "targets"
    sheet.append(["product", "period", "target"])
    sheet.append(["m", dt.datetime(2027, 1, 11), 15])
    book.save(tmp_path / "targets.xlsx")
    doc = rotation(lots={"file": "lots.csv"}, targets={"file": "targets.xlsx"})
    path = tmp_path / "instance.json"
    path.write_text(json.dumps(doc))
    inst = sp.load(path)
    assert inst["lots"][0].expiry == 2 and inst["targets"][0].period == 1


def test_results_get_a_date_column_and_check_verifies_it(write_instance, tmp_path):
    path = write_instance(rotation())
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["solve", str(path), "--out", str(out), "--threads", "1"])
    assert result.exit_code == 0, result.output
    with_period = [csv for csv in out.glob("*.csv") if "period" in pd.read_csv(csv).columns]
    assert with_period
    for csv in with_period:
        frame = pd.read_csv(csv, dtype=str, keep_default_na=False)
        columns = list(frame.columns)
        assert columns[columns.index("period") + 1] == "date"
        for period, date in zip(frame["period"], frame["date"]):
            assert date == (dt.date(2027, 1, 4) + dt.timedelta(days=7 * int(period))).isoformat()
    checked = CliRunner().invoke(main, ["check", str(path), str(out)])
    assert checked.exit_code == 0, checked.output
    # a date moved by a day is caught
    csv = with_period[0]
    frame = pd.read_csv(csv, dtype=str, keep_default_na=False)
    right = frame.loc[0, "date"]
    frame.loc[0, "date"] = (dt.date.fromisoformat(right) + dt.timedelta(days=1)).isoformat()
    frame.to_csv(csv, index=False)
    checked = CliRunner().invoke(main, ["check", str(path), str(out)])
    assert checked.exit_code == 1 and f"expected '{right}'" in checked.output


def test_without_start_date_no_date_column(write_instance):
    doc = rotation(lots=[{"id": "L1", "product": "m", "quantity": 20, "expiry": 2}],
                   targets=[{"product": "m", "period": 1, "target": 15}])
    del doc["start_date"]
    result = sp.solve(sp.load(write_instance(doc)), threads=1)
    assert all("date" not in frame.columns for frame in result.tables.values())


def test_first_day_and_period_of_agree_for_fractional_lengths():
    start = dt.date(2027, 1, 1)
    for length in (1, 3.5, 7, 10.25, 30.4):
        for k in range(-5, 40):
            day = first_day(k, start, length)
            assert period_of(day, start, length) == k
            assert period_of(day - dt.timedelta(days=1), start, length) == k - 1
