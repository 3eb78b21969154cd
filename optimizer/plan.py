"""One plan across the models: a `kind: plan` file chains model instances so that one
model's decisions become the next one's data.

    kind: plan
    name: nl-ppe-plan
    steps:                         # any two or more, each an ordinary instance file
      sourcing: sourcing/instance.yaml
      ironstock: ironstock/instance.yaml
      rotation: rotation/instance.yaml
      allocation: allocation/instance.yaml
    links:                         # every switch defaults to true
      sourcing_price: true         # sourcing -> ironstock, rotation: unit_cost
      reserve_target: true         # ironstock -> rotation: target
      reserve_supply: true         # rotation (else ironstock) -> allocation: supply in period 0
      crisis_period: 51            # rotation period whose end-of-period usable stock is carried

Steps run in the order sourcing, ironstock, rotation, allocation. What each link carries
is declared in `LINKS`, one row per (link, source, target); a link reads the source step's
*written* result tables (the same files `stockpile check` reads) and edits the target
step's loaded `loader.Document`, which is then validated again — the one validation path.
Each step's folder is a complete results folder plus the edited instance (`instance.yaml`,
tables inline); the plan folder also holds `links.csv` and the plan's `summary.json`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pandas as pd
import yaml

from . import loader
from .calendar import as_date, period_of
from .checking import check_results, close, numeric, read_results, tol
from .errors import InputError, Problem, did_you_mean
from .instance import Instance
from .results import MANIFEST, Result, atomic_write, prepare_out
from .solver import SolveOptions, Status

KIND = "plan"
ORDER = ("sourcing", "ironstock", "rotation", "allocation")  # the order steps are solved in
PLAN_KEYS = ("kind", "name", "description", "steps", "links")
SWITCHES = ("sourcing_price", "reserve_target", "reserve_supply")
LINK_KEYS = (*SWITCHES, "crisis_period")
STEP_INSTANCE = "instance.yaml"  # the edited step instance, written into the step's folder
LINKS_CSV = "links.csv"
LINK_COLUMNS = ["from", "to", "product", "field", "value", "link", "replaced"]


# -- what the links carry ------------------------------------------------------------------
# Each `carry` reads a source step's result tables (text, as written) and returns
# {product id: value}; each `place` writes those values into the target step's document.


def average_awarded_price(tables: dict[str, pd.DataFrame], plan: "Plan") -> dict[str, float]:
    """Per product: purchase term / units awarded, from awards.csv (products with no units carry nothing)."""
    awards = numeric(tables["awards"], "quantity", "cost")
    totals = awards.groupby("product")[["cost", "quantity"]].sum()
    return {str(p): float(r["cost"] / r["quantity"]) for p, r in totals.iterrows() if r["quantity"] > 0}


def reserve_units(tables: dict[str, pd.DataFrame], plan: "Plan") -> dict[str, float]:
    """Per product: the reserve R, from reserve.csv."""
    reserve = numeric(tables["reserve"], "reserve")
    return {str(p): float(r) for p, r in zip(reserve["product"], reserve["reserve"])}


def usable_at_crisis(tables: dict[str, pd.DataFrame], plan: "Plan") -> dict[str, float]:
    """Per product: the usable stock at the end of the crisis period, from stock.csv."""
    stock = numeric(tables["stock"], "period", "usable")
    rows = stock[stock["period"] == plan.crisis_period]
    return {str(p): float(u) for p, u in zip(rows["product"], rows["usable"])}


def product_field(name: str) -> Callable:
    """place(): set `name` of every matched row of the products table."""

    def place(doc: loader.Document, inst: Instance, values: dict[str, float]) -> list[tuple[str, float, float]]:
        rows = [dict(r) for r in doc.data.get("products") or []]
        changed = []
        for i, rec in enumerate(inst["products"]):
            if rec.id in values:
                changed.append((rec.id, getattr(rec, name), values[rec.id]))
                rows[i][name] = values[rec.id]
        doc.data["products"] = rows
        return changed

    place.table, place.field = "products", name
    return place


def opening_supply(doc: loader.Document, inst: Instance, values: dict[str, float]) -> list[tuple[str, float, float]]:
    """place(): the supply of period 0 (the reserve on hand) of every matched product."""
    products = {rec.id for rec in inst["products"]}
    rows = [dict(r) for r in doc.data.get("supply") or []]
    changed, done = [], set()
    for i, rec in enumerate(inst["supply"]):
        if rec.period == 0 and rec.product in values:
            changed.append((rec.product, rec.quantity, values[rec.product]))
            rows[i]["quantity"] = values[rec.product]
            done.add(rec.product)
    for p in [p for p in values if p in products and p not in done]:
        changed.append((p, 0.0, values[p]))  # no row means 0
        rows.append({"product": p, "period": 0, "quantity": values[p]})
    doc.data["supply"] = rows
    return changed


opening_supply.table, opening_supply.field = "supply", "quantity"


@dataclass(frozen=True)
class Link:
    """One value carried from a source step's results into a target step's input."""

    switch: str  # its switch under `links:`
    source: str
    target: str
    field: str  # as named in links.csv
    needs: tuple[str, str]  # the result table and column it reads
    carry: Callable[[dict[str, pd.DataFrame], "Plan"], dict[str, float]]
    place: Callable[[loader.Document, Instance, dict[str, float]], list[tuple[str, float, float]]]
    unless: str | None = None  # a step kind whose presence makes this link give way

    def matched(self, source: Instance, target: Instance) -> list[str]:
        """Product ids of the source that the target has (the only ones carried)."""
        theirs = {rec.id for rec in target["products"]}
        return [rec.id for rec in source["products"] if rec.id in theirs]


LINKS = (
    Link("sourcing_price", "sourcing", "ironstock", "unit_cost", ("awards", "cost"),
         average_awarded_price, product_field("unit_cost")),
    Link("sourcing_price", "sourcing", "rotation", "unit_cost", ("awards", "cost"),
         average_awarded_price, product_field("unit_cost")),
    Link("reserve_target", "ironstock", "rotation", "target", ("reserve", "reserve"),
         reserve_units, product_field("target")),
    Link("reserve_supply", "rotation", "allocation", "supply", ("stock", "usable"),
         usable_at_crisis, opening_supply),
    Link("reserve_supply", "ironstock", "allocation", "supply", ("reserve", "reserve"),
         reserve_units, opening_supply, unless="rotation"),
)


# -- the plan file ----------------------------------------------------------------------------


@dataclass
class Step:
    kind: str
    shown: str  # the step file as written in messages (plan folder / relative path)
    document: loader.Document  # as read, before any link
    instance: Instance  # as validated, before any link
    relative: str = ""  # the path as the plan file gives it


@dataclass
class Plan:
    name: str
    description: str
    path: Path
    steps: list[Step]
    switches: dict[str, bool]
    crisis_period: int | None  # rotation period carried to allocation (None without rotation)
    warnings: list[str] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return KIND

    def step(self, kind: str) -> Step | None:
        return next((s for s in self.steps if s.kind == kind), None)

    def links(self) -> list[Link]:
        """The links that run: switched on, both steps present, not given way."""
        kinds = {s.kind for s in self.steps}
        return [ln for ln in LINKS if self.switches[ln.switch] and ln.source in kinds and ln.target in kinds
                and (ln.unless is None or ln.unless not in kinds)]

    def incoming(self, kind: str) -> list[Link]:
        return [ln for ln in self.links() if ln.target == kind]


def is_plan(path: str | Path) -> bool:
    """True when the file reads as a mapping with `kind: plan` (anything else is left to the loader)."""
    path = Path(path)
    if path.suffix.lower() not in (".yaml", ".yml", ".json") or not path.is_file():
        return False
    try:
        text = path.read_text(encoding="utf-8-sig")
        if "plan" not in text:
            return False
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError):
        return False
    return isinstance(data, dict) and data.get("kind") == KIND


def load(path: str | Path) -> Plan:
    """Read a plan file and validate every step file and every link; raises InputError with them all."""
    path = Path(path)
    shown = str(path)
    if not is_plan(path):
        raise InputError(Problem("expected a readable YAML/JSON plan file with 'kind: plan'", file=shown))
    text = path.read_text(encoding="utf-8-sig")
    data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    problems: list[Problem] = []
    for key in data:
        if key not in PLAN_KEYS:
            problems.append(Problem(f"unknown key '{key}' for kind plan" + did_you_mean(key, PLAN_KEYS), file=shown))

    steps: list[Step] = []
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, dict):
        problems.append(Problem("expected 'steps': a mapping of model kind to instance file "
                                "(e.g. ironstock: ironstock/instance.yaml)", file=shown, field="steps"))
        raw_steps = {}
    for kind, relative in raw_steps.items():
        where = dict(file=shown, field=f"steps.{kind}")
        if kind not in ORDER:
            problems.append(Problem(f"unknown step '{kind}', expected one of {', '.join(ORDER)}"
                                    + did_you_mean(str(kind), ORDER), **where))
            continue
        step_path = _step_path(path, relative, where, problems)
        if step_path is None:
            continue
        try:
            doc = loader.read(step_path)
            if doc.data.get("kind") != kind:
                problems.append(Problem(f"the file is a {doc.data.get('kind')} instance, not {kind}", **where))
                continue
            instance = loader.validate(doc.copy())
        except InputError as exc:
            problems.extend(exc.problems)  # each names the step's file
            continue
        steps.append(Step(kind, str(step_path), doc, instance, str(relative)))
    if raw_steps and len(raw_steps) < 2:
        problems.append(Problem("a plan needs at least two steps", file=shown, field="steps"))
    steps.sort(key=lambda s: ORDER.index(s.kind))

    raw_links = data.get("links") or {}
    switches = {s: True for s in SWITCHES}
    crisis_text = None
    if not isinstance(raw_links, dict):
        problems.append(Problem("expected 'links': a mapping of switches", file=shown, field="links"))
        raw_links = {}
    for key, value in raw_links.items():
        where = dict(file=shown, field=f"links.{key}")
        if key not in LINK_KEYS:
            problems.append(Problem(f"unknown link '{key}', expected one of {', '.join(LINK_KEYS)}"
                                    + did_you_mean(str(key), LINK_KEYS), **where))
        elif key in SWITCHES:
            if not isinstance(value, bool):
                problems.append(Problem(f"expected true or false, got {value!r}", **where))
            else:
                switches[key] = value
        else:
            crisis_text = value

    plan = Plan(str(data.get("name") or path.stem), str(data.get("description") or ""), path, steps, switches, None)
    if len(steps) == len(raw_steps):  # the links are judged on valid steps only
        plan.crisis_period = _crisis_period(plan, crisis_text, shown, problems)
        problems.extend(_link_problems(plan, shown))
    if problems:
        raise InputError(problems[: loader.MAX_PROBLEMS])
    for step in steps:
        plan.warnings.extend(f"{step.shown}: {w}" for w in step.instance.warnings)
    if not plan.links():
        plan.warnings.append("no link runs between these steps: they are solved one after the other, unchanged")
    return plan


def _step_path(plan_path: Path, relative: Any, where: dict, problems: list[Problem]) -> Path | None:
    if not isinstance(relative, str) or not relative.strip():
        problems.append(Problem("expected a relative path to the step's instance file", **where))
        return None
    rel = Path(relative)
    folder = plan_path.parent.resolve()
    if rel.is_absolute() or not (folder / rel).resolve().is_relative_to(folder):
        problems.append(Problem(f"file '{relative}' lies outside the plan's folder; use a relative path inside it",
                                **where))
        return None
    if not (plan_path.parent / rel).is_file():
        problems.append(Problem(f"file '{relative}' not found", **where))
        return None
    return plan_path.parent / rel


def _crisis_period(plan: Plan, value: Any, shown: str, problems: list[Problem]) -> int | None:
    """The rotation period whose end carries the reserve into the crisis: an integer or an ISO date."""
    where = dict(file=shown, field="links.crisis_period")
    rotation = plan.step("rotation")
    if rotation is None:
        if value is not None:
            problems.append(Problem("applies only to a plan with a rotation step", **where))
        return None
    periods = rotation.instance.periods
    if value is None:
        return periods - 1
    if isinstance(value, (str, dt.date)) and not isinstance(value, bool):
        period = _date_period(rotation, value)
        if period is None:
            problems.append(Problem(f"expected a period 0..{periods - 1} or an ISO date (with the rotation "
                                    f"step's start_date), got {value!r}", **where))
            return None
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and float(value).is_integer():
        period = int(value)
    else:
        problems.append(Problem(f"expected a whole period number, got {value!r}", **where))
        return None
    if not 0 <= period < periods:
        problems.append(Problem(f"expected a period within 0..{periods - 1} of {rotation.shown}, got {value!r} "
                                f"(period {period})", **where))
        return None
    return period


def _date_period(step: Step, value: Any) -> int | None:
    """The period of the rotation step that contains a date (None without its start_date)."""
    try:
        day = as_date(value)
    except ValueError:
        return None
    start = step.instance.start_date
    if day is None or start is None:
        return None
    return period_of(day, start, step.instance.period_days)


def _link_problems(plan: Plan, shown: str) -> list[Problem]:
    """A link that runs must carry something: the two steps share a product id, and the
    source step can report the value (rotation's crisis period lies within its horizon)."""
    problems = []
    for ln in plan.links():
        source, target = plan.step(ln.source), plan.step(ln.target)
        if not ln.matched(source.instance, target.instance):
            problems.append(Problem(
                f"link {ln.switch} ({ln.source} → {ln.target} {ln.field}) carries nothing: no product id of "
                f"{source.shown} is a product of {target.shown} (products are matched by id; switch the link "
                f"off with links.{ln.switch}: false)", file=shown, field=f"links.{ln.switch}"))
    return problems


# -- applying the links -------------------------------------------------------------------------


@dataclass(frozen=True)
class Carried:
    """One linked value, as a row of links.csv."""

    link: Link
    product: str
    value: float
    replaced: float | None  # the step file's own value

    def row(self) -> dict:
        return {"from": self.link.source, "to": self.link.target, "product": self.product,
                "field": self.link.field, "value": self.value, "link": self.link.switch,
                "replaced": self.replaced}


def linked_document(plan: Plan, step: Step, results: dict[str, dict[str, pd.DataFrame]]
                    ) -> tuple[loader.Document, list[Carried]]:
    """The step's document with every incoming link applied from the source steps' result tables."""
    doc = step.document.copy()
    carried: list[Carried] = []
    for ln in plan.incoming(step.kind):
        tables = results[ln.source]
        table, column = ln.needs
        if table not in tables or column not in tables[table] or "product" not in tables[table]:
            raise InputError(Problem(f"the {ln.source} results lack {table}.csv with columns product, {column}, "
                                     f"which link {ln.switch} reads"))
        matched = set(ln.matched(plan.step(ln.source).instance, step.instance))
        values = {p: v for p, v in ln.carry(tables, plan).items() if p in matched}
        for product, replaced, value in ln.place(doc, step.instance, values):
            carried.append(Carried(ln, product, value, replaced))
    return doc, carried


def validate_linked(step: Step, doc: loader.Document, carried: list[Carried]) -> Instance:
    """Validate the edited step; a problem the links caused says so."""
    try:
        return loader.validate(doc)
    except InputError as exc:
        what = ", ".join(sorted({f"{c.link.field} from {c.link.source}" for c in carried})) or "no value"
        raise InputError([dataclasses.replace(p, message=f"{p.message} (after the plan's links carried {what} "
                                                           f"into {step.shown})") for p in exc.problems]) from None


# -- solving ------------------------------------------------------------------------------------


@dataclass
class StepOutcome:
    kind: str
    file: str
    folder: str
    result: Result | None = None
    violations: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.result is None:
            return "not_run"
        if self.violations:
            return Status.ERROR.value
        return self.result.status.value

    @property
    def reason(self) -> str | None:
        if self.violations:
            return f"the solution fails its check: {self.violations[0]}"
        return self.result.reason if self.result is not None else None


@dataclass
class PlanResult:
    name: str
    steps: list[StepOutcome]
    links: list[Carried]
    folder: Path
    warnings: list[str] = field(default_factory=list)

    @property
    def stopped_at(self) -> StepOutcome | None:
        return next((s for s in self.steps if s.result is not None and s.status not in ("optimal", "feasible")), None)

    @property
    def status(self) -> str:
        stop = self.stopped_at
        if stop is not None:
            return stop.status
        return "feasible" if any(s.status == "feasible" for s in self.steps) else "optimal"

    @property
    def exit_code(self) -> int:
        """0 when every step solved, 1 when one is infeasible/unbounded, 3 on any other failure."""
        status = self.status
        if status in ("optimal", "feasible"):
            return 0
        return 1 if status in (Status.INFEASIBLE.value, Status.UNBOUNDED.value) else 3

    def summary(self) -> dict:
        stop = self.stopped_at
        steps = []
        for s in self.steps:
            entry = {"kind": s.kind, "file": s.file, "folder": s.folder, "status": s.status,
                     "objective": s.result.objective if s.result else None,
                     "mip_gap": s.result.mip_gap if s.result else None}
            if s.reason:
                entry["reason"] = s.reason
            steps.append(entry)
        out = {"kind": KIND, "name": self.name, "status": self.status, "steps": steps,
               "links": len(self.links), "stopped_at": stop.kind if stop else None}
        if stop is not None:
            out["reason"] = f"{stop.kind}: {stop.reason}"
        return json.loads(json.dumps(out, default=float))


def solve(plan: Plan, out: str | Path, options: SolveOptions | None = None,
          on_step: Callable[[StepOutcome], None] | None = None, report: bool = True) -> PlanResult:
    """Solve, check and write every step in order, carrying the links; stop at a step without a plan.

    `out` is refused before any solve if it cannot take the results (see results.prepare_out);
    report: also write each step's report.html and results.xlsx.
    """
    from .api import solve as solve_instance

    out = prepare_out(out, (plan.path, *(s.shown for s in plan.steps)))
    out.mkdir(parents=True, exist_ok=True)
    options = options or SolveOptions(progress=False)
    outcomes = [StepOutcome(s.kind, s.relative or s.shown, s.kind) for s in plan.steps]
    carried_all: list[Carried] = []
    results: dict[str, dict[str, pd.DataFrame]] = {}
    result = PlanResult(plan.name, outcomes, carried_all, out)
    try:
        for step, outcome in zip(plan.steps, outcomes):
            doc, carried = linked_document(plan, step, results)
            carried_all.extend(carried)
            instance = validate_linked(step, doc, carried)
            folder = out / step.kind
            outcome.result = solve_instance(instance, options)
            outcome.result.instance = {"file": os.path.realpath(step.shown),
                                       "description": instance.description.strip()}
            extra = {STEP_INSTANCE: step_instance_text(doc)}
            if report:
                extra.update(_report_files(outcome.result, instance, result.warnings))
            outcome.result.write(folder, extra)
            if outcome.result.status.has_solution:
                summary, tables = read_results(folder)  # the links read what was written
                outcome.violations = check_results(instance, summary, tables)
                results[step.kind] = tables
            if on_step:
                on_step(outcome)
            if outcome.status not in ("optimal", "feasible"):
                break
    finally:
        write_plan_files(result)
    return result


def _report_files(result: Result, instance: Instance, warnings: list[str]) -> dict:
    """report.html and results.xlsx of a step; a failure to draw them costs the report, not the results."""
    try:
        from . import report

        return report.files_for(result, instance)
    except Exception as exc:
        if os.environ.get("STOCKPILE_DEBUG"):
            raise
        warnings.append(f"the report of step {result.kind} was not written ({type(exc).__name__}: {exc})")
        return {}


def step_instance_text(doc: loader.Document) -> str:
    """The edited step instance, self-contained (tables inline), for `stockpile check`."""
    data = dict(doc.data)
    data["name"] = str(data.get("name") or doc.path.stem)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def write_plan_files(result: PlanResult) -> None:
    """links.csv, summary.json and the folder's manifest; step folders of an earlier run that
    this run did not reach are removed, so the folder holds one run (prepare_out has made
    sure that everything in it was written by stockpile)."""
    folder = result.folder
    ran = [s.kind for s in result.steps if s.result is not None]
    for kind in ORDER:
        if kind not in ran and (folder / kind).is_dir():
            shutil.rmtree(folder / kind)
    frame = pd.DataFrame([c.row() for c in result.links], columns=LINK_COLUMNS)
    atomic_write(folder / LINKS_CSV, frame.to_csv(index=False, lineterminator="\n"))
    atomic_write(folder / "summary.json", json.dumps(result.summary(), indent=2, ensure_ascii=False) + "\n")
    atomic_write(folder / MANIFEST, json.dumps({"files": sorted([LINKS_CSV, "summary.json", *ran])}, indent=1) + "\n")


# -- checking -----------------------------------------------------------------------------------


def check(plan: Plan, folder: str | Path) -> list[str]:
    """Re-verify every step's solution and every linked value from the written files alone.

    Each step's instance is rebuilt from its step file with the links recomputed from the
    source steps' written tables; the step's results are checked against it, and links.csv,
    the step's written instance.yaml and the plan summary must agree with it.
    """
    folder = Path(folder)
    path = folder / "summary.json"
    if not path.is_file():
        raise InputError(Problem(f"no summary.json in {folder}"))
    try:
        plan_summary = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(Problem(f"invalid JSON at line {exc.lineno}: {exc.msg}", file=str(path))) from None
    if plan_summary.get("kind") != KIND:
        return [f"{path} is not the summary of a plan (kind {plan_summary.get('kind')!r})"]
    recorded = {s.get("kind"): s for s in plan_summary.get("steps") or [] if isinstance(s, dict)}
    out: list[str] = []
    results: dict[str, dict[str, pd.DataFrame]] = {}
    expected: list[Carried] = []
    for step in plan.steps:
        entry = recorded.get(step.kind)
        step_folder = folder / step.kind
        if not (step_folder / "summary.json").is_file():
            if entry and entry.get("status") != "not_run":
                out.append(f"{step.kind}: the plan summary says {entry.get('status')} but {step_folder} "
                           "holds no summary.json")
            break
        doc, carried = linked_document(plan, step, results)
        expected.extend(carried)
        try:
            instance = loader.validate(doc)
        except InputError as exc:
            out.append(f"{step.kind}: with the linked values the step is invalid: {exc.problems[0]}")
            break
        summary, tables = read_results(step_folder)
        out.extend(f"{step.kind}: {v}" for v in check_results(instance, summary, tables))
        out.extend(f"{step.kind}: {v}" for v in _compare_written_instance(step_folder / STEP_INSTANCE, instance))
        if entry is None:
            out.append(f"{step.kind}: missing from the plan summary's steps")
        else:
            if entry.get("status") != summary.get("status") and entry.get("status") != Status.ERROR.value:
                out.append(f"{step.kind}: the plan summary says {entry.get('status')}, "
                           f"its summary.json {summary.get('status')}")
            a, b = entry.get("objective"), summary.get("objective")
            if (a is None) != (b is None) or (a is not None and not close(float(a), float(b))):
                out.append(f"{step.kind}: the plan summary's objective {a} differs from its summary.json's {b}")
        if summary.get("status") not in ("optimal", "feasible"):
            break
        results[step.kind] = tables
    out.extend(_compare_links(folder / LINKS_CSV, expected))
    return out


def _compare_written_instance(path: Path, rebuilt: Instance) -> list[str]:
    """The edited instance written beside the results must be the one the links make."""
    if not path.is_file():
        return [f"{path} is missing (the edited step instance)"]
    try:
        written = loader.load(path)
    except InputError as exc:
        return [f"{path} is invalid: {exc.problems[0]}"]
    out = []
    for name, rows in rebuilt.tables.items():
        if [r.model_dump() for r in rows] != [r.model_dump() for r in written[name]]:
            out.append(f"{path.name}: table '{name}' differs from the step file with the linked values")
    return out


def _compare_links(path: Path, expected: list[Carried]) -> list[str]:
    if not path.is_file():
        return [f"{path} is missing"]
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in LINK_COLUMNS[:5] if c not in frame.columns]
    if missing:
        return [f"{LINKS_CSV} lacks column(s) {', '.join(missing)}"]
    frame = numeric(frame, "value")
    written = {(r["from"], r["to"], r["product"], r["field"]): r["value"] for r in frame.to_dict("records")}
    out = []
    for c in expected:
        key = (c.link.source, c.link.target, c.product, c.link.field)
        shown = f"{c.link.source} → {c.link.target} {c.link.field} of {c.product}"
        if key not in written:
            out.append(f"{LINKS_CSV}: no row for {shown} (the {c.link.source} results give {c.value:,.6g})")
            continue
        value = written.pop(key)
        if not close(value, c.value, tol(c.value)):
            out.append(f"{LINKS_CSV}: {shown} is {value:,.6g} but the {c.link.source} results give {c.value:,.6g}")
    for key in written:
        out.append(f"{LINKS_CSV}: row {'/'.join(key)} is not a link of this plan's results")
    return out


# -- text for the command line ------------------------------------------------------------------


def describe(plan: Plan) -> str:
    """`stockpile validate` of a plan: its steps and the links that will run."""
    lines = [f"valid plan '{plan.name}': {len(plan.steps)} steps"]
    for step in plan.steps:
        periods = f", {step.instance.periods} periods" if step.instance.periods else ""
        lines.append(f"  {step.kind:<10s} {step.shown} ('{step.instance.name}'{periods})")
    for ln in plan.links():
        matched = ln.matched(plan.step(ln.source).instance, plan.step(ln.target).instance)
        at = f" at the end of period {plan.crisis_period}" if ln.source == "rotation" else ""
        lines.append(f"  link {ln.switch}: {ln.source} → {ln.target} {ln.field}{at} ({', '.join(matched)})")
    off = [s for s in SWITCHES if not plan.switches[s]]
    if off:
        lines.append(f"  switched off: {', '.join(off)}")
    return "\n".join(lines)


def render(result: PlanResult) -> str:
    """The plan's outcome: each step's status and objective, then the linked values."""
    lines = [f"plan '{result.name}': {result.status}"]
    for s in result.steps:
        objective = f"  objective {s.result.objective:>16,.2f}" if s.result and s.result.objective is not None else ""
        lines.append(f"  {s.kind:<10s} {s.status:<10s}{objective}")
        if s.reason and s.status not in ("optimal", "feasible"):
            lines.append(f"    reason: {s.reason}")
    for c in result.links:
        replaced = f" (was {_figure(c.replaced)})" if c.replaced is not None else ""
        lines.append(f"  {c.link.source} → {c.link.target} {c.link.field} {c.product}: {_figure(c.value)}{replaced}")
    lines.append(f"wrote {len([s for s in result.steps if s.result])} step folders, {LINKS_CSV} and summary.json "
                 f"to {result.folder}")
    return "\n".join(lines)


def _figure(value: float) -> str:
    """Units with thousands separators, prices with their significant digits."""
    if abs(value) >= 1000:
        return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"
    return f"{value:.6g}"
