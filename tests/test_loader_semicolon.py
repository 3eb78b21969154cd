"""CSV as Excel writes it in Dutch locales: ';' between cells and decimal commas."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

import stockpile as sp
from stockpile.errors import InputError
from stockpile.loader import numeric_fields

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ["sourcing-nl-ppe", "ironstock-nl", "rotation-nl-reserve", "allocation-nl-crisis"]


def to_dutch_excel(source: Path, target: Path, numeric: set[str]) -> None:
    """Rewrite a comma CSV as ';'-separated with decimal commas in the numeric columns."""
    with open(source, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    header = rows[0]
    out = [header]
    for row in rows[1:]:
        out.append([cell.replace(".", ",") if name in numeric else cell for name, cell in zip(header, row)])
    with open(target, "w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh, delimiter=";", lineterminator="\r\n").writerows(out)


@pytest.mark.parametrize("example", EXAMPLES)
def test_each_shipped_example_loads_the_same_from_semicolon_csv(tmp_path, example):
    folder = tmp_path / example
    shutil.copytree(ROOT / "instances" / example, folder)
    original = sp.load(folder / "instance.yaml")
    converted = 0
    for name, origin in original.origins.items():
        if not origin.file.endswith(".csv"):
            continue
        path = Path(origin.file)
        numeric = numeric_fields(original.model.tables[name].row)
        to_dutch_excel(path, path, numeric)
        assert ";" in path.read_text(encoding="utf-8-sig").splitlines()[0]
        converted += 1
    assert converted >= 3
    dutch = sp.load(folder / "instance.yaml")
    assert dutch.tables == original.tables
    assert {n: o.lines for n, o in dutch.origins.items()} == {n: o.lines for n, o in original.origins.items()}


def write(tmp_path: Path, products_csv: str) -> Path:
    (tmp_path / "products.csv").write_text(products_csv, encoding="utf-8")
    path = tmp_path / "instance.yaml"
    path.write_text("kind: sourcing\nproducts: {file: products.csv}\nsuppliers: [{id: A, region: EU}]\n"
                    "offers: [{supplier: A, product: mask, unit_price: 1.5}]\n")
    return path


def test_decimal_comma_in_numbers_text_untouched(tmp_path):
    path = write(tmp_path, "id;demand;max_supplier_share;notes\nmask;1250,5;0,75;a note, with a comma\n")
    (product,) = sp.load(path)["products"]
    assert (product.demand, product.max_supplier_share, product.notes) == (1250.5, 0.75, "a note, with a comma")


def test_a_point_in_a_decimal_comma_file_is_refused(tmp_path):
    path = write(tmp_path, "id;demand\nmask;1.250\n")
    with pytest.raises(InputError) as info:
        sp.load(path)
    (msg,) = [str(p) for p in info.value.problems]
    assert "products.csv" in msg and "row 1 (line 2)" in msg and "field 'demand'" in msg
    assert "decimals are written with a comma" in msg


def test_a_comma_file_is_read_as_before(tmp_path):
    path = write(tmp_path, "id,demand,notes\nmask,1250.5,\"semi;colon\"\n")
    (product,) = sp.load(path)["products"]
    assert (product.demand, product.notes) == (1250.5, "semi;colon")


def test_other_rules_unchanged_in_semicolon_files(tmp_path):
    path = write(tmp_path, "id;demand\nmask;1;2\n")
    with pytest.raises(InputError) as info:
        sp.load(path)
    assert "3 cells but the header has 2 columns" in str(info.value)
