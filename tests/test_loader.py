"""Instance loading and validation rules shared by every model (exercised with sourcing)."""

from __future__ import annotations

import json

import pytest

import stockpile as sp
from stockpile.errors import InputError


def base() -> dict:
    return {
        "kind": "sourcing",
        "products": [{"id": "mask", "demand": 100}],
        "suppliers": [{"id": "A", "region": "EU"}],
        "offers": [{"supplier": "A", "product": "mask", "unit_price": 1.5}],
    }


def problems(path) -> list[str]:
    with pytest.raises(InputError) as info:
        sp.load(path)
    return [str(p) for p in info.value.problems]


def test_valid_instance_loads_with_defaults_and_file_stem_name(write_instance):
    inst = sp.load(write_instance(base(), name="tender.yaml"))
    assert inst.name == "tender"
    (product,) = inst["products"]
    assert (product.min_suppliers, product.max_supplier_share, product.shortage_penalty) == (1, 1, None)
    assert inst.settings.risk_weight == 1


def test_unknown_kind_suggests_the_closest(write_instance):
    doc = base() | {"kind": "sourcng"}
    (msg,) = problems(write_instance(doc))
    assert "unknown kind 'sourcng'" in msg and "did you mean 'sourcing'" in msg


def test_missing_kind(write_instance):
    doc = base()
    del doc["kind"]
    (msg,) = problems(write_instance(doc))
    assert "missing required key 'kind'" in msg


def test_unknown_top_level_key_suggests_the_table(write_instance):
    doc = base()
    doc["offer"] = doc.pop("offers")
    msgs = problems(write_instance(doc))
    assert any("unknown key 'offer'" in m and "did you mean 'offers'" in m for m in msgs)


def test_unknown_field_names_table_row_field_and_suggestion(write_instance):
    doc = base()
    doc["offers"][0]["unit_prize"] = 2
    (msg,) = problems(write_instance(doc))
    assert "table 'offers'" in msg and "row 1" in msg
    assert "unknown field 'unit_prize'" in msg and "did you mean 'unit_price'" in msg
    assert "instance.yaml" in msg


def test_unknown_setting_is_an_error(write_instance):
    doc = base() | {"settings": {"risk_wieght": 2}}
    (msg,) = problems(write_instance(doc))
    assert "settings.risk_wieght" in msg and "did you mean 'risk_weight'" in msg


def test_missing_required_field_and_wrong_type_are_both_reported(write_instance):
    doc = base()
    del doc["products"][0]["demand"]
    doc["offers"][0]["unit_price"] = "cheap"
    msgs = problems(write_instance(doc))
    assert any("field 'demand'" in m and "required field is missing" in m for m in msgs)
    assert any("field 'unit_price'" in m and "expected a number" in m and "cheap" in m for m in msgs)


@pytest.mark.parametrize("value", [-1, ".nan", ".inf", True])
def test_bad_numbers_are_rejected(write_instance, tmp_path, value):
    text = (
        "kind: sourcing\nproducts: [{id: mask, demand: 100}]\nsuppliers: [{id: A, region: EU}]\n"
        f"offers: [{{supplier: A, product: mask, unit_price: {str(value).lower()}}}]\n"
    )
    path = tmp_path / "instance.yaml"
    path.write_text(text)
    (msg,) = problems(path)
    assert "field 'unit_price'" in msg


def test_numeric_strings_and_numeric_ids_are_accepted(write_instance):
    doc = base()
    doc["products"][0]["demand"] = "1e6"  # YAML reads a bare 1e6 as text
    doc["suppliers"][0]["id"] = 7
    doc["offers"][0]["supplier"] = "7"
    inst = sp.load(write_instance(doc))
    assert inst["products"][0].demand == 1e6
    assert inst["suppliers"][0].id == "7"


def test_float_id_uses_shortest_decimal_form(write_instance):
    doc = base()
    doc["suppliers"][0]["id"] = 2.0
    doc["offers"][0]["supplier"] = "2"
    assert sp.load(write_instance(doc))["suppliers"][0].id == "2"


def test_dangling_reference_and_duplicate_id(write_instance):
    doc = base()
    doc["offers"][0]["product"] = "maks"
    doc["suppliers"].append({"id": "A", "region": "Asia"})
    msgs = problems(write_instance(doc))
    assert any("'maks' is not an id in table 'products'" in m and "did you mean 'mask'" in m for m in msgs)
    assert any("table 'suppliers'" in m and "row 2" in m and "duplicate id=A" in m for m in msgs)


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("kind: sourcing\nproducts: [\n  {id: a\n")
    (msg,) = problems(path)
    assert "broken.yaml" in msg and "invalid YAML" in msg and "line" in msg


def test_json_instances_load(tmp_path):
    path = tmp_path / "tender.json"
    path.write_text(json.dumps(base()))
    assert sp.load(path).kind == "sourcing"


def test_periods_is_an_error_for_sourcing(write_instance):
    (msg,) = problems(write_instance(base() | {"periods": 4}))
    assert "'periods' does not apply to kind sourcing" in msg


def test_csv_table_with_bom_empty_cells_and_line_numbers(write_instance):
    doc = base() | {"offers": {"file": "tables/offers.csv"}}
    csv = "\ufeffsupplier,product,unit_price,capacity\nA,mask,1.5,\n"
    inst = sp.load(write_instance(doc, files={"tables/offers.csv": csv}))
    assert inst["offers"][0].capacity is None  # empty cell = not given

    bad = "supplier,product,unit_price\nA,mask,1.5\nA,mask,-2\n"
    msgs = problems(write_instance(doc, files={"tables/offers.csv": bad}))
    assert any("offers.csv" in m and "row 2 (line 3)" in m and "field 'unit_price'" in m for m in msgs)


def test_unknown_csv_column_is_reported_once(write_instance):
    doc = base() | {"products": {"file": "products.csv"}}
    csv = "id,demand,colour\nmask,100,red\nglove,50,blue\n"
    msgs = problems(write_instance(doc, files={"products.csv": csv}))
    assert len([m for m in msgs if "unknown column 'colour' in the header" in m]) == 1


def test_csv_duplicate_header_and_missing_file(write_instance):
    doc = base() | {"offers": {"file": "offers.csv"}}
    msgs = problems(write_instance(doc, files={"offers.csv": "supplier,supplier\nA,A\n"}))
    assert any("column 'supplier' appears twice" in m for m in msgs)
    doc = base() | {"offers": {"file": "nowhere.csv"}}
    msgs = problems(write_instance(doc))
    assert any("file 'nowhere.csv' not found" in m for m in msgs)


@pytest.mark.parametrize("path", ["../offers.csv", "/etc/passwd", "sub/../../x.csv"])
def test_table_files_must_stay_inside_the_instance_folder(write_instance, path):
    doc = base() | {"offers": {"file": path}}
    msgs = problems(write_instance(doc))
    assert any("outside the instance's folder" in m for m in msgs)


def test_xlsx_tables_default_to_the_first_sheet_and_name_missing_sheets(write_instance, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "Offers"
    ws.append(["supplier", "product", "unit_price"])
    ws.append(["A", "mask", 1.25])
    other = book.create_sheet("Other")
    other.append(["x"])
    book.save(tmp_path / "offers.xlsx")

    inst = sp.load(write_instance(base() | {"offers": {"file": "offers.xlsx"}}))
    assert inst["offers"][0].unit_price == 1.25
    msgs = problems(write_instance(base() | {"offers": {"file": "offers.xlsx", "sheet": "Ofers"}}))
    assert any("no sheet 'Ofers'" in m and "did you mean 'Offers'" in m for m in msgs)


def test_xlsx_bad_cell_names_the_sheet_row(write_instance, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "Offers"
    ws.append(["supplier", "product", "unit_price"])
    ws.append(["A", "mask", -3])
    book.save(tmp_path / "offers.xlsx")
    (msg,) = problems(write_instance(base() | {"offers": {"file": "offers.xlsx"}}))
    assert "offers.xlsx[Offers]" in msg and "row 1 (line 2)" in msg and "field 'unit_price'" in msg


def test_table_must_be_records_or_a_file(write_instance):
    (msg,) = problems(write_instance(base() | {"offers": "offers.csv"}))
    assert "expected a list of records or {file:" in msg


def test_missing_required_table(write_instance):
    doc = base()
    del doc["suppliers"]
    msgs = problems(write_instance(doc))
    assert any("table 'suppliers' is required" in m for m in msgs)


def test_many_problems_are_all_reported_in_one_go(write_instance):
    doc = base()
    doc["products"] = [{"id": f"p{i}", "demand": -1} for i in range(5)]
    msgs = problems(write_instance(doc))
    assert len([m for m in msgs if "field 'demand'" in m]) == 5
