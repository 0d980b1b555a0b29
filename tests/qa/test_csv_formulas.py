"""QA fix: CSV files for people never hold a cell Excel/WPS would run as a formula (OWASP).

Text cells starting with = + - @ tab or CR get a leading ' in segment --output x.csv,
data/rejects.csv and batches/<date>/sms.csv; numbers, phones and the SMS text stay as they are.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
from typer.testing import CliRunner

from privmigrate.cli import app
from privmigrate.csv_safety import neutralize_formulas
from privmigrate.workspace import Workspace
from tests.invite import invite_world as w

runner = CliRunner()


# --- the function --------------------------------------------------------------------------

def test_formula_text_gets_a_quote_and_everything_else_is_left_alone() -> None:
    frame = pd.DataFrame({
        "text": pd.Series(["=1+1", "+86", "-测试", "@SUM(A1)", "\tx", "\ry", "a=b", "普通",
                           None, 5], dtype=object),
        "arrow": pd.Series(["-1", pd.NA, "ok", "=A1", "", "x", "y", "z", "w", "v"],
                           dtype=pd.StringDtype("pyarrow")),
        "amount": [-1.5, -2.0, 3.0, np.nan, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0],
        "count": np.arange(-5, 5),
        "numbers_as_objects": pd.Series([-1] * 10, dtype=object),
    })
    before = frame.copy()
    out = neutralize_formulas(frame)

    assert out["text"].tolist() == ["'=1+1", "+86", "'-测试", "'@SUM(A1)", "'\tx", "'\ry",
                                    "a=b", "普通", None, 5]
    assert out["arrow"].dtype == frame["arrow"].dtype
    assert out["arrow"].isna().tolist() == frame["arrow"].isna().tolist()  # NA stays NA
    assert out["arrow"].tolist()[:4] == ["-1", pd.NA, "ok", "'=A1"]
    assert out["arrow"].iloc[4] == ""
    # numbers are never text: a negative amount stays a negative number
    assert out["amount"].dtype == np.float64 and out["amount"].iloc[0] == -1.5
    assert out["count"].dtype == np.int64 and out["count"].iloc[0] == -5
    assert out["numbers_as_objects"].tolist() == [-1] * 10
    assert out.to_csv(index=False).splitlines()[1].split(",")[2:] == ["-1.5", "-5", "-1"]
    pd.testing.assert_frame_equal(frame, before)  # the caller's frame is untouched
    pd.testing.assert_frame_equal(neutralize_formulas(out), out)  # idempotent


def test_only_the_named_columns_and_all_na_or_categorical_columns() -> None:
    frame = pd.DataFrame({
        "row": pd.Series(["-1", "3"], dtype="str"),
        "reason": pd.Series(["-x", "ok"], dtype="str"),
        "empty": pd.Series([None, None], dtype=object),
        "label": pd.Categorical(["=a", "b"]),
    })
    limited = neutralize_formulas(frame, ["reason", "empty"])
    assert limited["row"].tolist() == ["-1", "3"]
    assert limited["reason"].tolist() == ["'-x", "ok"]
    assert limited["empty"].tolist() == [None, None]
    assert limited["label"].tolist() == ["=a", "b"]
    assert neutralize_formulas(frame)["label"].tolist() == ["'=a", "b"]
    empty = neutralize_formulas(pd.DataFrame(columns=["file", "reason"]))
    assert list(empty.columns) == ["file", "reason"] and empty.empty


# --- segment --output x.csv ----------------------------------------------------------------

MAPS = ["--map", "order_id=单号", "--map", "buyer_id=客户", "--map", "phone=手机",
        "--map", "paid_at=时间", "--map", "amount=钱", "--map", "status=状态",
        "--map", "name=姓名", "--map", "product=商品"]


def _export(tmp_path: Path) -> Path:
    export = tmp_path / "crm.csv"
    export.write_text(
        "单号,客户,手机,时间,钱,状态,姓名,商品\n"
        "A1,会员1,13800000001,2026-01-01 10:00:00,10.50,交易成功,-测试,@SUM(A1)\n"
        "A2,会员2,13800000002,2026-01-03 10:00:00,20.00,交易成功,测试用户002,保温杯\n",
        encoding="utf-8")
    return export


def _read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def test_segment_csv_output_quotes_formula_cells(ws: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "客户.csv"
    result = runner.invoke(app, ["segment", str(_export(tmp_path)), *MAPS, "-w", str(ws.root),
                                 "--output", str(out)])
    assert result.exit_code == 0, result.output
    rows = _read_csv(out).set_index("手机号")
    assert rows.loc["138****0001", "姓名"] == "'-测试"
    assert rows.loc["138****0001", "最近商品"] == "'@SUM(A1)"
    assert rows.loc["138****0002", "姓名"] == "测试用户002"
    assert rows.loc["138****0002", "最近商品"] == "保温杯"
    assert rows.loc["138****0002", "累计金额"] == "20.0"  # numbers stay numbers
    # the xlsx twin keeps the text as is (openpyxl keeps it text)
    book = tmp_path / "客户.xlsx"
    again = runner.invoke(app, ["segment", "-w", str(ws.root), "--output", str(book)])
    assert again.exit_code == 0, again.output
    cells = {c.value for row in openpyxl.load_workbook(book).active.iter_rows() for c in row}
    assert "-测试" in cells and "'-测试" not in cells


def test_segment_csv_with_revealed_phones_keeps_the_numbers(ws: Workspace,
                                                            tmp_path: Path) -> None:
    out = tmp_path / "客户.csv"
    result = runner.invoke(app, ["segment", str(_export(tmp_path)), *MAPS, "-w", str(ws.root),
                                 "--output", str(out), "--reveal-phones"])
    assert result.exit_code == 0, result.output
    rows = _read_csv(out).set_index("手机号")
    assert sorted(rows.index) == ["13800000001", "13800000002"]
    assert rows.loc["13800000001", "姓名"] == "'-测试"


# --- data/rejects.csv ----------------------------------------------------------------------

def _bad_export(tmp_path: Path) -> Path:
    export = tmp_path / "=crm.csv"  # a file name and a header that Excel would evaluate
    export.write_text(
        "客户编号,手机号,日期,+金额,状态\n"
        "M1,13800000001,2026-01-02,10.00,已完成\n"
        "M2,13800000002,2026-01-02,abc,已完成\n",
        encoding="utf-8")
    return export


def test_rejects_csv_quotes_formula_cells_and_keeps_rows_numeric(ws: Workspace,
                                                                  tmp_path: Path) -> None:
    export = _bad_export(tmp_path)
    result = runner.invoke(app, ["load", "-w", str(ws.root), "--map", "amount=+金额",
                                 str(export)])
    assert result.exit_code == 0, result.output
    rejects = _read_csv(ws.rejects_path)
    assert rejects.to_dict("records") == [
        {"file": "'=crm.csv", "row": "3", "column": "'+金额",
         "reason": "'abc' is not an amount"},  # already starts with a quote: unchanged
    ]


def test_reloading_a_formula_named_file_replaces_its_rejects(ws: Workspace,
                                                             tmp_path: Path) -> None:
    export = _bad_export(tmp_path)
    # rejects.csv as written before the fix: raw name, plus another file's reject to keep
    ws.rejects_path.parent.mkdir(parents=True, exist_ok=True)
    ws.rejects_path.write_text(
        "file,row,column,reason\n=crm.csv,9,+金额,'x' is not an amount\n"
        "other.csv,-1,,row has the wrong number of fields\n", encoding="utf-8-sig")
    for _ in range(2):
        result = runner.invoke(app, ["load", "-w", str(ws.root), "--map", "amount=+金额",
                                     str(export)])
        assert result.exit_code == 0, result.output
        rejects = _read_csv(ws.rejects_path)
        assert sorted(map(tuple, rejects.to_numpy().tolist())) == [
            ("'=crm.csv", "3", "'+金额", "'abc' is not an amount"),
            ("other.csv", "-1", "", "row has the wrong number of fields"),
        ]


# --- batches/<date>/sms.csv ----------------------------------------------------------------

def test_sms_csv_quotes_formula_cells_but_never_the_message(tmp_path: Path) -> None:
    frame = w.customers(120)
    frame["segment"] = frame["segment"].replace({"重要价值客户": "-重要价值客户"})
    segments = ["-重要价值客户", "重要保持客户", "重要发展客户"]
    raw = w.config(segments=segments, channels=["sms"], staff=[
        {"id": "staff01", "name": "@小美", "daily_capacity": 100}])
    raw["invite"]["offers"][0]["segments"] = ["-重要价值客户"]
    root = w.workspace(tmp_path / "ws", raw=raw, frame=frame)
    result = runner.invoke(app, ["invite", "-w", str(root), "--json"],
                           env={"PRIVMIGRATE_NOW": "2026-11-25T02:00"})
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["invited"] > 0
    folder = root / "batches" / "2026-11-25"
    sms = _read_csv(folder / "sms.csv")
    assert len(sms) > 0
    assert set(sms["staff"]) == {"'@小美"}
    assert "'-重要价值客户" in set(sms["segment"]) and "重要保持客户" in set(sms["segment"])
    assert not sms["segment"].str.startswith("-").any()
    assert sms["phone"].str.fullmatch(r"1[3-9]\d{9}").all()
    assert sms["length"].str.fullmatch(r"\d+").all() and sms["parts"].str.fullmatch(r"\d").all()
    # the message is exactly what the phone shows: the staff name inside it is not quoted
    assert sms["message"].str.startswith("【测试旗舰店】").all()
    assert sms["message"].str.contains("@小美", regex=False).all()
    assert not sms["message"].str.contains("'@", regex=False).any()
    # sms.xlsx, its twin for marketers, shows the same rows unquoted
    sheet = openpyxl.load_workbook(folder / "sms.xlsx").active
    header, *rows = [[c.value for c in row] for row in sheet.iter_rows()]
    twin = pd.DataFrame(rows, columns=header)
    assert set(twin["staff"]) == {"@小美"}
    assert twin["message"].tolist() == sms["message"].tolist()


def test_text_that_is_only_a_number_is_never_changed() -> None:
    """A phone or an amount held as text is a value to Excel, not a formula (OWASP's rule
    is about formulas): +86 phones, signed and grouped amounts stay byte for byte."""
    values = ["+8613800000001", "-12.50", "+3", "-1,234.50", "-5%", "-1+2", "+86 138",
              "-2+3+cmd|' /C calc'!A0", "=1", "@x"]
    out = neutralize_formulas(pd.DataFrame({"v": pd.Series(values, dtype=object)}))
    assert out["v"].tolist() == ["+8613800000001", "-12.50", "+3", "-1,234.50", "-5%",
                                 "'-1+2", "'+86 138", "'-2+3+cmd|' /C calc'!A0", "'=1", "'@x"]
