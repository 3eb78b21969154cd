"""The wheel installs the engine under the one name `stockpile` (no generic top-level names)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAPPING = {"optimizer": "stockpile", "models": "stockpile.models", "instances": "stockpile.instances"}


def _config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]


def test_every_package_folder_is_installed_under_stockpile():
    listed = set(_config()["packages"])
    found = set()
    for folder, name in MAPPING.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((name, *parts)))
    assert found - listed == set(), f"package folders missing from pyproject.toml: {sorted(found - listed)}"
    assert listed - found == set(), f"pyproject.toml lists packages with no folder: {sorted(listed - found)}"


def test_package_dir_maps_the_repository_layout():
    assert _config()["package-dir"] == {v: k for k, v in MAPPING.items()}


def test_the_api_imports_as_stockpile():
    import stockpile as sp
    from stockpile.models import known_kinds

    assert callable(sp.load) and callable(sp.solve) and callable(sp.check)
    assert set(known_kinds()) >= {"sourcing", "ironstock", "rotation", "allocation"}
    assert Path(sp.__file__).parent.name in ("optimizer", "stockpile")
