"""One solve as a task that can run anywhere: a read document in, the result files out.

The worker (a pool process or a Dask worker on another machine) validates and solves the
document and writes its results into a temporary folder of its own; the files come back as
bytes and the calling process writes them under --out. So the output folder needs no
filesystem shared with the workers, and it is the same whichever back-end ran the solve.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import loader
from .results import MANIFEST, write_run
from .solver import SolveOptions, Status


@dataclass
class Solved:
    """What a task sends back: summary.json as a dict, every written file, the model's
    decision columns for sweep.csv."""

    summary: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)  # path relative to the results folder
    columns: dict[str, Any] = field(default_factory=dict)


def solve_document(document: loader.Document, options: SolveOptions) -> Solved:
    """Validate, solve and render one document (runs on a worker)."""
    from .api import solve

    instance = loader.validate(document)
    result = solve(instance, options)
    columns_of = instance.model.sweep_columns
    columns = dict(columns_of(result)) if columns_of is not None and result.status.has_solution else {}
    with tempfile.TemporaryDirectory(prefix="stockpile-") as tmp:
        result.write(tmp)
        files = {p.relative_to(tmp).as_posix(): p.read_bytes() for p in sorted(Path(tmp).rglob("*")) if p.is_file()}
    return Solved(result.summary(), files, columns)


def write_files(folder: Path, files: dict[str, bytes]) -> None:
    """Replace folder by the returned files, as one set (all or nothing), like a local solve."""
    write_run(folder, {rel: data for rel, data in files.items() if rel != MANIFEST})


def failed_summary(failures: list[str]) -> dict[str, Any]:
    """summary of a task that failed on every try (it has no results folder)."""
    if len(failures) > 1 and len(set(failures)) == 1:
        reason = f"failed on all {len(failures)} tries: {failures[0]}"
    elif len(failures) > 1:
        reason = "failed on every try: " + "; then ".join(failures)
    else:
        reason = f"failed: {failures[0]}" if failures else "failed"
    return {"status": Status.ERROR.value, "reason": reason}
