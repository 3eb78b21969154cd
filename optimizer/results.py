"""The result of a solve: summary, objective terms, KPIs and labelled tables; and writing them."""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .solver import Status


@dataclass
class Result:
    kind: str
    name: str
    status: Status
    objective: float | None = None
    objective_terms: dict[str, float] = field(default_factory=dict)
    mip_gap: float | None = None
    solve_seconds: float = 0.0
    kpis: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    reason: str | None = None  # plain-language cause when infeasible/unbounded/error
    timings: dict[str, float] = field(default_factory=dict)
    solver: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        if self.status.has_solution:
            return 0
        if self.status in (Status.INFEASIBLE, Status.UNBOUNDED):
            return 1
        return 3

    def summary(self) -> dict[str, Any]:
        out = {
            "kind": self.kind,
            "name": self.name,
            "status": self.status.value,
            "objective": self.objective,
            "objective_terms": self.objective_terms,
            "mip_gap": self.mip_gap,
            "solve_seconds": round(self.solve_seconds, 6),
            "kpis": self.kpis,
        }
        if self.reason:
            out["reason"] = self.reason
        out["tables"] = sorted(f"{name}.csv" for name in self.tables)
        out["timings"] = {k: round(v, 6) for k, v in self.timings.items()}
        out["solver"] = self.solver
        return _jsonable(out)

    def write(self, folder: str | Path) -> list[Path]:
        """Write summary.json and one CSV per table; each file appears whole or not at all."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for name, frame in self.tables.items():
            written.append(atomic_write(folder / f"{name}.csv", frame.to_csv(index=False, lineterminator="\n")))
        text = json.dumps(self.summary(), indent=2, ensure_ascii=False) + "\n"
        written.append(atomic_write(folder / "summary.json", text))
        return written


def atomic_write(path: Path, text: str) -> Path:
    """Write to a temporary file beside `path`, then rename it over `path`."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _jsonable(value: Any) -> Any:
    """Plain JSON types; NaN/inf become null."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Status):
        return value.value
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()  # numpy scalar
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
