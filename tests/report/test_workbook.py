"""The workbook end to end: sheets, headers, masking, formula neutralisation, formats, widths."""

from __future__ import annotations

import re
import stat
import zipfile
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest
from lxml import etree

from privmigrate.report import detail, write_report
from privmigrate.report.excel import display_width
from privmigrate.workspace import Workspace
from tests.report.fixtures import EVIL, build_workspace

AS_OF = date(2026, 11, 20)
ZH_SHEETS = ["概览", "分层", "邀约", "人群包", "数据质量", "客服绩效", "明细"]
EN_SHEETS = ["Overview", "Segments", "Invitations", "Audiences", "Data quality", "Staff scorecard",
             "Customers"]
FULL_MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return build_workspace(tmp_path / "ws", customers=60)


@pytest.fixture
def book(ws: Workspace) -> openpyxl.Workbook:
    summary = write_report(ws, as_of=AS_OF)
    return openpyxl.load_workbook(summary["path"])


def _texts(sheet) -> list[str]:
    return [str(c.value) for row in sheet.iter_rows() for c in row if c.value is not None]


def _strings(sheet) -> list[str]:
    return [c.value for row in sheet.iter_rows() for c in row if isinstance(c.value, str)]


def test_every_sheet_is_there_and_has_content(book):
    assert book.sheetnames == ZH_SHEETS
    for sheet in book:
        assert len(_texts(sheet)) >= 3, sheet.title


def test_overview_headline_figures(book):
    sheet = book["概览"]
    figures = {row[0].value: row[1].value for row in sheet.iter_rows() if row[0].value}
    assert figures["客户数"] == 60
    assert figures["可短信触达"] == 60 - 6  # every 9th customer has no phone
    assert figures["累计已邀约"] == 12  # accepted or called invitations
    assert figures["已添加企微(邀约后窗口内)"] == 6
    assert figures["转化率"] == pytest.approx(0.5)
    assert sheet["B2"].number_format == "yyyy-mm-dd"
    assert "taobao" in _texts(sheet)  # freshness per source


def test_phones_are_masked_everywhere(book):
    for sheet in book:
        for text in _strings(sheet):
            assert not FULL_MOBILE.search(text), (sheet.title, text)
    detail = book["明细"]
    column = [c.value for c in next(detail.iter_cols(min_col=3, max_col=3))]
    assert column[0] == "手机号"
    assert column[1] == "138****0000"
    assert all(v is None or re.fullmatch(r"138\*{4}\d{4}", v) for v in column[1:])
    names = [c.value for c in next(detail.iter_cols(min_col=2, max_col=2))]
    assert "测试用户001 138****0001" in names


def test_formula_like_text_stays_text(book, ws):
    detail = book["明细"]
    found = {}
    for row in detail.iter_rows(min_row=2):
        for c in row:
            if isinstance(c.value, str) and c.value[:1] in "=+-@\t":
                assert c.data_type == "s" and c.quotePrefix, c.coordinate
                found[c.value] = c
    assert set(EVIL) <= set(found)
    audience = book["人群包"]["B2"]
    assert audience.value.startswith("=cmd") and audience.data_type == "s"
    assert audience.quotePrefix
    with zipfile.ZipFile(ws.reports_dir / "latest.xlsx") as z:
        sheets = [n for n in z.namelist() if n.startswith("xl/worksheets/sheet")]
        for name in sheets:
            xml = z.read(name)
            etree.fromstring(xml)  # well-formed
            assert b"<f>" not in xml and b"<f " not in xml, name


def test_detail_formats_widths_frozen_header_filter(book):
    detail = book["明细"]
    headers = [c.value for c in detail[1]]
    assert headers[:3] == ["客户ID", "姓名", "手机号"]
    assert detail.freeze_panes == "A2"
    assert detail.auto_filter.ref == f"A1:{detail.cell(1, len(headers)).column_letter}61"
    col = {h: i + 1 for i, h in enumerate(headers)}
    money = detail.cell(2, col["累计金额"])
    assert money.number_format == '"¥"#,##0.00' and isinstance(money.value, float)
    first = detail.cell(2, col["首次购买"])
    assert first.number_format == "yyyy-mm-dd" and first.value.year >= 2024
    assert detail.cell(2, col["可短信触达"]).value in ("是", "否")
    for h, i in col.items():
        letter = detail.cell(1, i).column_letter
        assert detail.column_dimensions[letter].width >= display_width(h) + 2, h
    name_letter = detail.cell(1, col["最近购买商品"]).column_letter
    assert detail.column_dimensions[name_letter].width >= display_width("保温杯 500ml")


def test_rows_sorted_by_priority_and_invitations_joined(book):
    detail = book["明细"]
    headers = [c.value for c in detail[1]]
    pri = headers.index("邀约优先级") + 1
    values = [detail.cell(r, pri).value for r in range(2, 62)]
    assert values == sorted(values, reverse=True)
    status = headers.index("邀约状态") + 1
    assert {"短信已受理", "失败", "已外呼"} <= {detail.cell(r, status).value for r in range(2, 62)}


def test_segments_chart_and_heat_map(ws):
    path = write_report(ws, as_of=AS_OF)["path"]
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        assert any(n.startswith("xl/charts/chart") for n in names)
        seg_xml = z.read("xl/worksheets/sheet2.xml")
    assert b"<colorScale>" in seg_xml
    sheet = openpyxl.load_workbook(path)["分层"]
    assert sheet["A1"].value == "分层" and sheet["B2"].value >= sheet["B3"].value


def test_detail_splits_past_the_row_limit(ws):
    path = write_report(ws, as_of=AS_OF, row_limit=26)["path"]  # 25 data rows a sheet
    book = openpyxl.load_workbook(path)
    parts = ["明细", "明细2", "明细3"]
    assert book.sheetnames[-3:] == parts
    ids = []
    for name in parts:
        sheet = book[name]
        assert sheet["A1"].value == "客户ID" and sheet.freeze_panes == "A2"
        ids += [r[0].value for r in sheet.iter_rows(min_row=2) if r[0].value]
    assert [len(ids)] == [60] and len(set(ids)) == 60
    assert book["明细3"].max_row == 1 + 10


def test_english_labels(ws):
    book = openpyxl.load_workbook(write_report(ws, lang="en", as_of=AS_OF)["path"])
    assert book.sheetnames == EN_SHEETS
    assert book["Customers"]["C1"].value == "Phone"
    assert book["Overview"]["A1"].value == "Private-domain migration report"


def test_files_are_private_and_latest_is_refreshed(ws, tmp_path):
    summary = write_report(ws, as_of=AS_OF)
    path = Path(summary["path"])
    assert path.name == "privmigrate-2026-11-20.xlsx"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    latest = ws.reports_dir / "latest.xlsx"
    assert latest.read_bytes() == path.read_bytes()
    assert stat.S_IMODE(latest.stat().st_mode) == 0o600
    assert not [p for p in ws.reports_dir.iterdir() if p.name.startswith(".")]
    chosen = tmp_path / "morning.xlsx"
    assert write_report(ws, output=chosen, as_of=AS_OF)["latest"] is None
    assert chosen.exists()


def test_empty_workspace_still_gets_a_workbook(tmp_path):
    ws = Workspace.at(tmp_path / "empty")
    book = openpyxl.load_workbook(write_report(ws, as_of=AS_OF)["path"])
    assert book.sheetnames == ZH_SHEETS
    assert "暂无邀约" in book["邀约"]["A1"].value
    assert "暂无人群包" in book["人群包"]["A1"].value
    assert "暂无客户数据" in book["明细"]["A1"].value
    assert not ws.state_db.exists()  # a report never creates a ledger


def test_workspace_without_ledger(tmp_path):
    ws = build_workspace(tmp_path / "ws", customers=20, ledger=False)
    book = openpyxl.load_workbook(write_report(ws, as_of=AS_OF)["path"])
    assert book["明细"].max_row == 21
    assert "暂无邀约" in book["邀约"]["A1"].value
    figures = {r[0].value: r[1].value for r in book["概览"].iter_rows() if r[0].value}
    assert figures["累计已邀约"] == 0


def _figures(book) -> dict:
    return {r[0].value: r[1].value for r in book["概览"].iter_rows() if r[0].value}


def test_lift_counts_attempted_invitations_only(ws):
    summary = write_report(ws, as_of=date(2026, 12, 31))
    # 12 of the 20 invitations were attempted (accepted or called), 6 of them converted; the
    # held-out peers of the same nights did not
    figures = summary["figures"]
    assert (figures["invited"], figures["converted"]) == (12, 6)
    assert summary["lift_method"] == "track" and summary["lift"] == pytest.approx(0.5)
    book = openpyxl.load_workbook(summary["path"])
    assert _figures(book)["提升(邀约−对照)"] == pytest.approx(0.5)
    assert _figures(book)["对照组(同夜)"] == figures["holdout"]
    rows = [r for r in book["邀约"].iter_rows(values_only=True) if r[0] == "总体"]
    assert rows and rows[0][2] == 12 and rows[0][5] == figures["holdout"]


def test_zip64_detail_entry_still_opens(ws, monkeypatch):
    monkeypatch.setattr(detail, "ZIP64_THRESHOLD", 0)
    book = openpyxl.load_workbook(write_report(ws, as_of=AS_OF)["path"])
    assert book["明细"].max_row == 61


def test_no_customers_rows_gives_a_header_only_detail(tmp_path):
    ws = build_workspace(tmp_path / "ws", customers=0, orders=0, ledger=False)
    book = openpyxl.load_workbook(write_report(ws, as_of=AS_OF)["path"])
    assert book["明细"]["A1"].value == "客户ID" and book["明细"].max_row == 1
    assert "暂无客户数据" in book["分层"]["A1"].value


def test_audiences_from_the_ledger(book):
    rows = list(book["人群包"].iter_rows(values_only=True))
    assert rows[0] == ("平台", "人群包", "最近同步", "人数", "匹配数", "匹配率", "平台处理状态")
    tencent = next(r for r in rows if r[0] == "tencent_ads")
    assert tencent[3] == 1200 and tencent[4] == 780
    assert tencent[5] == pytest.approx(0.78)  # matched ÷ what the platform counted uploaded
    assert book["人群包"]["F2"].value is None  # no figures yet: blank, not 0%


def test_as_of_defaults_to_today_in_shanghai(tmp_path, monkeypatch):
    from privmigrate import clock

    ws = build_workspace(tmp_path / "ws", customers=5, ledger=False)
    monkeypatch.setattr(clock, "shanghai_now", lambda: datetime(2026, 11, 21, 0, 30))
    summary = write_report(ws)
    assert summary["as_of"] == "2026-11-21"
    assert summary["path"].endswith("privmigrate-2026-11-21.xlsx")


def test_latest_never_goes_back_to_an_older_as_of(ws):
    newer = write_report(ws, as_of=date(2026, 11, 20))
    older = write_report(ws, as_of=date(2026, 11, 19))
    latest = ws.reports_dir / "latest.xlsx"
    assert older["latest"] is None and "privmigrate-2026-11-20.xlsx" in older["warnings"][0]
    assert latest.read_bytes() == Path(newer["path"]).read_bytes()
    assert Path(older["path"]).exists()  # the older one is written, under its own name
    again = write_report(ws, as_of=date(2026, 11, 20))
    assert again["latest"] == str(latest) and not again["warnings"]


def test_rejects_counted_by_reason_without_cell_contents(book):
    rows = list(book["数据质量"].iter_rows(values_only=True))
    start = next(i for i, r in enumerate(rows) if r[0] == "原因") + 1
    end = next(i for i in range(start, len(rows)) if rows[i][0] is None)
    reasons = {r[0]: r[2] for r in rows[start:end]}
    assert reasons == {"'…' is not an amount": 2, "missing order id …": 1}


def test_invitation_counts_per_night_channel_template(book):
    sheet = book["邀约"]
    header = [c.value for c in sheet[1]]
    assert header[:5] == ["日期", "渠道", "模板", "版本", "员工"]
    rows = []
    for r in sheet.iter_rows(min_row=2, values_only=True):
        if r[0] is None:
            break  # the lift table may follow after a blank row
        rows.append(r)
    assert all(r[0].year == 2026 for r in rows) and sheet["A2"].number_format == "yyyy-mm-dd"
    totals = [sum(r[i] for r in rows) for i in range(5, 10)]
    # 20 invitations: 8 accepted + 4 called sent, 4 failed, 2 unknown + 2 sending unsure
    assert totals == [20, 12, 4, 4, 6]


def test_invitation_channels_in_chinese_and_staff_by_name(ws):
    ws.config_path.write_text(
        '[[invite.staff]]\nid = "advisor01"\nname = "小美"\ndaily_capacity = 10\n',
        encoding="utf-8")
    import sqlite3

    with sqlite3.connect(ws.state_db) as conn:
        conn.execute("UPDATE invitations SET staff = 'advisor01'")
    sheet = openpyxl.load_workbook(write_report(ws, as_of=AS_OF)["path"])["邀约"]
    rows = []
    for r in sheet.iter_rows(min_row=2, values_only=True):
        if r[0] is None:
            break  # the lift table follows after a blank row
        rows.append(r)
    channels = {r[1] for r in rows}
    assert channels and channels <= {"短信", "外呼"}
    assert "小美 (advisor01)" in {r[4] for r in rows}


def test_a_never_pushed_audience_shows_no_size():
    import sqlite3

    import pandas as pd

    from privmigrate.report.data import _read_audiences

    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE audiences (platform TEXT, name TEXT, last_sync_at TEXT, "
                 "held_count INTEGER, uploaded_count INTEGER, matched_count INTEGER, "
                 "processing TEXT)")
    conn.execute("INSERT INTO audiences VALUES ('tencent', 'built', NULL, 0, NULL, NULL, NULL)")
    conn.execute("INSERT INTO audiences VALUES ('tencent', 'synced', '2026-11-20', 500, 500, "
                 "400, 'done')")
    frame = _read_audiences(conn, {"audiences"}).set_index("audience")
    assert pd.isna(frame.loc["built", "size"])
    assert frame.loc["synced", "size"] == 500 and frame.loc["synced", "match_rate"] == 0.8
