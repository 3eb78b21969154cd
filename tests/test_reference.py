"""docs/fields.md is generated from the schemas and must not drift from them."""

from pathlib import Path

from click.testing import CliRunner

from stockpile.cli import main
from stockpile.reference import markdown

DOC = Path(__file__).resolve().parents[1] / "docs" / "fields.md"


def test_fields_doc_is_current():
    assert DOC.read_text(encoding="utf-8") == markdown(), (
        "docs/fields.md is stale: run `python -m stockpile.reference > docs/fields.md`")


def test_every_field_has_a_meaning():
    blank = [line for line in markdown().splitlines() if line.startswith("| `") and line.endswith("|  |")]
    assert blank == []


def test_fields_command_prints_one_model():
    result = CliRunner().invoke(main, ["fields", "rotation"])
    assert result.exit_code == 0
    assert "## rotation" in result.output and "## sourcing" not in result.output
    assert "| `min_remaining_life` |" in result.output
