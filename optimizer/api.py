"""The Python API: load, solve, check. The CLI is a thin layer over these."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from . import loader
from .checking import check_results, read_results
from .instance import Instance
from .results import Result
from .solver import SolveOptions


def load(path: str | Path) -> Instance:
    """Read and validate an instance file (raises InputError with every problem found)."""
    return loader.load(path)


def solve(instance: Instance | str | Path, options: SolveOptions | None = None, **settings) -> Result:
    """Solve an instance; keyword arguments are SolveOptions fields (time_limit=60, ...)."""
    started = time.perf_counter()
    if not isinstance(instance, Instance):
        instance = load(instance)
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
    if not isinstance(instance, Instance):
        instance = load(instance)
    summary, tables = read_results(results)
    return check_results(instance, summary, tables)


__all__ = ["check", "load", "read_results", "solve"]
