"""The result of a solve: summary, objective terms, KPIs and labelled tables; and writing them."""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import InputError, Problem
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
    # the instance solved: {"file": absolute path, "description": text}, for the report
    instance: dict[str, Any] = field(default_factory=dict)

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
        if self.instance:
            out["instance"] = self.instance
        return _jsonable(out)

    def files(self) -> dict[str, str]:
        """The files of this run: one CSV per table and summary.json (name -> text)."""
        out = {f"{name}.csv": frame.to_csv(index=False, lineterminator="\n") for name, frame in self.tables.items()}
        out["summary.json"] = json.dumps(self.summary(), indent=2, ensure_ascii=False) + "\n"
        return out

    def write(self, folder: str | Path, extra: dict[str, str | bytes] | None = None) -> list[Path]:
        """Write the run's files (and `extra` ones, e.g. the report) to `folder` as one set.

        The folder ends up holding exactly this run's files, or is left as it was; a folder
        holding files stockpile did not write is refused (InputError). See `write_run`.
        """
        return write_run(folder, {**self.files(), **(extra or {})})


# -- results folders ------------------------------------------------------------------------
# A results folder holds the files of one run and nothing else. It is written as a set:
# built in a hidden sibling folder, then swapped in by two renames, so a crash or Ctrl-C
# leaves either the old run or the new one, never a mix. MANIFEST lists the files a run
# wrote; a folder holding anything else is not ours to replace.

MANIFEST = ".stockpile-run.json"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def foreign_files(folder: Path) -> list[str]:
    """Entries of an existing folder that no stockpile run wrote (sorted)."""
    names = sorted(p.name for p in folder.iterdir())
    ours = {MANIFEST}
    manifest = folder / MANIFEST
    if manifest.is_file():
        try:
            ours.update(json.loads(manifest.read_text(encoding="utf-8")).get("files", []))
        except (ValueError, AttributeError, OSError):
            return names  # an unreadable manifest proves nothing
    return [n for n in names if n not in ours]


def prepare_out(folder: str | Path, inputs: tuple[str | Path, ...] = ()) -> Path:
    """Check, before any solve, that `folder` can become a results folder; returns its real path.

    Refused (InputError, exit 2): an empty name, the current folder or one of its parents, a
    path under a file or that cannot be created or written, a folder holding files stockpile
    did not write, and a folder holding one of `inputs` (the instance file).
    """
    text = str(folder)
    if not text.strip():
        raise InputError(Problem("--out is empty: name a folder for the results, e.g. --out results"))
    path = Path(os.path.realpath(os.path.expanduser(text)))
    cwd = Path(os.path.realpath(os.getcwd()))
    if path == cwd or path in cwd.parents:
        raise InputError(Problem(f"--out {text} is the current folder (or holds it): results go to a folder of "
                                 "their own, e.g. --out results"))
    for item in inputs:
        real = Path(os.path.realpath(item))
        if path == real.parent or path in real.parents:
            raise InputError(Problem(f"--out {text} holds the instance {item}: writing the results there would "
                                     "replace its input files; choose another folder, e.g. --out results"))
    if path.exists() or path.is_symlink():
        if not path.is_dir():
            raise InputError(Problem(f"--out {text} exists and is not a folder"))
        try:
            foreign = foreign_files(path)
        except OSError as exc:
            raise InputError(Problem(f"--out {text} cannot be read: {exc.strerror or exc}")) from None
        if foreign:
            shown = ", ".join(foreign[:4]) + (f" and {len(foreign) - 4} more" if len(foreign) > 4 else "")
            raise InputError(Problem(f"--out {text} holds files stockpile did not write ({shown}); results replace "
                                     "their folder as a whole, so choose an empty or new folder"))
    parent = path.parent
    for above in [parent, *parent.parents]:
        if above.exists():
            if not above.is_dir():
                raise InputError(Problem(f"--out {text} is under the file {above}, which is not a folder"))
            break
    try:
        parent.mkdir(parents=True, exist_ok=True)
        probe = tempfile.mkdtemp(prefix=f".{path.name}.probe-", dir=parent)
        os.rmdir(probe)
    except OSError as exc:
        raise InputError(Problem(f"--out {text} cannot be written: {parent}: {exc.strerror or exc}")) from None
    return path


def write_run(folder: str | Path, files: dict[str, str | bytes]) -> list[Path]:
    """Replace `folder` by a folder holding exactly `files` (name -> text or bytes), all or nothing."""
    target = prepare_out(folder)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-", dir=target.parent))
    old: Path | None = None
    try:
        os.chmod(staging, 0o777 & ~_umask())
        for name, content in files.items():
            _write_file(staging / name, content)
        _write_file(staging / MANIFEST, json.dumps({"files": sorted(files)}, indent=1) + "\n")
        _fsync_dir(staging)
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
            os.replace(target, old / "run")  # the old run, kept until the new one is in place
        try:
            os.replace(staging, target)
        except BaseException:
            if old is not None:
                os.replace(old / "run", target)
            raise
        _fsync_dir(target.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if old is not None and not (old / "run").exists():
            shutil.rmtree(old, ignore_errors=True)  # the old run is back in place (or was never moved)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return [target / name for name in files]


def _write_file(path: Path, content: str | bytes) -> None:
    data = content.encode("utf-8") if isinstance(content, str) else content
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:  # created with the usual umask permissions
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: Path, text: str | bytes) -> Path:
    """Write to a temporary file beside `path`, then rename it over `path` (usual umask permissions).

    A file added this way to a results folder is recorded in its manifest, so that a later
    run may replace the folder.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            fh.write(text.encode("utf-8") if isinstance(text, str) else text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _record(path)
    return path


def _record(path: Path) -> None:
    manifest = path.parent / MANIFEST
    if not manifest.is_file() or path.name == MANIFEST:
        return
    try:
        files = json.loads(manifest.read_text(encoding="utf-8")).get("files", [])
    except (ValueError, AttributeError, OSError):
        return
    if path.name not in files:
        atomic_write(manifest, json.dumps({"files": sorted([*files, path.name])}, indent=1) + "\n")


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
