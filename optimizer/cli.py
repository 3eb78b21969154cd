"""The `stockpile` command line: parses arguments and calls the Python API, nothing more."""

from __future__ import annotations

import functools
import json
import math
import os
import sys
import time

import click

from . import api, examples as example_registry, plan as planning
from .deadline import TimeLimitReached, watchdog
from .errors import InputError, SolveFailure
from .results import Result
from .schema import parse_number
from .solver import SolveOptions

EXIT_INVALID = 2
EXIT_FAILURE = 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a command stopped by Ctrl-C


def _fail(message: str, code: int) -> None:
    click.echo(message, err=True)
    sys.exit(code)


def guarded(func):
    """Bad input -> exit 2 with its problems; any other failure -> exit 3, no traceback."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except InputError as exc:
            lines = [f"error: {p}" for p in exc.problems]
            _fail("\n".join(lines), EXIT_INVALID)
        except SolveFailure as exc:
            _fail(f"error: {exc}", EXIT_FAILURE)
        except TimeLimitReached as exc:
            _fail(f"error: {exc}", EXIT_FAILURE)
        except KeyboardInterrupt:
            _fail("interrupted (Ctrl-C): stopped, nothing written", EXIT_INTERRUPTED)
        except SystemExit:
            raise
        except Exception as exc:  # a bug or an environment problem: say so plainly
            if os.environ.get("STOCKPILE_DEBUG"):
                raise
            _fail(f"internal error: {type(exc).__name__}: {exc} (set STOCKPILE_DEBUG=1 for the traceback)",
                  EXIT_FAILURE)

    return wrapper


MAX_THREADS_PER_CORE = 4  # more solver threads than this only adds contention


def max_threads() -> int:
    return max(1, (os.cpu_count() or 1) * MAX_THREADS_PER_CORE)


class FiniteNumber(click.ParamType):
    """A finite decimal number within [low, high] (nan, inf and '1_000' are refused)."""

    name = "number"

    def __init__(self, low: float | None = None, high: float | None = None, low_open: bool = False):
        self.low, self.high, self.low_open = low, high, low_open

    def convert(self, value, param, ctx):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        else:
            try:
                number = float(parse_number(str(value)))
            except ValueError:
                self.fail(f"expected a finite decimal number, got {value!r}", param, ctx)
        if not math.isfinite(number):
            self.fail(f"expected a finite number, got {value!r}", param, ctx)
        if self.low is not None and (number < self.low or (self.low_open and number == self.low)):
            self.fail(f"expected a number {'>' if self.low_open else '≥'} {self.low:g}, got {value!r}", param, ctx)
        if self.high is not None and number > self.high:
            self.fail(f"expected a number ≤ {self.high:g}, got {value!r}", param, ctx)
        return number


class ThreadCount(click.ParamType):
    """A whole number of threads from 1 to 4 per core of this machine."""

    name = "integer"

    def convert(self, value, param, ctx):
        text = str(value).strip()
        if not text.isdigit() or len(text) > 12:
            self.fail(f"expected a whole number of threads from 1 to {max_threads()}, got {value!r}", param, ctx)
        number = int(text)
        if not 1 <= number <= max_threads():
            self.fail(f"expected 1 to {max_threads()} threads ({MAX_THREADS_PER_CORE} per core of this machine's "
                      f"{os.cpu_count()}), got {number}", param, ctx)
        return number


def solver_options(func):
    """The solver flags shared by `solve` and `sweep`."""
    for option in reversed([
        click.option("--time-limit", type=FiniteNumber(0, low_open=True), default=None,
                     help="Stop after this many seconds (loading and building included) and keep the best "
                          "solution found."),
        click.option("--mip-gap", type=FiniteNumber(0, 1), default=1e-4, show_default=True,
                     help="Relative optimality gap at which a solution counts as optimal (0 to 1)."),
        click.option("--threads", type=ThreadCount(), default=None,
                     help="Solver threads, at most 4 per core (HiGHS's MIP search itself is serial)."),
        click.option("--lp-method", type=click.Choice(["choose", "simplex", "ipm", "pdlp"]), default="choose",
                     show_default=True, help="LP algorithm HiGHS uses."),
        click.option("--verbose", "-v", is_flag=True, help="Show the HiGHS log instead of progress lines."),
        click.option("--elastic/--no-elastic", default=None,
                     help="Make demands, targets, floors and needs soft (a plan with shortfall.csv even when "
                          "no plan meets them all)  [default: the instance's settings.elastic]"),
    ]):
        func = option(func)
    return func


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="stockpile")
def main():
    """Optimise medical stockpile and sourcing decisions.

    Four models: sourcing (split volume across suppliers), ironstock (size a strategic
    reserve), rotation (keep a rolling reserve fresh), allocation (share scarce items
    fairly). An instance is a YAML/JSON file; see `stockpile examples`.

    Exit codes: 0 solved, 1 infeasible or unbounded, 2 invalid input, 3 other failure.
    """


@main.command()
@click.argument("instance", type=click.Path(dir_okay=False))
@guarded
def validate(instance):
    """Check INSTANCE against its schema and rules, without solving.

    A `kind: plan` file: every step file and every link.
    """
    inst = api.load(instance)
    if isinstance(inst, planning.Plan):
        click.echo(planning.describe(inst))
        for warning in inst.warnings:
            click.echo(f"warning: {warning}", err=True)
        return
    counts = ", ".join(f"{name} {len(rows)}" for name, rows in inst.tables.items() if rows)
    periods = f", {inst.periods} periods" if inst.periods else ""
    click.echo(f"valid {inst.kind} instance '{inst.name}'{periods}: {counts}")
    for warning in inst.warnings:
        click.echo(f"warning: {warning}", err=True)


@main.command()
@click.argument("instance", type=click.Path(dir_okay=False))
@click.option("--out", "-o", "out", type=click.Path(), required=True,
              help="Folder for summary.json, the result tables, results.xlsx and report.html (created if "
                   "missing; a former results folder is replaced as a whole).")
@solver_options
@click.option("--json", "as_json", is_flag=True, help="Print summary.json instead of the readable summary.")
@click.option("--no-report", is_flag=True, help="Write only summary.json and the CSV tables (no results.xlsx, "
                                                "no report.html), e.g. in a batch run.")
@guarded
def solve(instance, out, time_limit, mip_gap, threads, lp_method, verbose, elastic, as_json, no_report):
    """Solve INSTANCE and write its results to --out.

    --time-limit covers the whole run: loading, building and solving (see docs/engine.md).
    Ctrl-C stops the solver, writes nothing and exits with code 130.
    A `kind: plan` file: each step in --out/<kind>/, with --out/links.csv and --out/summary.json.
    """
    from .results import prepare_out

    started = time.monotonic()
    options = SolveOptions(time_limit=time_limit, mip_gap=mip_gap, threads=threads, verbose=verbose,
                           lp_method=lp_method, progress=True, elastic=elastic,
                           deadline=None if time_limit is None else started + time_limit)
    with watchdog(options.deadline):
        inst = api.load(instance)
        if isinstance(inst, planning.Plan):
            _solve_plan(inst, out, options, as_json, not no_report)
        prepare_out(out, (instance,))  # a folder that cannot take the results is refused before solving
        for warning in inst.warnings:
            click.echo(f"warning: {warning}", err=True)
        result = api.solve(inst, options)
    result.instance = {"file": os.path.realpath(instance), "description": inst.description.strip()}
    extra = {} if no_report else _report_files(result, inst)
    written = result.write(out, extra)
    if as_json:
        click.echo(json.dumps(result.summary(), indent=2))
    else:
        click.echo(render_summary(result))
        click.echo(f"wrote {len(written)} files to {out}")
    if result.exit_code:
        click.echo(f"{result.status.value}: {result.reason}", err=True)
    sys.exit(result.exit_code)


def _report_files(result: Result, inst) -> dict:
    """results.xlsx and report.html; a failure to draw them costs the report, never the results."""
    try:
        from . import report

        return report.files_for(result, inst)
    except Exception as exc:
        if os.environ.get("STOCKPILE_DEBUG"):
            raise
        click.echo(f"warning: the report was not written ({type(exc).__name__}: {exc}); the tables are; "
                   "remake it with `stockpile report`", err=True)
        return {}


@main.command()
@click.argument("results", type=click.Path(file_okay=False, exists=True))
@click.option("--xlsx", is_flag=True, help="Also remake results.xlsx.")
@click.option("--instance", "instance", type=click.Path(dir_okay=False, exists=True), default=None,
              help="The instance solved, for names and units  [default: the one recorded in summary.json].")
@guarded
def report(results, xlsx, instance):
    """Remake report.html (and results.xlsx with --xlsx) of the results folder RESULTS.

    A sweep folder (one holding sweep.csv) gets its sweep report.
    """
    from . import report as reporting

    if (os.path.isfile(os.path.join(results, "sweep.csv"))
            and not os.path.isfile(os.path.join(results, "summary.json"))):
        written = [reporting.render_sweep(results)]
    else:
        written = reporting.write_report(results, api.load(instance) if instance else None, xlsx=xlsx)
    for path in written:
        click.echo(f"wrote {path}")


@main.command()
@click.argument("first", type=click.Path(file_okay=False, exists=True))
@click.argument("second", type=click.Path(file_okay=False, exists=True))
@click.option("--out", "-o", "out", type=click.Path(), default=None,
              help="Folder for compare.csv and report.html of the comparison.")
@click.option("--all", "show_all", is_flag=True, help="List unchanged rows too.")
@guarded
def compare(first, second, out, show_all):
    """What changed from results folder FIRST to SECOND (same kind): decisions and KPIs.

    Exit code 0; 2 when the folders are not results of the same kind.
    """
    from . import compare as comparing

    if out is not None:
        from .results import prepare_out

        prepare_out(out)
    found = comparing.compare(first, second)
    click.echo(comparing.render_text(found, show_all=show_all))
    if out is not None:
        written = comparing.write(found, out)
        click.echo(f"wrote {len(written)} files to {out}")


def _solve_plan(chain, out, options: SolveOptions, as_json: bool, report: bool) -> None:
    for warning in chain.warnings:
        click.echo(f"warning: {warning}", err=True)

    def step_done(outcome):
        if not as_json:
            click.echo(render_summary(outcome.result))

    result = planning.solve(chain, out, options, on_step=step_done, report=report)
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    if as_json:
        click.echo(json.dumps(result.summary(), indent=2))
    else:
        click.echo(planning.render(result))
    if result.exit_code:
        click.echo(f"{result.status}: {result.summary()['reason']}", err=True)
    sys.exit(result.exit_code)


@main.command()
@click.argument("instance", type=click.Path(dir_okay=False))
@click.argument("results", type=click.Path(file_okay=False))
@guarded
def check(instance, results):
    """Re-verify the solution in RESULTS against every rule of INSTANCE.

    Uses only the written files (summary.json and the CSV tables), not the solver.
    A `kind: plan` file: every step, and every linked value against the tables it came from.
    Exit code 0 when every rule holds, 1 when a rule is violated.
    """
    violations = api.check(instance, results)
    if violations:
        for v in violations:
            click.echo(f"violation: {v}")
        _fail(f"{len(violations)} violation(s) found", 1)
    click.echo("ok: every rule holds and the objective matches the tables")


@main.command()
@click.argument("name", required=False)
@click.option("--to", "destination", type=click.Path(file_okay=False),
              help="Copy the example's folder into this folder.")
@guarded
def examples(name, destination):
    """List the shipped examples, or copy example NAME into --to."""
    if name is None:
        for ex in example_registry.examples():
            click.echo(f"{ex.name:32s} {ex.kind:11s} {ex.title}")
        return
    example = example_registry.find(name)
    if destination is None:
        click.echo(f"{example.name} ({example.kind}): {example.file}")
        click.echo(example.description.strip())
        return
    copied = example_registry.copy_to(name, destination)
    click.echo(f"copied to {copied.parent}; solve it with: stockpile solve {copied} --out results")


@main.command()
@click.argument("kind", required=False)
@guarded
def fields(kind):
    """Print the tables, fields, types and defaults of KIND (all models if omitted)."""
    from stockpile.models import known_kinds

    from .errors import Problem, did_you_mean
    from .reference import markdown

    if kind is not None and kind not in known_kinds():
        raise InputError(Problem(f"unknown kind '{kind}'" + did_you_mean(kind, known_kinds())))
    click.echo(markdown([kind] if kind else None), nl=False)


def executor_options(func):
    """Where the solves of `sweep` and `batch` run."""
    for option in reversed([
        click.option("--workers", type=click.IntRange(min=1), default=None,
                     help="Solves at once on this machine, each in its own process  "
                          "[default: min(solves, cores)]; with --scheduler local, the Dask workers."),
        click.option("--scheduler", default=None, metavar="local|ADDRESS",
                     help="Run the solves on Dask: 'local' starts a cluster on this machine, an address "
                          "(tcp://host:8786) uses a running `dask scheduler`  [default: a process pool]."),
    ]):
        func = option(func)
    return func


def _show_event(event) -> None:
    """One progress line per finished or retried task on stderr."""
    progress = event.progress
    if event.kind in ("retry", "notice"):
        again = "; trying once more" if event.kind == "retry" else ""
        click.echo(f"{progress.text()} {event.key}: {event.error}{again}", err=True)
        return
    row = event.row or {}
    objective = f", objective {row['objective']:,.2f}" if isinstance(row.get("objective"), float) else ""
    reason = f" ({row['reason']})" if row.get("reason") else ""
    click.echo(f"{progress.text()} {event.key}: {row.get('status')}{objective}{reason}", err=True)


@main.command()
@click.argument("instance", type=click.Path(dir_okay=False))
@click.option("--set", "sets", multiple=True, required=True, metavar="PATH=V1,V2,...",
              help="An input and its values: settings.<key>, <table>.<row id|*>.<field>, periods. "
                   "Repeat for a grid of every combination.")
@click.option("--out", "-o", "out", type=click.Path(file_okay=False), required=True,
              help="Folder for sweep.csv and one results folder per point (created if missing).")
@executor_options
@solver_options
@guarded
def sweep(instance, sets, out, workers, scheduler, time_limit, mip_gap, threads, lp_method, verbose, elastic):
    """Solve INSTANCE once per value of --set and tabulate the results in --out/sweep.csv.

    \b
    Example:
      stockpile sweep instance.yaml --set settings.budget=1e6,2e6,5e6 --out curve
      stockpile sweep instance.yaml --set settings.budget=1e6,2e6 --scheduler tcp://head:8786 --out curve

    Each point is solved with one solver thread (unless --threads says otherwise); a point
    that fails or whose worker dies is retried once, then reported as an error row.
    Exit code 0 when every point solved, 1 when some point is infeasible, 3 on errors.
    """
    from . import sweep as sweeping

    options = SolveOptions(time_limit=time_limit, mip_gap=mip_gap, threads=threads, verbose=verbose,
                           lp_method=lp_method, progress=False, elastic=elastic)
    result = sweeping.run(instance, list(sets), out, options, workers=workers, scheduler=scheduler,
                          on_event=_show_event)
    click.echo(result.frame.drop(columns=["reason"]).to_string(index=False))
    click.echo(f"wrote {result.csv} and {result.folders} result folders")
    sys.exit(result.exit_code)


@main.command()
@click.argument("instances", type=click.Path(file_okay=False))
@click.option("--out", "-o", "out", type=click.Path(file_okay=False), required=True,
              help="Folder for batch.csv and one results folder per instance (created if missing).")
@executor_options
@solver_options
@guarded
def batch(instances, out, workers, scheduler, time_limit, mip_gap, threads, lp_method, verbose, elastic):
    """Solve every instance in the folder INSTANCES; results in --out/<name>/ and --out/batch.csv.

    \b
    INSTANCES holds instance files (*.yaml, *.yml, *.json; results in --out/<file name>/)
    and/or folders with an instance.yaml (results in --out/<folder name>/).
    An invalid instance is a row with status 'invalid'; the others still run.
    Exit code 0 when every instance solved, 1 when some is infeasible, 2 when some is
    invalid, 3 on errors.
    """
    from . import batch as batching

    options = SolveOptions(time_limit=time_limit, mip_gap=mip_gap, threads=threads, verbose=verbose,
                           lp_method=lp_method, progress=False, elastic=elastic)
    result = batching.run(instances, out, options, workers=workers, scheduler=scheduler, on_event=_show_event)
    for problem in result.invalid:
        click.echo(f"invalid: {problem}", err=True)
    click.echo(result.frame.drop(columns=["reason"]).to_string(index=False))
    click.echo(f"wrote {result.csv} and {result.folders} result folders")
    sys.exit(result.exit_code)


def _number(value: float) -> str:
    """Readable figures: thousands separators for large numbers, 6 significant digits else."""
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)
    if value == int(value) and abs(value) < 1e15:
        return f"{value:,.0f}"
    return f"{value:,.2f}" if abs(value) >= 1000 else f"{value:.6g}"


def render_summary(result: Result) -> str:
    """A short human-readable summary of a result."""
    lines = [f"{result.kind} '{result.name}': {result.status.value}"]
    if result.objective is not None:
        gap = f" (gap {result.mip_gap:.4%})" if result.mip_gap is not None else ""
        lines.append(f"  objective  {result.objective:>18,.2f}{gap}")
        for term, value in result.objective_terms.items():
            lines.append(f"    {term:<12s} {value:>16,.2f}")
    if result.kpis:
        lines.append("  kpis")
        for key, value in result.kpis.items():
            if isinstance(value, float):
                value = _number(value)
            elif isinstance(value, dict):
                value = ", ".join(f"{k} {_number(v) if isinstance(v, float) else v}" for k, v in value.items())
            elif isinstance(value, list):
                value = json.dumps(value)
            lines.append(f"    {key:<28s} {value}")
    if result.reason:
        lines.append(f"  reason: {result.reason}")
    lines.append(f"  solve time {result.solve_seconds:.2f}s")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    main()
