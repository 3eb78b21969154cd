"""The validated instance handed to a model, and the interface every model implements."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import pandas as pd
from pydantic import BaseModel

from .errors import Problem
from .schema import Record, Table

if TYPE_CHECKING:  # pragma: no cover
    from .results import Result
    from .solver import SolveOptions


@dataclass(frozen=True)
class Origin:
    """Where a table's records came from: the instance file itself, or a CSV/XLSX file."""

    file: str
    lines: tuple[int, ...] | None = None  # line (CSV) or sheet row (XLSX) of each record
    header: tuple[str, ...] | None = None  # the column names of a CSV/XLSX table

    def locate(self, table: str, index: int, fieldname: str | None = None) -> dict:
        line = self.lines[index] if self.lines and index < len(self.lines) else None
        return dict(file=self.file, table=table, row=index + 1, field=fieldname, line=line)


@dataclass
class Instance:
    """Validated data of one instance: settings and tables of typed records."""

    kind: str
    name: str
    settings: BaseModel
    tables: dict[str, list[Record]]
    periods: int | None = None
    period_days: float | None = None
    start_date: dt.date | None = None  # first day of period 0 (calendar time), if given
    description: str = ""
    path: Path | None = None
    origins: dict[str, Origin] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)  # the document, for sweeps

    def __getitem__(self, table: str) -> list[Record]:
        return self.tables.get(table, [])

    def frame(self, table: str) -> pd.DataFrame:
        """A table as a DataFrame with one column per declared field (empty tables too)."""
        rows = self.tables.get(table, [])
        spec = self.model.tables[table]
        columns = [f for f in spec.row.model_fields if f != "notes"]
        return pd.DataFrame([r.model_dump(exclude={"notes"}) for r in rows], columns=columns)

    def problem(self, table: str, index: int, fieldname: str | None, message: str) -> Problem:
        """A Problem located at record `index` (0-based) of `table`."""
        origin = self.origins.get(table) or Origin(str(self.path or "<instance>"))
        return Problem(message, **origin.locate(table, index, fieldname))

    @property
    def model(self) -> "ModelSpec":
        from stockpile.models import get_model

        return get_model(self.kind)


@dataclass(frozen=True)
class ModelSpec:
    """What a decision model plugs into the engine.

    validate(instance) -> list[Problem]: cross-table rules beyond the declarative ones;
        it may append to instance.warnings.
    check(instance, summary, tables) -> list[str]: re-verify a solution from its output
        tables alone (no Pyomo); returns the violations found.
    sweep_columns(result) -> dict: the decisions of a solved point as named scalars
        (e.g. reserve per product), added as columns of sweep.csv; None: no such columns.

    Solving follows a convention, so that Pyomo is imported only when a model is solved:
    `models.<kind>.formulation` either defines `solve(instance, options) -> Result` (models
    with several solves), or `build` and `extract` for the standard pipeline, with
    `models.<kind>.diagnose.diagnose` explaining infeasibility.
    """

    kind: str
    title: str
    tables: dict[str, Table]
    settings: type[BaseModel]
    timed: bool
    validate: Callable[[Instance], list[Problem]]
    check: Callable[[Instance, dict, dict[str, pd.DataFrame]], list[str]]
    sweep_columns: Callable[["Result"], dict[str, Any]] | None = None

    def solve(self, instance: Instance, options: "SolveOptions") -> "Result":
        import importlib

        from .calendar import add_date_columns

        formulation = importlib.import_module(f"stockpile.models.{self.kind}.formulation")
        if hasattr(formulation, "solve"):
            result = formulation.solve(instance, options)
        else:
            from .pipeline import run

            diagnose = importlib.import_module(f"stockpile.models.{self.kind}.diagnose").diagnose
            result = run(instance, options, formulation.build, formulation.extract, diagnose)
        if instance.start_date is not None:
            result.tables = add_date_columns(result.tables, instance.start_date, instance.period_days)
        return result
