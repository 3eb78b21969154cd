"""The Python API: load, solve, check. The CLI is a thin layer over these."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from pathlib import Path

from . import loader, plan
from .checking import check_results, read_results
from .instance import Instance
from .results import Result
from .solver import SolveOptions


def load(path: str | Path | Mapping, folder: str | Path | None = None) -> Instance | plan.Plan:
    """Read and validate an instance file, or a `kind: plan` file with all its steps
    (raises InputError with every problem found). `path` may also be the instance itself as
    a dict whose tables are lists of records or pandas DataFrames (`{file: ...}` tables then
    resolve against `folder`, default the current directory)."""
    if isinstance(path, Mapping):
        return loader.load(path, folder)
    if _is_plan(path):
        return plan.load(path)
    return loader.load(path)


def _is_plan(path: str | Path) -> bool:
    """plan.is_plan, with a file it cannot open or parse (a name too long, nesting too deep)
    left to the loader, which says what is wrong with it."""
    try:
        return plan.is_plan(path)
    except (OSError, RecursionError, ValueError):
        return False


def solve_plan(chain: plan.Plan | str | Path, out: str | Path, options: SolveOptions | None = None,
               **settings) -> plan.PlanResult:
    """Solve, check and write every step of a plan into out/<kind>/, with out/links.csv and out/summary.json."""
    if not isinstance(chain, plan.Plan):
        chain = plan.load(chain)
    if options is None:
        settings.setdefault("progress", False)
        options = SolveOptions(**settings)
    elif settings:
        raise TypeError("pass either options or keyword settings, not both")
    return plan.solve(chain, out, options)


def solve(instance: Instance | str | Path, options: SolveOptions | None = None, **settings) -> Result:
    """Solve an instance; keyword arguments are SolveOptions fields (time_limit=60, ...)."""
    started = time.perf_counter()
    if not isinstance(instance, Instance):
        instance = load(instance)
    if isinstance(instance, plan.Plan):
        raise TypeError("a plan writes every step's results: solve it with solve_plan(plan, out)")
    load_seconds = time.perf_counter() - started
    if options is None:
        settings.setdefault("progress", False)
        options = SolveOptions(**settings)
    elif settings:
        raise TypeError("pass either options or keyword settings, not both")
    if options.deadline is None and options.time_limit is not None:
        options = dataclasses.replace(options, deadline=time.monotonic() + options.time_limit - load_seconds)
    result = instance.model.solve(instance, options)
    result.timings = {"load": load_seconds, **result.timings}
    return result


def check(instance: Instance | str | Path, results: str | Path) -> list[str]:
    """Re-verify a written solution against every rule; returns the violations (empty = valid)."""
    if not isinstance(instance, (Instance, plan.Plan)):
        instance = load(instance)
    if isinstance(instance, plan.Plan):
        return plan.check(instance, results)
    summary, tables = read_results(results)
    return check_results(instance, summary, tables)


__all__ = ["check", "load", "read_results", "solve", "solve_plan"]
