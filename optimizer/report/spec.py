"""What a model declares about its results: formats, name joins, charts and comparisons.

A model package may hold `report.py` with `REPORT = ReportSpec(...)`; the engine renders
every result table whether or not it is declared, and skips any declaration that names a
table or column a run does not have (tables and columns grow; a report must not break).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Join:
    """Put fields of an input table beside an id column: `product` -> products.name, products.unit."""

    column: str  # id column of result tables (every table that has it)
    table: str  # input table whose key is that id
    fields: tuple[str, ...] = ("name", "unit")
    key: str = "id"


@dataclass(frozen=True)
class Chart:
    """One picture of one result table.

    kind: "bar" (grouped), "stacked" (stacked bars), "line", "area" (stacked areas), "barh".
    x: the column along the horizontal axis (categories or periods); y: the value column(s),
    where "life_*" stands for every column starting with "life_";
    series: a column whose values become one series each (with a single y); facet: one
    chart per value of this column; where: {column: value} keeps only matching rows;
    the values of rows sharing x (and series) are added up (agg "sum") or averaged ("mean").
    """

    table: str
    title: str
    x: str
    y: tuple[str, ...]
    kind: str = "bar"
    series: str | None = None
    facet: str | None = None
    where: tuple[tuple[str, object], ...] = ()
    agg: str = "sum"
    unit: str = ""  # axis label of the values: "units", "EUR", "%"
    percent: bool = False  # values are fractions shown as %


@dataclass(frozen=True)
class Comparison:
    """A decision table `compare` matches row by row: key columns and the values compared."""

    table: str
    keys: tuple[str, ...]
    values: tuple[str, ...]


@dataclass(frozen=True)
class ReportSpec:
    """A model's report declaration. Column kinds set number formats in the workbook and HTML:
    quantities: whole units with thousands separators; money: EUR with two decimals; prices:
    EUR per unit with four; rates: fractions shown as %. Undeclared numeric columns get a format from their values."""

    quantities: tuple[str, ...] = ()
    money: tuple[str, ...] = ()
    prices: tuple[str, ...] = ()  # EUR per unit, four decimals (a glove costs 0.0350)
    rates: tuple[str, ...] = ()
    joins: tuple[Join, ...] = ()
    charts: tuple[Chart, ...] = ()
    comparisons: tuple[Comparison, ...] = ()
    order: tuple[str, ...] = ()  # tables shown first, in this order; the others follow by name
    notes: dict[str, str] = field(default_factory=dict)  # table -> one line saying what it holds


EMPTY = ReportSpec()


def spec_of(kind: str | None) -> ReportSpec:
    """The REPORT declared in models.<kind>.report, or an empty declaration."""
    if not kind:
        return EMPTY
    try:
        module = importlib.import_module(f"stockpile.models.{kind}.report")
    except ModuleNotFoundError as exc:
        if exc.name in (f"stockpile.models.{kind}.report", f"stockpile.models.{kind}", "models"):
            return EMPTY
        raise
    found = getattr(module, "REPORT", EMPTY)
    return found if isinstance(found, ReportSpec) else EMPTY
