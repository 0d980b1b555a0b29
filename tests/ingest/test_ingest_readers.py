"""Reading exports as text: encodings, bad rows and their row numbers, titles, sheets, floats."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from privmigrate.errors import InputError
from privmigrate.examples import Sheet, write_xlsx
from privmigrate.ingest.formats import header_score
from privmigrate.ingest.readers import read_export, sniff_encoding

ROWS = ("订单编号,买家会员名,联系手机,买家实际支付金额\n"
        "1001,测试用户001,13800000001,12.50\n1002,测试用户002,13800000002,99.00\n")


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [("gbk", "gb18030"), ("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("utf-16", "utf-16"),
     ("utf-16-le", "utf-16-le")],
)
def test_every_usual_encoding_reads_the_same_cells(
    tmp_path: Path, encoding: str, expected: str
) -> None:
    path = tmp_path / f"orders_{encoding}.csv"
    path.write_bytes(ROWS.encode(encoding))
    raw = read_export(path)
    assert raw.encoding == expected
    assert list(raw.frame.columns) == ["订单编号", "买家会员名", "联系手机", "买家实际支付金额"]
    assert raw.frame["买家会员名"].tolist() == ["测试用户001", "测试用户002"]
    assert raw.rows.tolist() == [2, 3]


def test_sniff_prefers_bom_then_utf8_then_gb18030() -> None:
    assert sniff_encoding(b"\xef\xbb\xbfabc") == "utf-8-sig"
    assert sniff_encoding("订单编号,金额\r\n1001,12.50\r\n".encode("utf-16-le")) == "utf-16-le"
    assert sniff_encoding("订单编号,金额\r\n1001,12.50\r\n".encode("utf-16-be")) == "utf-16-be"
    assert sniff_encoding("订单编号".encode()) == "utf-8"
    assert sniff_encoding("订单编号".encode("gbk")) == "gb18030"


def test_gbk_after_the_first_megabyte_falls_back_to_gb18030(tmp_path: Path) -> None:
    head = "订单编号,金额\n" + "".join(f"{i},1.00\n" for i in range(120_000))  # ASCII rows
    path = tmp_path / "late_gbk.csv"
    path.write_bytes(head.encode("gbk") + "999999,测试\n".encode("gbk"))
    raw = read_export(path)
    assert raw.encoding == "gb18030"
    assert raw.frame["金额"].iloc[-1] == "测试"


def test_rows_with_wrong_field_counts_are_reported_with_spreadsheet_row_numbers(
    tmp_path: Path,
) -> None:
    lines = ["订单编号,金额,状态"]
    for i in range(2, 13):  # spreadsheet rows 2..12
        if i in (4, 7):
            lines.append(f"{i},1.00,交易成功,extra")  # too many fields
        elif i == 10:
            lines.append(f"{i}")  # too few
        else:
            lines.append(f"{i},1.00,交易成功")
    path = tmp_path / "bad_rows.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    raw = read_export(path)
    assert [b.row for b in raw.bad_rows] == [4, 7, 10]
    assert "too many" in raw.bad_rows[0].reason and "too few" in raw.bad_rows[2].reason
    # every surviving row keeps the row number a spreadsheet user sees (its order number here)
    assert raw.rows.tolist() == [int(v) for v in raw.frame["订单编号"]]


def test_a_title_line_above_the_header_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "titled.csv"
    path.write_text("订单导出 2026-11-20\n" + ROWS.replace("\n1002", "\n1002,x,y,z,w\n1003"),
                    encoding="utf-8")
    raw = read_export(path, header_score=header_score)
    assert raw.header_row == 2
    assert list(raw.frame.columns)[:2] == ["订单编号", "买家会员名"]
    assert raw.frame["订单编号"].tolist() == ["1001", "1003"]
    assert raw.rows.tolist() == [3, 5]
    assert [b.row for b in raw.bad_rows] == [4]


def _sheet(ids: list[str], phones: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"订单号": ids, "收件人手机": phones,
                         "订单实际支付金额": ["1.00"] * len(ids)})


def test_all_order_sheets_are_read_and_after_sale_sheets_skipped(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "multi.xlsx", [
        Sheet("订单1", _sheet(["A1", "A2"], ["13800000001", "13800000002"])),
        Sheet("售后单", _sheet(["A1"], ["13800000001"])),
        Sheet("订单2", _sheet(["B1"], ["13800000003"]), title="第二页"),
        Sheet("空表", pd.DataFrame({"订单号": []})),
    ])
    raw = read_export(path, header_score=header_score)
    assert raw.frame["订单号"].tolist() == ["A1", "A2", "B1"]
    assert raw.sheets.tolist() == ["订单1", "订单1", "订单2"]
    assert raw.rows.tolist() == [2, 3, 3]  # 订单2 has a title line: header on row 2
    assert raw.location(2) == "multi.xlsx[订单2]"


def test_excel_number_cells_lose_their_float_tail(tmp_path: Path) -> None:
    path = tmp_path / "floats.xlsx"
    wb = openpyxl.Workbook()
    sheet = wb.active
    sheet.append(["订单号", "收件人手机", "金额", "付款时间"])
    sheet.append([280000000123.0, 13800000001.0, 12.5, 45000.5])
    sheet.append([280000000124, 13800000002, 10.0, None])
    wb.save(path)
    raw = read_export(path)
    assert raw.frame["订单号"].tolist() == ["280000000123", "280000000124"]
    assert raw.frame["收件人手机"].tolist() == ["13800000001", "13800000002"]
    assert raw.frame["金额"].tolist() == ["12.5", "10"]
    assert raw.frame["付款时间"].isna().tolist() == [False, True]


def test_numeric_cells_written_by_the_example_writer_read_as_digits(tmp_path: Path) -> None:
    frame = _sheet(["280000000125"], ["13800000009"])
    path = write_xlsx(tmp_path / "n.xlsx", [Sheet("S", frame, frozenset({"订单号", "收件人手机"}))])
    raw = read_export(path)
    assert raw.frame.iloc[0].tolist() == ["280000000125", "13800000009", "1.00"]


def test_a_zip_that_is_not_a_workbook_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "fake.xlsx"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    with pytest.raises(InputError, match="cannot read as an Excel workbook"):
        read_export(path)


def test_a_cell_with_a_line_break_is_one_spreadsheet_row(tmp_path: Path) -> None:
    path = tmp_path / "notes.csv"
    path.write_text('订单编号,买家留言,金额\n1,"请尽快\n发货",1.00\n2,无,1.00,多余\n3,好,1.00\n',
                    encoding="utf-8")
    raw = read_export(path)
    assert raw.frame["买家留言"].iloc[0] == "请尽快\n发货"
    assert [b.row for b in raw.bad_rows] == [3]
    assert raw.rows.tolist() == [2, 4]
