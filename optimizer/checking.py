"""The independent solution checker: re-verify a solution from its written files alone.

Nothing here imports Pyomo or the formulations; each model's `check` recomputes its
rules and objective from the instance data and the output tables.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Iterable

import pandas as pd

from .errors import InputError, Problem
from .instance import Instance

STATUSES = ("optimal", "feasible", "infeasible", "unbounded", "error")
SUMMARY_KEYS = ("kind", "name", "status", "objective", "objective_terms", "mip_gap", "solve_seconds", "kpis")

# Tolerances: HiGHS works to 1e-6 primal feasibility (scaled); CSVs round-trip floats exactly.
ABS_TOL = 1e-5
REL_TOL = 1e-6


def tol(*magnitudes: float) -> float:
    """Allowed slack for comparing quantities of the given magnitudes."""
    scale = max([1.0, *[abs(m) for m in magnitudes if m is not None and math.isfinite(m)]])
    return max(ABS_TOL, REL_TOL * scale)


def close(a: float, b: float, slack: float | None = None) -> bool:
    return abs(a - b) <= (slack if slack is not None else tol(a, b))


def read_results(folder: str | Path) -> tuple[dict, dict[str, pd.DataFrame]]:
    """summary.json and every CSV of a results folder (ids kept as text)."""
    folder = Path(folder)
    path = folder / "summary.json"
    if not path.is_file():
        raise InputError(Problem(f"no summary.json in {folder}"))
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(Problem(f"invalid JSON at line {exc.lineno}: {exc.msg}", file=str(path))) from None
    tables = {}
    for csv in sorted(folder.glob("*.csv")):
        tables[csv.stem] = pd.read_csv(csv, dtype=str, keep_default_na=False)
    return summary, tables


def numeric(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    """A copy with the given text columns parsed as numbers (empty cells -> NaN)."""
    frame = frame.copy()
    for col in columns:
        if col in frame:
            frame[col] = pd.to_numeric(frame[col].replace("", None), errors="coerce").astype(float)
    return frame


def require_tables(tables: dict[str, pd.DataFrame], needed: dict[str, Iterable[str]]) -> list[str]:
    """Violations for missing tables or columns."""
    out = []
    for name, columns in needed.items():
        if name not in tables:
            out.append(f"missing result table {name}.csv")
            continue
        missing = [c for c in columns if c not in tables[name].columns]
        if missing:
            out.append(f"{name}.csv lacks column(s) {', '.join(missing)}")
    return out


def compare_objective(summary: dict, recomputed: dict[str, float]) -> list[str]:
    """Violations where the summary's objective terms or total differ from the recomputed ones."""
    out = []
    terms = summary.get("objective_terms") or {}
    for name, value in recomputed.items():
        if name not in terms:
            out.append(f"objective_terms lacks '{name}'")
        elif not close(float(terms[name]), value, tol(value, summary["objective"])):
            out.append(f"objective term {name}: summary {terms[name]:,.6f}, recomputed {value:,.6f}")
    total = sum(recomputed.values())
    if not close(total, summary["objective"], tol(total, summary["objective"])):
        out.append(f"objective {summary['objective']:,.6f} but the tables give {total:,.6f}")
    return out


def check_results(instance: Instance, summary: dict, tables: dict[str, pd.DataFrame]) -> list[str]:
    """Generic summary checks, then the model's own rules."""
    out = [f"summary.json lacks '{k}'" for k in SUMMARY_KEYS if k not in summary]
    if out:
        return out
    if summary["kind"] != instance.kind:
        return [f"summary is for kind {summary['kind']}, the instance is {instance.kind}"]
    if summary["status"] not in STATUSES:
        return [f"unknown status '{summary['status']}'"]
    if summary["status"] not in ("optimal", "feasible"):
        return []  # nothing to verify: no plan was written
    objective = summary["objective"]
    terms = summary["objective_terms"] or {}
    if objective is None or not isinstance(objective, (int, float)):
        return ["status says a solution exists but objective is missing"]
    total = sum(float(v) for v in terms.values())
    if not close(total, objective):
        out.append(f"objective_terms add up to {total:,.6f}, not the objective {objective:,.6f}")
    out.extend(instance.model.check(instance, summary, tables))
    return out
