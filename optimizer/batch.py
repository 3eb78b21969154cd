"""Batches: solve every instance of a folder, on any back-end of `stockpile.distributed`.

INSTANCES holds instance files (`*.yaml`, `*.yml`, `*.json`; results in `OUT/<file stem>/`)
and folders with an `instance.yaml|yml|json` (results in `OUT/<folder name>/`). Every
instance is read and validated here first, so an invalid one becomes a row with status
`invalid` (the others still run) and the workers need none of the input files. Results
stream back as instances finish; `OUT/batch.csv` has one row per instance.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd

from . import loader
from .distributed import Event, Executor, Outcome, Task, make_executor, run_tasks
from .errors import InputError, Problem
from .jobs import failed_summary, solve_document, write_files
from .results import atomic_write
from .solver import SolveOptions, Status

SUFFIXES = (".yaml", ".yml", ".json")
INVALID = "invalid"
COLUMNS = ["instance", "file", "kind", "status", "objective", "mip_gap", "solve_seconds", "reason"]


@dataclass
class BatchResult:
    frame: pd.DataFrame
    csv: Path
    folders: int = 0  # instances with a results folder
    invalid: list[Problem] = field(default_factory=list)  # every problem of the invalid instances

    @property
    def exit_code(self) -> int:
        """3 when some solve failed, else 2 when some instance is invalid, else 1 when some is
        infeasible or unbounded, else 0."""
        statuses = set(self.frame["status"]) if len(self.frame) else set()
        if Status.ERROR.value in statuses:
            return 3
        if INVALID in statuses:
            return 2
        if statuses & {Status.INFEASIBLE.value, Status.UNBOUNDED.value}:
            return 1
        return 0


def discover(folder: str | Path) -> list[tuple[str, Path]]:
    """(results folder name, instance file) of every instance in folder, sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(Problem(f"{folder}: no such folder (expected a folder of instance files)"))
    found: dict[str, Path] = {}

    def add(name: str, path: Path) -> None:
        if name in found:
            raise InputError(Problem(f"{path}: its results folder '{name}' is also that of {found[name]}; "
                                     "rename one of them"))
        found[name] = path

    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix.lower() in SUFFIXES:
            add(path.stem, path)
        elif path.is_dir():
            inside = [path / f"instance{suffix}" for suffix in SUFFIXES if (path / f"instance{suffix}").is_file()]
            if len(inside) > 1:
                raise InputError(Problem(f"{path}: holds {' and '.join(p.name for p in inside)}; keep one"))
            if inside:
                add(path.name, inside[0])
    if not found:
        raise InputError(Problem(f"{folder}: no instance in it (expected *.yaml, *.yml or *.json files, "
                                 "or folders with an instance.yaml)"))
    return sorted(found.items())


def run(instances: str | Path, out: str | Path, options: SolveOptions | None = None, workers: int | None = None,
        on_event: Callable[[Event], None] | None = None, scheduler: str | None = None,
        executor: Executor | None = None) -> BatchResult:
    """Solve every instance of the folder; write OUT/<name>/ per instance and OUT/batch.csv."""
    found = discover(instances)
    out = Path(out)
    options = options or SolveOptions()
    rows: dict[str, dict] = {}
    invalid: list[Problem] = []
    documents: dict[str, loader.Document] = {}
    for name, path in found:
        try:
            document = loader.read(path)
            instance = loader.validate(document)
        except InputError as exc:
            invalid.extend(exc.problems)
            rows[name] = _row(name, path, None, {"status": INVALID, "reason": "; ".join(map(str, exc.problems))})
            continue
        documents[name] = document
        rows[name] = _row(name, path, instance.kind, {})  # replaced when it is solved
    in_process = executor is None and scheduler is None and (workers == 1 or len(documents) == 1)
    task_options = dataclasses.replace(options, threads=options.threads or 1, progress=False,
                                       verbose=options.verbose and in_process)
    tasks = [Task(name, solve_document, (document, task_options)) for name, document in documents.items()]
    files = dict(found)

    def finished(event: Event) -> None:
        if event.kind == "done":
            rows[event.key] = _record(out, event.key, files[event.key], rows[event.key]["kind"], event.outcome)
        if on_event:
            on_event(dataclasses.replace(event, row=rows.get(event.key)) if event.kind == "done" else event)

    outcomes: dict[str, Outcome] = {}
    owned = executor is None and bool(tasks)
    if owned:
        executor = make_executor(scheduler, workers, len(tasks))
    out.mkdir(parents=True, exist_ok=True)
    try:
        if tasks:
            outcomes = run_tasks(executor, tasks, finished)
    finally:
        if owned:
            executor.close()
    frame = pd.DataFrame([rows[name] for name, _ in found], columns=COLUMNS)
    csv = atomic_write(out / "batch.csv", frame.to_csv(index=False, lineterminator="\n"))
    return BatchResult(frame, csv, sum(o.ok for o in outcomes.values()), invalid)


def _row(name: str, path: Path, kind: str | None, summary: dict) -> dict:
    return {"instance": name, "file": str(path), "kind": kind or "", "status": summary.get("status"),
            "objective": summary.get("objective"), "mip_gap": summary.get("mip_gap"),
            "solve_seconds": summary.get("solve_seconds"), "reason": summary.get("reason") or ""}


def _record(out: Path, name: str, path: Path, kind: str, outcome: Outcome) -> dict:
    """Write the instance's results folder (when it has one) and return its batch.csv row."""
    if not outcome.ok:
        return _row(name, path, kind, failed_summary(outcome.failures))
    write_files(out / name, outcome.value.files)
    return _row(name, path, kind, outcome.value.summary)
