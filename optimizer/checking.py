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

from .calendar import first_day
from .documents import DocumentError, parse_json
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
    """summary.json and every CSV of a results folder (ids kept as text).

    A summary that is not a readable JSON object is invalid input (InputError)."""
    folder = Path(folder)
    path = folder / "summary.json"
    if not path.is_file():
        raise InputError(Problem(f"no summary.json in {folder}"))
    try:
        summary = parse_json(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(Problem(f"invalid JSON at line {exc.lineno}: {exc.msg}", file=str(path))) from None
    except UnicodeDecodeError as exc:
        raise InputError(Problem(f"not UTF-8 text (byte {exc.start})", file=str(path))) from None
    except DocumentError as exc:
        raise InputError(Problem(f"refused: {exc}", file=str(path))) from None
    except OSError as exc:
        raise InputError(Problem(f"cannot read: {exc.strerror or exc}", file=str(path))) from None
    if not isinstance(summary, dict):
        raise InputError(Problem("expected a JSON object (kind, status, objective, ...)", file=str(path)))
    tables = {}
    for csv in sorted(folder.glob("*.csv")):
        try:
            tables[csv.stem] = pd.read_csv(csv, dtype=str, keep_default_na=False)
        except pd.errors.EmptyDataError:
            tables[csv.stem] = pd.DataFrame()
        except (ValueError, OSError, pd.errors.ParserError) as exc:
            raise InputError(Problem(f"not a readable CSV table: {exc}", file=str(csv))) from None
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
    """Generic summary checks, then the model's own rules.

    A folder without a plan (status infeasible, unbounded or error) has nothing to verify:
    that is reported as a finding, never as "every rule holds"; so is such a status beside
    the tables of a plan (the summary was changed, or the folder mixes two runs)."""
    out = [f"summary.json lacks '{k}'" for k in SUMMARY_KEYS if k not in summary]
    if out:
        return out
    if summary["kind"] != instance.kind:
        return [f"summary is for kind {summary['kind']}, the instance is {instance.kind}"]
    status = summary["status"]
    if not isinstance(status, str) or status not in STATUSES:
        return [f"unknown status {status!r}"]
    listed = summary.get("tables")
    if listed is not None and (not isinstance(listed, list) or not all(isinstance(t, str) for t in listed)):
        return ["summary.json 'tables' is not a list of file names"]
    if status not in ("optimal", "feasible"):
        present = sorted(f"{name}.csv" for name in tables)
        if present:
            return [f"status is '{status}' but the folder holds the tables of a plan ({', '.join(present)}): "
                    "the summary was changed, or the folder mixes two runs"]
        reason = summary.get("reason")
        return [f"no plan to verify: the status is '{status}'" + (f" ({reason})" if reason else "")]
    out.extend(f"missing result table {name} (listed in summary.json)"
               for name in listed or () if Path(name).stem not in tables)
    objective = summary["objective"]
    terms = summary["objective_terms"] or {}
    if objective is None or isinstance(objective, bool) or not isinstance(objective, (int, float)):
        return out + ["status says a solution exists but objective is missing"]
    if not isinstance(terms, dict) or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                              for v in terms.values()):
        return out + ["objective_terms is not a mapping of numbers"]
    total = sum(float(v) for v in terms.values())
    if not close(total, objective):
        out.append(f"objective_terms add up to {total:,.6f}, not the objective {objective:,.6f}")
    out.extend(_check_dates(instance, tables))
    out.extend(instance.model.check(instance, summary, tables))
    return out


def _check_dates(instance: Instance, tables: dict[str, pd.DataFrame]) -> list[str]:
    """With a start_date, every table with a period has a date column naming its first day."""
    if instance.start_date is None:
        return []
    out = []
    for name, frame in tables.items():
        if "period" not in frame.columns:
            continue
        if "date" not in frame.columns:
            out.append(f"{name}.csv has a period column but no date column (the instance has a start_date)")
            continue
        numbers = pd.to_numeric(frame["period"], errors="coerce")
        days = {p: first_day(int(p), instance.start_date, instance.period_days).isoformat()
                for p in numbers.dropna().unique() if float(p).is_integer()}
        expected = numbers.map(days).fillna("")
        wrong = frame["date"] != expected
        if wrong.any():
            i = int(wrong.to_numpy().argmax())
            out.append(f"{name}.csv row {i + 1}: period {frame['period'].iloc[i]} has date "
                       f"'{frame['date'].iloc[i]}', expected '{expected.iloc[i]}'")
    return out
