"""The `stockpile` command line: parses arguments and calls the Python API, nothing more."""

from __future__ import annotations

import functools
import json
import os
import sys

import click

from . import api, examples as example_registry
from .errors import InputError, SolveFailure
from .results import Result
from .solver import SolveOptions

EXIT_INVALID = 2
EXIT_FAILURE = 3


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
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:  # a bug or an environment problem: say so plainly
            if os.environ.get("STOCKPILE_DEBUG"):
                raise
            _fail(f"internal error: {type(exc).__name__}: {exc} (set STOCKPILE_DEBUG=1 for the traceback)",
                  EXIT_FAILURE)

    return wrapper


def solver_options(func):
    """The solver flags shared by `solve` and `sweep`."""
    for option in reversed([
        click.option("--time-limit", type=click.FloatRange(min=0), default=None,
                     help="Stop after this many seconds and keep the best solution found."),
        click.option("--mip-gap", type=click.FloatRange(min=0), default=1e-4, show_default=True,
                     help="Relative optimality gap at which a solution counts as optimal."),
        click.option("--threads", type=click.IntRange(min=1), default=None,
                     help="Solver threads (HiGHS's MIP search itself is serial)."),
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
    """Check INSTANCE against its schema and rules, without solving."""
    inst = api.load(instance)
    counts = ", ".join(f"{name} {len(rows)}" for name, rows in inst.tables.items() if rows)
    periods = f", {inst.periods} periods" if inst.periods else ""
    click.echo(f"valid {inst.kind} instance '{inst.name}'{periods}: {counts}")
    for warning in inst.warnings:
        click.echo(f"warning: {warning}", err=True)


@main.command()
@click.argument("instance", type=click.Path(dir_okay=False))
@click.option("--out", "-o", "out", type=click.Path(file_okay=False), required=True,
              help="Folder for summary.json and the result tables (created if missing).")
@solver_options
@click.option("--json", "as_json", is_flag=True, help="Print summary.json instead of the readable summary.")
@guarded
def solve(instance, out, time_limit, mip_gap, threads, lp_method, verbose, elastic, as_json):
    """Solve INSTANCE and write its results to --out."""
    inst = api.load(instance)
    for warning in inst.warnings:
        click.echo(f"warning: {warning}", err=True)
    options = SolveOptions(time_limit=time_limit, mip_gap=mip_gap, threads=threads, verbose=verbose,
                           lp_method=lp_method, progress=True, elastic=elastic)
    result = api.solve(inst, options)
    written = result.write(out)
    if as_json:
        click.echo(json.dumps(result.summary(), indent=2))
    else:
        click.echo(render_summary(result))
        click.echo(f"wrote {len(written)} files to {out}")
    if result.exit_code:
        click.echo(f"{result.status.value}: {result.reason}", err=True)
    sys.exit(result.exit_code)


@main.command()
@click.argument("instance", type=click.Path(dir_okay=False))
@click.argument("results", type=click.Path(file_okay=False))
@guarded
def check(instance, results):
    """Re-verify the solution in RESULTS against every rule of INSTANCE.

    Uses only the written files (summary.json and the CSV tables), not the solver.
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
    from models import known_kinds

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
