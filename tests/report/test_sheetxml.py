"""The vectorised row writer: escaping, numbers, dates, formula-like text, and bytes out."""

from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal

import pandas as pd
import pyarrow as pa
from lxml import etree

from privmigrate.masking import mask_phone
from privmigrate.report import sheetxml
from privmigrate.report.excel import display_width, fit_width
from privmigrate.report.sheetxml import CellStyle

NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}


def _rows(table: pa.Table, kinds: list[str]) -> etree._Element:
    styles = [CellStyle(plain=3, quoted=7)] * len(kinds)
    out = io.BytesIO()
    sheetxml.write_array_bytes(out, sheetxml.render_rows(table, kinds, styles, first_row=2))
    xml = f'<sheetData xmlns="{NS["m"]}">'.encode() + out.getvalue() + b"</sheetData>"
    return etree.fromstring(xml)


def test_column_letters():
    assert [sheetxml.column_letter(i) for i in (0, 25, 26, 701, 702)] == [
        "A", "Z", "AA", "ZZ", "AAA"]


def test_text_is_escaped_cleaned_and_formulas_quoted():
    table = pa.table({"t": ["a<b>&c", "x\x01y", "\x00=1+1", " pad ", None, "-3", "普通"]})
    root = _rows(table, ["text"])
    cells = root.findall("m:row/m:c", NS)
    texts = [c.find("m:is/m:t", NS).text for c in cells]
    assert texts == ["a<b>&c", "xy", "=1+1", " pad ", "-3", "普通"]  # the null is omitted
    refs = [c.get("r") for c in cells]
    assert refs == ["A2", "A3", "A4", "A5", "A7", "A8"]
    styles = {c.find("m:is/m:t", NS).text: c.get("s") for c in cells}
    assert styles["=1+1"] == "7" and styles["-3"] == "7" and styles["普通"] == "3"
    spaced = cells[3].find("m:is/m:t", NS)
    assert spaced.get("{http://www.w3.org/XML/1998/namespace}space") == "preserve"
    assert all(c.get("t") == "inlineStr" for c in cells)


def test_numbers_money_and_dates():
    table = pa.table({
        "i": pa.array([1, None, 3], pa.int64()),
        "f": [1.5, float("nan"), float("inf")],
        "m": pa.array([Decimal("12.30"), Decimal("0.05"), None], pa.decimal128(18, 2)),
        "d": pa.array([datetime(1970, 1, 1, 13), datetime(2026, 11, 20), None],
                      pa.timestamp("us")),
        "d32": pa.array([date(1900, 3, 1), None, date(2024, 2, 29)], pa.date32()),
    })
    root = _rows(table, ["int", "float", "money", "date", "date"])
    values = {c.get("r"): c.find("m:v", NS).text for c in root.findall("m:row/m:c", NS)}
    assert values["A2"] == "1" and "A3" not in values and values["A4"] == "3"
    assert values["B2"] == "1.5" and "B3" not in values and "B4" not in values
    assert values["C2"] == "12.30" and values["C3"] == "0.05"
    assert values["D2"] == "25569" and values["D3"] == "46346"  # Excel serials
    assert values["E2"] == "61" and values["E4"] == "45351"


def test_rows_are_numbered_from_first_row():
    root = _rows(pa.table({"a": ["x", "y"]}), ["text"])
    assert [r.get("r") for r in root.findall("m:row", NS)] == ["2", "3"]


def test_write_array_bytes_respects_slices():
    arr = pa.array(["aa", "bb", "cc", "dd"]).slice(1, 2)
    out = io.BytesIO()
    assert sheetxml.write_array_bytes(out, arr) == 4
    assert out.getvalue() == b"bbcc"


def test_cjk_counts_double_for_widths():
    assert display_width("测试用户") == 8
    assert display_width("abc") == 3
    assert fit_width(["a" * 200]) == 60  # capped
    assert fit_width(["重要价值客户"]) == 14


def test_mask_phone_contract_the_report_relies_on():
    phones = pd.Series(["13812341234", None, "138****1234"], dtype="string")
    masked = mask_phone(phones)
    assert masked.iloc[0] == "138****1234" and masked.iloc[2] == "138****1234"
    assert pd.isna(masked.iloc[1])
