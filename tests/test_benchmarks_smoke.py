"""Smoke test of the benchmark runner: smallest size, real subprocesses, no timed assertions."""

from __future__ import annotations

import csv
import filecmp
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # benchmarks/ is a folder of the repository, not an installed package
    sys.path.insert(0, str(ROOT))

from benchmarks.__main__ import COLUMNS  # noqa: E402
from benchmarks.generators import KINDS, SIZE_NAMES, SIZES, generate, prepare  # noqa: E402
from benchmarks.generators import write_instance as write_generated  # noqa: E402
from stockpile import api  # noqa: E402


def _run(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "benchmarks", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def test_every_model_has_every_size():
    for kind in KINDS:
        assert tuple(SIZES[kind]) == SIZE_NAMES


def test_generators_are_deterministic_and_valid(tmp_path):
    """Same seed -> byte-identical files; every small instance passes the engine's validation."""
    for kind in KINDS:
        a = write_generated(tmp_path / f"{kind}-a", *generate(kind, "small", 3))
        b = write_generated(tmp_path / f"{kind}-b", *generate(kind, "small", 3))
        names = sorted(p.name for p in a.parent.iterdir())
        assert names == sorted(p.name for p in b.parent.iterdir())
        _, mismatch, errors = filecmp.cmpfiles(a.parent, b.parent, names, shallow=False)
        assert not mismatch and not errors
        inst = api.load(a)
        assert inst.kind == kind and all(len(inst[t]) > 0 for t in ("products",))
    other = write_generated(tmp_path / "sourcing-c", *generate("sourcing", "small", 4))
    assert (other.parent / "offers.csv").read_text() != (tmp_path / "sourcing-a" / "offers.csv").read_text()


def test_runner_writes_every_column(tmp_path):
    out = tmp_path / "results.csv"
    pulp = ["small"] if importlib.util.find_spec("pulp") else []
    proc = _run(["--models", "sourcing", "--sizes", "small", "--time-limit", "60", "--out", str(out),
                 "--work", str(tmp_path / "work"), "--pulp-sizes", *pulp])
    assert proc.returncode == 0, proc.stderr
    with open(out, newline="") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == COLUMNS
        rows = list(reader)
    engine = [r for r in rows if r["tool"] == "stockpile"]
    assert len(engine) == 1 and len(rows) == 1 + 2 * len(pulp)
    row = engine[0]
    assert row["model"] == "sourcing" and row["size"] == "small" and row["status"] == "optimal"
    for col in ("load_s", "build_s", "compile_s", "solve_s", "extract_s", "write_s", "engine_total_s",
                "engine_peak_mb", "highs_total_s", "ratio"):
        assert float(row[col]) >= 0, col
    # the HiGHS-alone floor solved the very model the engine handed over
    assert float(row["highs_objective"]) == pytest.approx(float(row["objective"]), rel=1e-3)
    for prow in (r for r in rows if r["tool"].startswith("pulp+")):
        # the PuLP model is the same MIP: same optimum within the gap
        assert prow["status"] == "optimal"
        assert float(prow["objective"]) == pytest.approx(float(row["objective"]), rel=2e-4)
    # a second run merges: same key replaced, not duplicated
    proc = _run(["--models", "sourcing", "--sizes", "small", "--no-floor", "--pulp-sizes", "--out", str(out),
                 "--work", str(tmp_path / "work")])
    assert proc.returncode == 0, proc.stderr
    with open(out, newline="") as fh:
        again = list(csv.DictReader(fh))
    assert len(again) == len(rows) and [r for r in again if r["tool"] == "stockpile"][0]["ratio"] == ""
    table = _run(["--table", "--out", str(out)])
    assert table.returncode == 0 and "| sourcing | small | stockpile |" in table.stdout


def test_prepare_reuses_a_complete_folder(tmp_path):
    path, dims = prepare("allocation", "small", 1, tmp_path)
    stamp = path.parent / ".complete"
    before = stamp.stat().st_mtime_ns
    again, dims2 = prepare("allocation", "small", 1, tmp_path)
    assert again == path and dims2 == dims and stamp.stat().st_mtime_ns == before
    assert "institutions=40" in dims
