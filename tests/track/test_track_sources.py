"""Contact files: the simple CSV, a console-style xlsx, encodings, and clean errors."""

from __future__ import annotations

from datetime import datetime

import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privmigrate.errors import InputError
from privmigrate.track.sources import (
    parse_add_times,
    read_contact_file,
    read_contact_files,
    remark_phones,
)


def test_simple_csv(tmp_path):
    path = tmp_path / "adds.csv"
    path.write_text(
        "external_userid,userid,customer_channel,remark_mobiles,add_time\n"
        "wmA,s1,tplA,13800000001;+86 138 0000 0002,2026-11-12 09:00:00\n"
        "wmB,s2,,138****0003,2026/11/12 10:30\n"
        "wmC,s2,tplB,,1762912800\n",
        encoding="utf-8-sig")
    frame = read_contact_file(path)
    assert list(frame["external_userid"]) == ["wmA", "wmB", "wmC"]
    assert list(frame["staff"]) == ["s1", "s2", "s2"]
    assert frame["state"].iloc[0] == "tplA" and pd.isna(frame["state"].iloc[1])
    assert frame["remark_phones"].iloc[0] == "13800000001;13800000002"
    assert pd.isna(frame["remark_phones"].iloc[1])  # masked numbers never match
    assert frame["added_at"].iloc[1] == pd.Timestamp("2026-11-12 10:30")
    # epoch seconds are UTC instants shown as Asia/Shanghai wall time
    assert frame["added_at"].iloc[2] == pd.Timestamp("2025-11-12 10:00:00")
    assert set(frame["source"]) == {"file"} and set(frame["source_ref"]) == {"adds.csv"}


def test_state_column_wins_over_customer_channel(tmp_path):
    path = tmp_path / "adds.csv"
    path.write_text("external_userid,state,customer_channel,add_time\n"
                    "wmA,pm-C001,tplA,2026-11-12 09:00\nwmB,,tplA,2026-11-12 09:00\n")
    frame = read_contact_file(path)
    assert list(frame["state"]) == ["pm-C001", "tplA"]


def test_console_style_xlsx_with_title_row_and_no_external_userid(tmp_path):
    path = tmp_path / "客户列表.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["客户列表（导出时间 2026-11-20）"])
    ws.append(["客户名称", "添加人", "添加人账号", "添加时间", "渠道", "备注手机号"])
    ws.append(["测试客户001", "测试员工", "s1", datetime(2026, 11, 12, 9, 0), "tplA",
               "13800000001"])
    ws.append(["测试客户002", "测试员工", "s1", "2026-11-13 10:00:00", None, None])
    ws.append([None, None, None, None, None, None])
    wb.save(path)
    frame = read_contact_file(path)
    assert len(frame) == 2
    assert list(frame["staff"]) == ["s1", "s1"]  # the account, not the display name
    assert frame["external_userid"].str.startswith("x-").all()
    assert frame["external_userid"].nunique() == 2
    assert "测试客户" not in "".join(frame["external_userid"])  # hashed, not the name
    assert frame["added_at"].iloc[0] == pd.Timestamp("2026-11-12 09:00")
    assert frame["remark_phones"].iloc[0] == "13800000001"
    again = read_contact_file(path)
    assert list(again["external_userid"]) == list(frame["external_userid"])  # stable ids


def test_gb18030_tab_separated(tmp_path):
    path = tmp_path / "export.txt"
    path.write_bytes("外部联系人ID\t跟进人账号\t添加时间\t备注电话\n"
                     "wmZ\t张三账号\t2026-11-12 09:00:00\t13800000009\n".encode("gb18030"))
    frame = read_contact_file(path)
    assert frame.iloc[0]["external_userid"] == "wmZ"
    assert frame.iloc[0]["staff"] == "张三账号"
    assert frame.iloc[0]["remark_phones"] == "13800000009"


def test_configured_aliases(tmp_path):
    path = tmp_path / "custom.csv"
    path.write_text("客户编号,加好友时间\nwm1,2026-11-12 09:00\n")
    with pytest.raises(InputError, match=r"track\.columns"):
        read_contact_file(path)
    frame = read_contact_file(path, {"external_userid": ["客户编号"], "added_at": ["加好友时间"]})
    assert frame.iloc[0]["external_userid"] == "wm1"


def test_bad_date_names_file_row_and_column(tmp_path):
    path = tmp_path / "adds.csv"
    path.write_text("external_userid,添加时间\nwm1,2026-11-12 09:00\nwm2,昨天\n")
    with pytest.raises(InputError) as err:
        read_contact_file(path)
    message = str(err.value)
    assert "adds.csv row 3 column 添加时间" in message and "昨天" in message


def test_unreadable_and_missing_files(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_contact_file(tmp_path / "nope.csv")
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(InputError, match="cannot read"):
        read_contact_file(broken)


def test_no_files_is_an_empty_frame():
    frame = read_contact_files([])
    assert frame.empty and "external_userid" in frame.columns


def test_remark_phones_never_keeps_invalid_numbers():
    out = remark_phones(pd.Series(["13800000001,13800000001", "12345", None, "138-0000-0002"]))
    assert out.iloc[0] == "13800000001"
    assert pd.isna(out.iloc[1]) and pd.isna(out.iloc[2])
    assert out.iloc[3] == "13800000002"


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=40),
                          st.from_regex(r"(\+86 ?)?1[3-9]\d{9}([;, ]1[3-9]\d{9})?",
                                        fullmatch=True)), max_size=8))
def test_remark_phones_never_crash_and_only_keep_mobiles(values):
    out = remark_phones(pd.Series(values, dtype="object"))
    assert len(out) == len(values)
    for cell in out.dropna():
        assert all(len(p) == 11 and p.startswith("1") and p.isdigit() for p in cell.split(";"))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=30), st.datetimes(),
                          st.integers(min_value=0, max_value=4_000_000_000)), max_size=8))
def test_add_time_parser_gives_a_time_or_nat(values):
    out = parse_add_times(pd.Series(values, dtype="object"))
    assert len(out) == len(values) and str(out.dtype) == "datetime64[us]"
