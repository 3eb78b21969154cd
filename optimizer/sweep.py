"""Parameter sweeps: solve one instance for every value (or grid of values) of some inputs.

`--set PATH=V1,V2,...` names one input and its values. PATH is one of
- `settings.<key>` — a model setting;
- `<table>.<row>.<field>` — a field of the row whose key is `<row>` (its id; for a table
  keyed on several fields, the key values joined by `/`, e.g. `scenario_supply.asia/src/3`);
  `*` selects every row, and `*` may stand for one part of a composite key;
- `periods` or `period_days`.
A value is read as YAML (`1e6`, `2.5`, `true`, text); `null` or `none` unsets the input, so
its default applies. Several `--set` options span a grid: every combination is a point.

Each point edits a copy of the loaded `loader.Document`, is validated again by
`loader.validate` (all points before any solve, so a bad value stops the sweep at once),
then solved as a task of `stockpile.distributed` (a process pool, a Dask cluster, or this
process) with one solver thread; a point that fails or loses its worker is retried once.
Results stream back as points finish: one folder per point, `DIR/<path>=<value>[,<path>=<value>...]/`, with the usual summary.json and tables
plus the edited instance (`instance.yaml`, tables inline, for `stockpile check`), and
`DIR/sweep.csv` with one row per point.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pandas as pd
import yaml

from . import loader, report
from .distributed import Event, Executor, Outcome, Task, make_executor, run_tasks
from .errors import InputError, Problem, did_you_mean
from .jobs import failed_summary, solve_document, write_files
from .results import atomic_write
from .solver import SolveOptions, Status

TOP_LEVEL = ("periods", "period_days")
UNSET = ("null", "none", "~", "")
POINT_INSTANCE = "instance.yaml"  # the edited instance, written beside each point's results


@dataclass(frozen=True)
class Parameter:
    """One swept input: where it lives in the document and the values it takes."""

    path: str  # as typed
    target: str  # "settings", a table name, or a top-level key
    row: tuple[str, ...] | None  # key parts of the selected rows ("*" = any); None for settings/top level
    field: str | None
    values: tuple[tuple[str, Any], ...]  # (text as typed, parsed value)


@dataclass(frozen=True)
class Point:
    """One combination of values: its folder name and the edited document."""

    label: str
    assignments: tuple[tuple[Parameter, str, Any], ...]
    document: loader.Document


@dataclass
class SweepResult:
    frame: pd.DataFrame
    csv: Path
    points: list[dict]  # summary of every point, in the points' order
    folders: int = 0  # points with a results folder (a point that failed on every try has none)

    @property
    def exit_code(self) -> int:
        """0 when every point has a solution, 1 when some point is infeasible/unbounded, 3 on errors."""
        statuses = {p["status"] for p in self.points}
        if statuses & {Status.ERROR.value}:
            return 3
        if statuses & {Status.INFEASIBLE.value, Status.UNBOUNDED.value}:
            return 1
        return 0


# -- parsing --------------------------------------------------------------------------------


def parse_value(text: str) -> Any:
    text = text.strip()
    if text.lower() in UNSET:
        return None
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, str):
        try:
            number = float(value)  # YAML reads 1e6 as text
        except ValueError:
            return value
        return number if math.isfinite(number) else value
    return value


def parse_set(text: str, doc: loader.Document) -> Parameter:
    """`PATH=V1,V2,...` -> Parameter, checked against the document's model and tables."""
    if "=" not in text:
        raise InputError(Problem(f"--set '{text}': expected PATH=VALUE[,VALUE...], e.g. settings.budget=1e6,2e6"))
    path, _, values_text = text.partition("=")
    path = path.strip()
    texts = [v.strip() for v in values_text.split(",")]
    if not path or not values_text.strip() or any(not v for v in texts):
        raise InputError(Problem(f"--set '{text}': expected PATH=VALUE[,VALUE...] with no empty value"))
    dup = sorted({v for v in texts if texts.count(v) > 1})
    if dup:
        raise InputError(Problem(f"--set '{text}': value '{dup[0]}' is given twice"))
    values = tuple((v, parse_value(v)) for v in texts)
    target, row, fieldname = _resolve(path, doc, text)
    return Parameter(path, target, row, fieldname, values)


def _resolve(path: str, doc: loader.Document, text: str) -> tuple[str, tuple[str, ...] | None, str | None]:
    from stockpile.models import get_model

    spec = get_model(doc.data["kind"])
    where = f"--set '{text}'"
    if path in TOP_LEVEL:
        return path, None, None
    parts = path.split(".")
    head = parts[0]
    if head == "settings":
        if len(parts) != 2:
            raise InputError(Problem(f"{where}: expected settings.<key>"))
        key = parts[1]
        known = list(spec.settings.model_fields)
        if key not in known:
            raise InputError(Problem(f"{where}: unknown setting '{key}' for kind {spec.kind}"
                                     + did_you_mean(key, known) + f" (settings: {', '.join(known)})"))
        return "settings", None, key
    if head not in spec.tables:
        choices = ["settings", *spec.tables, *TOP_LEVEL]
        raise InputError(Problem(f"{where}: unknown table '{head}' for kind {spec.kind}" + did_you_mean(head, choices)
                                 + f" (expected settings.<key>, <table>.<row id>.<field>, or {', '.join(TOP_LEVEL)})"))
    if len(parts) < 3:
        raise InputError(Problem(f"{where}: expected {head}.<row id or *>.<field>"))
    table = spec.tables[head]
    fieldname = parts[-1]
    row_text = ".".join(parts[1:-1])  # ids may contain dots
    known = [f for f in table.row.model_fields if f != "notes"]
    if fieldname not in known:
        raise InputError(Problem(f"{where}: table '{head}' has no field '{fieldname}'" + did_you_mean(fieldname, known)
                                 + f" (fields: {', '.join(known)})"))
    rows = doc.data.get(head)
    if not isinstance(rows, list) or not rows:
        raise InputError(Problem(f"{where}: the instance has no rows in table '{head}'"))
    if row_text == "*":
        selector = ("*",) * max(1, len(table.key))
    else:
        if not table.key:
            raise InputError(Problem(f"{where}: table '{head}' has no key to select a row by; use {head}.*.{fieldname}"))
        selector = tuple(row_text.split("/")) if len(table.key) > 1 else (row_text,)
        if len(selector) != len(table.key):
            raise InputError(Problem(f"{where}: rows of '{head}' are selected by {'/'.join(table.key)} "
                                     f"(use * for any part)"))
        if not _matching(rows, table.key, selector):
            ids = [_key_text(r, table.key) for r in rows]
            raise InputError(Problem(f"{where}: no row of '{head}' has {'/'.join(table.key)} '{row_text}'"
                                     + did_you_mean(row_text, ids)))
    return head, selector, fieldname


def _id_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _key_text(record: dict, key: tuple[str, ...]) -> str:
    return "/".join(_id_text(record.get(k)) for k in key)


def _matching(rows: list[dict], key: tuple[str, ...], selector: tuple[str, ...]) -> list[int]:
    if not key:
        return list(range(len(rows)))
    return [i for i, r in enumerate(rows)
            if all(s == "*" or s == _id_text(r.get(k)) for k, s in zip(key, selector))]


# -- applying -------------------------------------------------------------------------------


def apply(doc: loader.Document, param: Parameter, value: Any) -> None:
    """Set the parameter to value in doc (None removes it, so its default applies)."""
    data = doc.data
    if param.target in TOP_LEVEL:
        if value is None:
            data.pop(param.target, None)
        else:
            data[param.target] = value
        return
    if param.target == "settings":
        settings = dict(data.get("settings") or {})
        if value is None:
            settings.pop(param.field, None)
        else:
            settings[param.field] = value
        data["settings"] = settings
        return
    from stockpile.models import get_model

    key = get_model(data["kind"]).tables[param.target].key
    rows = [dict(r) for r in data[param.target]]
    for i in _matching(rows, key, param.row):
        if value is None:
            rows[i].pop(param.field, None)
        else:
            rows[i][param.field] = value
    data[param.target] = rows


def _folder_text(text: str) -> str:
    text = text.replace("*", "all").replace("/", "_")
    return re.sub(r"[^A-Za-z0-9._=,+\-]", "_", text)


def make_points(doc: loader.Document, params: list[Parameter]) -> list[Point]:
    """Every combination of the parameters' values, each edited and validated."""
    paths = [p.path for p in params]
    dup = sorted({p for p in paths if paths.count(p) > 1})
    if dup:
        raise InputError(Problem(f"--set {dup[0]} is given twice; give all its values in one --set"))
    points = []
    problems: list[Problem] = []
    for combo in itertools.product(*[p.values for p in params]):
        edited = doc.copy()
        assignments = []
        for param, (text, value) in zip(params, combo):
            apply(edited, param, value)
            assignments.append((param, text, value))
        label = _folder_text(",".join(f"{p.path}={t}" for p, t, _ in assignments))
        try:
            loader.validate(edited)
        except InputError as exc:
            shown = ", ".join(f"{p.path}={t}" for p, t, _ in assignments)
            problems.extend(dataclasses.replace(pr, message=f"{pr.message} (sweep point {shown})")
                            for pr in exc.problems)
            continue
        points.append(Point(label, tuple(assignments), edited))
    if problems:
        raise InputError(problems[: loader.MAX_PROBLEMS])
    return points


# -- solving --------------------------------------------------------------------------------


def write_instance(document: loader.Document, path: Path) -> Path:
    """The edited instance, self-contained (tables inline), so `stockpile check` can verify the point."""
    data = {k: v for k, v in document.data.items()}
    data["name"] = str(data.get("name") or document.path.stem)
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    return atomic_write(path, text)


def row_of(point: Point, summary: dict, columns: dict | None = None) -> dict:
    """One sweep.csv row: the parameters, status, objective, its terms, every scalar KPI,
    the model's decision columns."""
    row: dict[str, Any] = {"point": point.label}
    for param, text, value in point.assignments:
        row[param.path] = value if value is not None else ""
    row["status"] = summary.get("status")
    row["objective"] = summary.get("objective")
    row["mip_gap"] = summary.get("mip_gap")
    row["solve_seconds"] = summary.get("solve_seconds")
    for term, value in (summary.get("objective_terms") or {}).items():
        row[term if term not in row else f"term.{term}"] = value
    for name, value in (summary.get("kpis") or {}).items():
        if value is None or isinstance(value, (int, float, str, bool)):
            row[name if name not in row else f"kpi.{name}"] = value
    for name, value in (columns or {}).items():
        row[name if name not in row else f"decision.{name}"] = value
    row["reason"] = summary.get("reason") or ""
    return row


def run(instance: str | Path, sets: list[str], out: str | Path, options: SolveOptions | None = None,
        workers: int | None = None, on_event: Callable[[Event], None] | None = None,
        scheduler: str | None = None, executor: Executor | None = None) -> SweepResult:
    """Solve every point of the sweep and write DIR/sweep.csv plus one results folder per point.

    Where the points run: `executor` if given, else `distributed.make_executor(scheduler,
    workers)` — no scheduler: the process pool (in this process with workers=1); `local`: a
    Dask LocalCluster; an address: that Dask scheduler. on_event sees every finished point
    (its sweep.csv row in `event.row`) and every retry, as they happen.
    """
    doc = loader.read(instance)
    loader.validate(doc)  # the unedited instance must be valid too
    if not sets:
        raise InputError(Problem("a sweep needs at least one --set PATH=V1,V2,..."))
    params = [parse_set(s, doc) for s in sets]
    points = make_points(doc, params)
    out = Path(out)
    options = options or SolveOptions()
    in_process = (executor is None and scheduler is None and (workers == 1 or len(points) == 1))
    point_options = dataclasses.replace(options, threads=options.threads or 1, progress=False,
                                        verbose=options.verbose and in_process)
    by_label = {p.label: p for p in points}
    tasks = [Task(p.label, solve_document, (p.document, point_options)) for p in points]
    owned = executor is None
    if owned:
        executor = make_executor(scheduler, workers, len(points))
    out.mkdir(parents=True, exist_ok=True)
    rows: dict[str, dict] = {}

    def finished(event: Event) -> None:
        """Write a point's folder as soon as it is back, then tell the caller."""
        if event.kind == "done":
            rows[event.key] = _record(out, by_label[event.key], event.outcome)
        if on_event:
            on_event(dataclasses.replace(event, row=rows.get(event.key)) if event.kind == "done" else event)

    try:
        outcomes = run_tasks(executor, tasks, finished)
    finally:
        if owned:
            executor.close()
    summaries = [_summary(outcomes[p.label]) for p in points]
    frame = pd.DataFrame([rows[p.label] for p in points])
    ordered = [c for c in frame.columns if c != "reason"] + ["reason"]
    frame = frame[ordered]
    csv = atomic_write(out / "sweep.csv", frame.to_csv(index=False, lineterminator="\n"))
    report.sweep_report(out)  # report.html: the curves of sweep.csv
    return SweepResult(frame, csv, summaries, sum(o.ok for o in outcomes.values()))


def _summary(outcome: Outcome) -> dict:
    return outcome.value.summary if outcome.ok else failed_summary(outcome.failures)


def _record(out: Path, point: Point, outcome: Outcome) -> dict:
    """Write the point's results folder (when it has one) and return its sweep.csv row."""
    if not outcome.ok:
        return row_of(point, failed_summary(outcome.failures))
    solved = outcome.value
    folder = out / point.label
    write_files(folder, solved.files)
    write_instance(point.document, folder / POINT_INSTANCE)
    return row_of(point, solved.summary, solved.columns)
