"""A seeded mutator over the shipped examples: whatever the damage, the answer is exit 0 or
exit 2 with located messages -- never a traceback, an internal error, or a file written
outside --out."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from stockpile.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ["sourcing-nl-ppe", "sourcing-eu-gloves", "ironstock-nl", "rotation-nl-reserve", "allocation-nl-crisis"]
CASES = 300
SOLVED_EVERY = 30  # every 30th sourcing-nl-ppe case is also solved (about 0.5 s each)

JUNK = ["", " ", "nan", "NaN", "inf", "-inf", "1e999", "-1", "-0", "1_000", "0x10", "0o17", "1:30", "9" * 500,
        "abc", "true", "null", "\u2028", "\u0085", "\f", '"', "'", "1,5", "1;5", "2027-13-01", "2027-01-04",
        "x" * 200_000, "\x00", "é", "[1, 2]", "{a: 1}", "*alias", "&anchor x", "!!python/object:os.system ls",
        "10" + "0" * 400, "1e-400", "+5", ".5", "5."]

YAML_DAMAGE = [
    lambda text, rng: text + "\nkind: sourcing\n",  # duplicate top-level key
    lambda text, rng: text + "\nsettings: {}\n",
    lambda text, rng: text + "\ndescription: " + "[" * 3000 + "]" * 3000 + "\n",
    lambda text, rng: text + "\nname: &a [" + ",".join(["x"] * 9) + "]\n" + "".join(
        f"n{i}: &a{i} [" + ",".join(["*a" if i == 0 else f"*a{i - 1}"] * 9) + "]\n" for i in range(8)),
    lambda text, rng: text[: rng.randrange(len(text))],  # truncated
    lambda text, rng: _replace_value(text, rng),
    lambda text, rng: text.replace("periods:", "periods: " + rng.choice(JUNK) + " #", 1),
    lambda text, rng: text + f"\nstart_date: {rng.choice(['2027-01-04', '2027-02-30', 'soon', '1'])}\n",
    lambda text, rng: text + "\nunknwon_key: 1\n",
]


def _replace_value(text: str, rng: random.Random) -> str:
    lines = text.splitlines()
    candidates = [i for i, line in enumerate(lines) if ": " in line and not line.lstrip().startswith("#")]
    if not candidates:
        return text
    i = rng.choice(candidates)
    key = lines[i].split(": ", 1)[0]
    lines[i] = f"{key}: {rng.choice(JUNK)!r}" if rng.random() < 0.5 else f"{key}: {rng.choice(JUNK)}"
    return "\n".join(lines) + "\n"


def _damage_csv(path: Path, rng: random.Random) -> None:
    text = path.read_text(encoding="utf-8-sig")
    lines = text.splitlines()
    kind = rng.randrange(6)
    if kind == 0 and len(lines) > 1:  # one cell replaced
        i = rng.randrange(1, len(lines))
        cells = lines[i].split(",")
        j = rng.randrange(len(cells))
        junk = rng.choice(JUNK)
        cells[j] = f'"{junk}"' if rng.random() < 0.5 and '"' not in junk else junk
        lines[i] = ",".join(cells)
    elif kind == 1:  # a header name misspelt
        cells = lines[0].split(",")
        j = rng.randrange(len(cells))
        cells[j] = cells[j][::-1] + "x"
        lines[0] = ",".join(cells)
    elif kind == 2 and len(lines) > 1:  # a row repeated (duplicate key)
        lines.append(lines[rng.randrange(1, len(lines))])
    elif kind == 3 and len(lines) > 1:  # a cell too many
        i = rng.randrange(1, len(lines))
        lines[i] += ",extra"
    elif kind == 4:  # header only
        lines = lines[:1]
    else:  # whole file as semicolons with decimal commas, one cell damaged
        lines = [line.replace(",", ";") for line in lines]
        if len(lines) > 1:
            lines[-1] += ";" + rng.choice(JUNK)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def snapshot(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_size for p in folder.rglob("*") if p.is_file()}


def located(line: str) -> bool:
    """An error line names a file (the instance or one of its tables)."""
    return any(marker in line for marker in (".yaml", ".json", ".csv", ".xlsx"))


@pytest.mark.parametrize("case", range(CASES))
def test_damaged_example_is_exit_0_or_located_exit_2(tmp_path, case):
    rng = random.Random(1000 + case)
    example = rng.choice(EXAMPLES)
    folder = tmp_path / "instance"
    shutil.copytree(ROOT / "instances" / example, folder)
    instance = folder / "instance.yaml"
    tables = sorted(folder.glob("*.csv"))
    if tables and rng.random() < 0.6:
        _damage_csv(rng.choice(tables), rng)
    else:
        instance.write_text(rng.choice(YAML_DAMAGE)(instance.read_text(), rng), encoding="utf-8")
    before = snapshot(tmp_path)

    result = CliRunner().invoke(main, ["validate", str(instance)])
    assert result.exit_code in (0, 2), (example, result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output and "internal error" not in result.output
    if result.exit_code == 2:
        errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
        assert errors, result.output
        assert all(located(line) for line in errors), result.output
    assert snapshot(tmp_path) == before  # validate writes nothing

    if example == "sourcing-nl-ppe" and case % SOLVED_EVERY == 0:
        out = tmp_path / "out"
        solved = CliRunner().invoke(main, ["solve", str(instance), "--out", str(out), "--threads", "1",
                                           "--time-limit", "20"])
        assert solved.exit_code in (0, 1, 2), solved.output
        assert "Traceback" not in solved.output and "internal error" not in solved.output
        after = {k: v for k, v in snapshot(tmp_path).items() if not k.startswith("out/")}
        assert after == before  # nothing written outside --out
        if solved.exit_code == 2:
            assert not out.exists()
