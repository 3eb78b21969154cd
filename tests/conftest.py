"""Shared fixtures: write small instances to a temporary folder."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml


@pytest.fixture
def write_instance(tmp_path: Path):
    """write_instance(doc, name='instance.yaml', files={'x.csv': 'a,b\\n1,2\\n'}) -> path."""

    def write(doc: dict, name: str = "instance.yaml", files: dict[str, str] | None = None) -> Path:
        for rel, text in (files or {}).items():
            target = tmp_path / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        path = tmp_path / name
        path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
        return path

    return write
