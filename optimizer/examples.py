"""The shipped example instances: a registry discovered from the `instances` package.

Each example is a folder `instances/<name>/` holding `instance.yaml` (or .json), its table
files, a README.md, and optionally `expected.yaml` with the known objective and the gap it
was solved to (regression tests use it).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from .errors import InputError, Problem, did_you_mean


@dataclass(frozen=True)
class Example:
    name: str
    kind: str
    description: str
    folder: Path
    file: Path
    expected: dict

    @property
    def title(self) -> str:
        return self.description.strip().splitlines()[0] if self.description.strip() else ""


def root() -> Path:
    return Path(str(resources.files("stockpile.instances")))


def examples() -> list[Example]:
    out = []
    for folder in sorted(p for p in root().iterdir() if p.is_dir() and not p.name.startswith(("_", "."))):
        files = [folder / n for n in ("instance.yaml", "instance.yml", "instance.json") if (folder / n).is_file()]
        if not files:
            continue
        head = yaml.safe_load(files[0].read_text(encoding="utf-8-sig")) or {}
        expected_path = folder / "expected.yaml"
        expected = yaml.safe_load(expected_path.read_text()) if expected_path.is_file() else {}
        out.append(Example(folder.name, str(head.get("kind", "?")), str(head.get("description", "")),
                           folder, files[0], expected or {}))
    return out


def find(name: str) -> Example:
    found = {e.name: e for e in examples()}
    if name not in found:
        raise InputError(Problem(f"no example named '{name}'" + did_you_mean(name, found)
                                 + "; run `stockpile examples` to list them"))
    return found[name]


def copy_to(name: str, destination: str | Path) -> Path:
    """Copy an example's folder to destination/<name>; returns the copied instance file."""
    example = find(name)
    target = Path(destination) / example.name
    if target.exists():
        raise InputError(Problem(f"{target} already exists; choose another destination"))
    shutil.copytree(example.folder, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "__init__.py"))
    return target / example.file.name
