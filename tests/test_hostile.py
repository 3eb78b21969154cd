"""Hostile and malformed input: refused quickly, with a located message and exit 2, never a
traceback or an internal error (issue 11 items 2-5)."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

import stockpile as sp
from stockpile.cli import main
from stockpile.errors import InputError

ROOT = Path(__file__).resolve().parent.parent
SOURCING = ROOT / "instances" / "sourcing-nl-ppe"

BASE_YAML = """kind: sourcing
products:
  - {id: mask, demand: 100}
suppliers:
  - {id: A, region: EU}
offers:
  - {supplier: A, product: mask, unit_price: 1.5}
"""


def messages(path) -> list[str]:
    with pytest.raises(InputError) as info:
        sp.load(path)
    return [str(p) for p in info.value.problems]


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def write(tmp_path: Path, text: str, name: str = "instance.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# -- item 2: hangs --------------------------------------------------------------------------


def test_yaml_alias_bomb_is_refused_quickly(tmp_path):
    levels = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    levels += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    text = BASE_YAML + "description: &d\n" + "\n".join("  " + line for line in levels) + "\n"
    path = write(tmp_path, text)
    start = time.perf_counter()
    (msg,) = messages(path)
    assert time.perf_counter() - start < 5
    assert "anchors and aliases expand to more than" in msg and "instance.yaml" in msg


def test_a_few_aliases_are_fine(tmp_path):
    text = BASE_YAML.replace("{id: A, region: EU}", "&sup {id: A, region: EU}") + "settings: {risk_weight: 1}\n"
    assert sp.load(write(tmp_path, text)).settings.risk_weight == 1


def test_threads_beyond_four_per_core_are_refused():
    result = cli("solve", SOURCING / "instance.yaml", "--out", "x", "--threads", "100000")
    assert result.exit_code == 2 and "threads" in result.output and "per core" in result.output


def test_time_limit_covers_building(tmp_path):
    """periods: 20000 builds for far longer than 1 s; the run ends at the limit + margin."""
    from stockpile.deadline import MARGIN_SECONDS

    folder = tmp_path / "big"
    shutil.copytree(ROOT / "instances" / "rotation-nl-reserve", folder)
    path = folder / "instance.yaml"
    path.write_text(path.read_text().replace("periods: 104", "periods: 20000"))
    start = time.monotonic()
    result = cli("solve", path, "--out", tmp_path / "out", "--threads", 1, "--time-limit", 1)
    elapsed = time.monotonic() - start
    assert result.exit_code == 3, result.output
    assert "time limit was reached before any plan was found" in result.output
    assert elapsed < 1 + MARGIN_SECONDS + 1.5  # the last second: a slow loaded machine
    assert not (tmp_path / "out").exists()


# -- item 3: internal errors that are invalid input ---------------------------------------------


@pytest.mark.parametrize("where", ["demand", "periods"])
@pytest.mark.parametrize("power", [350, 400])
def test_integer_too_large_for_a_float(tmp_path, where, power):
    big = str(10**power)
    if where == "demand":
        text = BASE_YAML.replace("demand: 100", f"demand: {big}")
    else:
        text = "kind: rotation\nperiods: " + big + "\nproducts:\n  - {id: m, target: 1, min_remaining_life: 0, " \
               "shelf_life: 5, unit_cost: 1}\n"
    (msg, *_) = messages(write(tmp_path, text))
    assert "instance.yaml" in msg
    assert any(words in msg for words in ("finite", "whole number of periods", "digits is too large"))
    assert big not in msg  # a 351-digit number is not echoed back


def test_integer_with_thousands_of_digits(tmp_path):
    (msg,) = messages(write(tmp_path, BASE_YAML.replace("demand: 100", "demand: " + "9" * 5000)))
    assert "5000 digits is too large" in msg and "line 3" in msg


def test_huge_csv_number_is_exit_2(tmp_path):
    shutil.copytree(SOURCING, tmp_path / "i")
    path = tmp_path / "i" / "products.csv"
    lines = path.read_text().splitlines()
    head, first = lines[0].split(","), lines[1].split(",")
    first[head.index("demand")] = "1e999"
    lines[1] = ",".join(first)
    path.write_text("\n".join(lines) + "\n")
    result = cli("validate", tmp_path / "i" / "instance.yaml")
    assert result.exit_code == 2, result.output
    assert "products.csv" in result.output and "field 'demand'" in result.output and "finite" in result.output


def test_csv_cell_longer_than_the_csv_default_is_read(tmp_path):
    notes = "x" * 200_000
    csv = f'id,demand,notes\nmask,100,"{notes}"\n'
    text = BASE_YAML.replace("products:\n  - {id: mask, demand: 100}\n", "products: {file: products.csv}\n")
    (tmp_path / "products.csv").write_text(csv)
    inst = sp.load(write(tmp_path, text))
    assert inst["products"][0].notes == notes


def test_csv_cell_beyond_the_limit_is_a_located_error(tmp_path, monkeypatch):
    import csv as csvmodule

    from stockpile import tablefiles

    monkeypatch.setattr(tablefiles, "MAX_CELL", 1000)
    old = csvmodule.field_size_limit(1000)
    try:
        (tmp_path / "products.csv").write_text(f'id,demand\nmask,100\nglove,"{"y" * 5000}"\n')
        text = BASE_YAML.replace("products:\n  - {id: mask, demand: 100}\n", "products: {file: products.csv}\n")
        (msg,) = messages(write(tmp_path, text))
    finally:
        csvmodule.field_size_limit(old)
    assert "products.csv" in msg and "row 2" in msg and "a cell longer than 1,000 characters" in msg


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_nesting_thousands_deep(tmp_path, suffix):
    deep = "[" * 5000 + "]" * 5000
    text = BASE_YAML + f"description: {deep}\n" if suffix == ".yaml" else \
        json.dumps({"kind": "sourcing"})[:-1] + f', "description": {deep}}}'
    (msg,) = messages(write(tmp_path, text, "instance" + suffix))
    assert "nested more than 100 levels deep" in msg


def test_symlink_loop_as_instance_and_as_table(tmp_path):
    loop = tmp_path / "loop.yaml"
    loop.symlink_to(loop)
    result = cli("validate", loop)
    assert result.exit_code == 2 and "symbolic link" in result.output
    (tmp_path / "t.csv").symlink_to(tmp_path / "t.csv")
    text = BASE_YAML.replace("products:\n  - {id: mask, demand: 100}\n", "products: {file: t.csv}\n")
    (msg,) = messages(write(tmp_path, text))
    assert "t.csv" in msg and "table 'products'" in msg


def test_over_long_file_names(tmp_path):
    long = "a" * 300
    result = cli("validate", tmp_path / f"{long}.yaml")
    assert result.exit_code == 2 and "File name too long" in result.output
    text = BASE_YAML.replace("products:\n  - {id: mask, demand: 100}\n", f"products: {{file: {long}.csv}}\n")
    (msg,) = messages(write(tmp_path, text))
    assert "table 'products'" in msg and "too long" in msg


# -- item 4: bad input accepted ---------------------------------------------------------------


def test_duplicate_top_level_key_names_both_lines(tmp_path):
    (msg,) = messages(write(tmp_path, BASE_YAML + "kind: rotation\n"))
    assert "key 'kind' appears twice" in msg and "lines 1 and 8" in msg


def test_duplicate_key_in_json(tmp_path):
    text = '{"kind": "sourcing",\n "settings": {},\n "settings": {"risk_weight": 2}}'
    (msg,) = messages(write(tmp_path, text, "instance.json"))
    assert "key 'settings' appears twice" in msg and "lines 2 and 3" in msg


@pytest.mark.parametrize("written", ["1_000", "0x64", "0o144", "1:40", "'1_000'", "infinity", "'nan'"])
def test_numbers_are_finite_decimals(tmp_path, written):
    (msg,) = messages(write(tmp_path, BASE_YAML.replace("demand: 100", f"demand: {written}")))
    assert "field 'demand'" in msg and "expected" in msg


@pytest.mark.parametrize("flag, value", [("--threads", "99999999999999999999"), ("--time-limit", "nan"),
                                         ("--time-limit", "inf"), ("--time-limit", "-1"), ("--mip-gap", "nan"),
                                         ("--mip-gap", "inf"), ("--mip-gap", "-1"), ("--mip-gap", "2"),
                                         ("--mip-gap", "1_000")])
def test_solver_flags_are_validated(tmp_path, flag, value):
    result = cli("solve", SOURCING / "instance.yaml", "--out", tmp_path / "o", flag, value)
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '{flag}'" in result.output
    assert not (tmp_path / "o").exists()


def test_solve_options_are_validated_in_the_api():
    for bad in (dict(threads=10**20), dict(time_limit=float("nan")), dict(mip_gap=2.0), dict(mip_gap=-1)):
        with pytest.raises(ValueError):
            sp.SolveOptions(**bad)


# -- item 5: valid input rejected ---------------------------------------------------------------


@pytest.mark.parametrize("char", ["\u2028", "\u0085", "\f", "\n"])
def test_quoted_cell_with_a_line_separator_keeps_its_row(tmp_path, char):
    csv = f'id,demand,notes\nmask,100,"first{char}second"\nglove,50,\n'
    (tmp_path / "products.csv").write_text(csv, encoding="utf-8", newline="")
    text = BASE_YAML.replace("products:\n  - {id: mask, demand: 100}\n", "products: {file: products.csv}\n")
    text += "  - {supplier: A, product: glove, unit_price: 2}\n"
    inst = sp.load(write(tmp_path, text))
    assert [p.id for p in inst["products"]] == ["mask", "glove"]
    assert inst["products"][0].notes == f"first{char}second"
    assert inst.origins["products"].lines == (2, 4 if char == "\n" else 3)  # where each record starts


def test_empty_required_sheet_is_reported_against_its_table(tmp_path):
    folder = tmp_path / "gloves"
    shutil.copytree(ROOT / "instances" / "sourcing-eu-gloves", folder)
    book = openpyxl.load_workbook(folder / "gloves.xlsx")
    sheet = book["offers"]
    sheet.delete_rows(2, sheet.max_row)
    book.save(folder / "gloves.xlsx")
    msgs = messages(folder / "instance.yaml")
    assert len(msgs) == 1 and "gloves.xlsx[offers]" in msgs[0] and "table 'offers'" in msgs[0]
    assert "has a header but no rows" in msgs[0]


def test_misspelled_header_is_one_error_not_one_per_row(tmp_path):
    rows = "".join(f"p{i},{i + 1}\n" for i in range(30))
    (tmp_path / "products.csv").write_text("id,demnad\n" + rows)
    text = BASE_YAML.replace("products:\n  - {id: mask, demand: 100}\n", "products: {file: products.csv}\n")
    msgs = messages(write(tmp_path, text))
    assert len(msgs) == 2
    assert "unknown column 'demnad' in the header (did you mean 'demand'?)" in msgs[0]
    assert "required column 'demand' is missing from the header" in msgs[1]


# -- check: a folder without a plan, a tampered status, missing tables ---------------------------


@pytest.fixture(scope="module")
def solved(tmp_path_factory):
    out = tmp_path_factory.mktemp("solved") / "out"
    result = cli("solve", SOURCING / "instance.yaml", "--out", out, "--threads", 1)
    assert result.exit_code == 0, result.output
    return out


def tampered(solved: Path, tmp_path: Path, **changes) -> Path:
    folder = tmp_path / "t"
    shutil.copytree(solved, folder)
    summary = json.loads((folder / "summary.json").read_text())
    summary.update(changes)
    (folder / "summary.json").write_text(json.dumps(summary))
    return folder


@pytest.mark.parametrize("status", ["infeasible", "error", "unbounded"])
def test_check_rejects_a_failed_status_beside_plan_tables(solved, tmp_path, status):
    folder = tampered(solved, tmp_path, status=status)
    result = cli("check", SOURCING / "instance.yaml", folder)
    assert result.exit_code == 1 and f"status is '{status}' but the folder holds the tables of a plan" in result.output


def test_check_on_a_folder_without_a_plan_says_so(solved, tmp_path):
    folder = tampered(solved, tmp_path, status="error", reason="the solver stopped", objective=None)
    for csv in folder.glob("*.csv"):
        csv.unlink()
    result = cli("check", SOURCING / "instance.yaml", folder)
    assert result.exit_code == 1
    assert "no plan to verify: the status is 'error' (the solver stopped)" in result.output
    assert "every rule holds" not in result.output


def test_check_reports_a_missing_listed_table(solved, tmp_path):
    folder = tampered(solved, tmp_path)
    listed = json.loads((folder / "summary.json").read_text())["tables"]
    (folder / listed[0]).unlink()
    result = cli("check", SOURCING / "instance.yaml", folder)
    assert result.exit_code == 1 and f"missing result table {listed[0]}" in result.output


@pytest.mark.parametrize("content", [b"\xff\xfe\x00garbage", b"[1, 2, 3]", b'"text"', b"[" * 5000 + b"]" * 5000])
def test_check_refuses_an_unreadable_summary(solved, tmp_path, content):
    folder = tampered(solved, tmp_path)
    (folder / "summary.json").write_bytes(content)
    result = cli("check", SOURCING / "instance.yaml", folder)
    assert result.exit_code == 2, result.output
    assert "summary.json" in result.output and "internal error" not in result.output


# -- the Python API -------------------------------------------------------------------------------


def test_load_accepts_a_dict_and_dataframes():
    import pandas as pd

    products = pd.DataFrame({"id": ["mask", "glove"], "demand": [100, 50], "shortage_penalty": [None, 2.0]})
    doc = {"kind": "sourcing", "products": products,
           "suppliers": [{"id": "A", "region": "EU"}],
           "offers": pd.DataFrame({"supplier": ["A", "A"], "product": ["mask", "glove"], "unit_price": [1.5, 2]})}
    inst = sp.load(doc)
    assert [(p.id, p.demand, p.shortage_penalty) for p in inst["products"]] == [("mask", 100, None),
                                                                              ("glove", 50, 2.0)]
    result = sp.solve(inst, threads=1)
    # mask 100 × 1.5 + glove 50 × 2 = 250
    assert result.objective == pytest.approx(250)


def test_load_of_a_dict_reports_problems_with_its_name():
    with pytest.raises(InputError) as info:
        sp.load({"kind": "sourcing", "products": [{"id": "m", "demand": -1}], "suppliers": [], "offers": []})
    assert any("<data>" in str(p) and "table 'products'" in str(p) for p in info.value.problems)


def test_pyomo_patch_falls_back_on_an_untested_release(monkeypatch):
    """On another Pyomo release the compiler runs unpatched and gives the same optimum."""
    from stockpile import solver

    inst = sp.load(SOURCING / "instance.yaml")
    patched = sp.solve(inst, threads=1).objective
    monkeypatch.setattr(solver, "PATCH_TESTED_PYOMO", ())
    assert not solver._patch_tested()
    assert sp.solve(inst, threads=1).objective == pytest.approx(patched, rel=1e-4)


def test_ctrl_c_stops_highs_and_raises_keyboard_interrupt():
    """A market-split MIP (hard for branch and bound) is stopped within seconds of SIGINT."""
    import _thread
    import threading

    import highspy
    import numpy as np

    from stockpile.solver import run_interruptible

    rng = np.random.default_rng(7)
    m, n = 6, 50
    a = rng.integers(0, 100, size=(m, n))
    rhs = a.sum(axis=1) // 2
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n + 2 * m, m
    lp.col_cost_ = np.r_[np.zeros(n), np.ones(2 * m)]
    lp.col_lower_ = np.zeros(n + 2 * m)
    lp.col_upper_ = np.r_[np.ones(n), np.full(2 * m, np.inf)]
    lp.row_lower_ = lp.row_upper_ = rhs.astype(float)
    dense = np.hstack([a, np.eye(m), -np.eye(m)])
    cols = [np.flatnonzero(dense[:, j]) for j in range(dense.shape[1])]
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.r_[0, np.cumsum([len(c) for c in cols])].astype(np.int32)
    lp.a_matrix_.index_ = np.concatenate(cols).astype(np.int32)
    lp.a_matrix_.value_ = np.concatenate([dense[c, j] for j, c in enumerate(cols)]).astype(float)
    lp.integrality_ = [highspy.HighsVarType.kInteger] * n + [highspy.HighsVarType.kContinuous] * (2 * m)
    h.passModel(lp)
    timer = threading.Timer(1.0, _thread.interrupt_main)
    start = time.monotonic()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        run_interruptible(h)
    assert time.monotonic() - start < 15
    assert h.getModelStatus() == highspy.HighsModelStatus.kInterrupt


def test_cli_exit_code_for_ctrl_c_is_130(monkeypatch):
    import stockpile.api

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(stockpile.api, "solve", interrupted)
    result = cli("solve", SOURCING / "instance.yaml", "--out", "never")
    assert result.exit_code == 130 and "interrupted" in result.output
    assert not os.path.exists("never")
