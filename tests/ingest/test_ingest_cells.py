"""Cell parsers: money, times (incl. 0000-00-00 and Excel serials), flags, wrappers."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privmigrate.ingest.cells import clean_text, parse_flag, parse_money_fen, parse_time


def _s(*values: object) -> pd.Series:
    return pd.Series(list(values), dtype="string")


def test_money_strips_units_separators_and_notes() -> None:
    fen, bad = parse_money_fen(_s(
        "123.00元", "1,299.50", "499.00（系统计算中，该值仅供参考）", "￥88", "¥ 1,000", "\t12.5\t",
        "0", "-3.20", ".5", "", "-", "12,3x", "abc",
    ))
    assert fen.tolist()[:9] == [12300, 129950, 49900, 8800, 100000, 1250, 0, -320, 50]
    assert fen.iloc[9] is pd.NA and fen.iloc[10] is pd.NA
    assert bad.tolist() == [False] * 11 + [True, True]


def test_money_rounds_to_the_fen_exactly() -> None:
    fen, _ = parse_money_fen(_s("0.1", "0.29", "19.99", "1234567.89"))
    assert fen.tolist() == [10, 29, 1999, 123456789]


def test_times_in_the_usual_formats() -> None:
    times, bad = parse_time(_s(
        "2026-03-05 14:07:09", "2026/03/05 14:07", "2026-03-05", "2026/3/5 14:07",
        "2026年3月5日", "\t2026-03-05 14:07:09", "20260305140709",
    ))
    assert not bad.any()
    assert times.iloc[0] == pd.Timestamp("2026-03-05 14:07:09")
    assert times.iloc[1] == pd.Timestamp("2026-03-05 14:07")
    assert times.iloc[2] == times.iloc[4] == pd.Timestamp("2026-03-05")
    assert times.iloc[3] == pd.Timestamp("2026-03-05 14:07")
    assert times.iloc[5] == times.iloc[6] == pd.Timestamp("2026-03-05 14:07:09")


def test_null_sentinels_are_missing_not_bad() -> None:
    times, bad = parse_time(_s("0000-00-00", "0000-00-00 00:00:00", "-", "", None))
    assert times.isna().all()
    assert not bad.any()


def test_excel_serial_dates() -> None:
    times, bad = parse_time(_s("46086", "46086.5"))
    assert not bad.any()
    assert times.tolist() == [pd.Timestamp("2026-03-05"), pd.Timestamp("2026-03-05 12:00")]


def test_a_time_zone_offset_becomes_shanghai_wall_time() -> None:
    times, _ = parse_time(_s("2026-03-05T06:07:09Z", "2026-03-05T14:07:09+08:00"))
    assert times.tolist() == [pd.Timestamp("2026-03-05 14:07:09")] * 2


def test_unparseable_times_are_flagged() -> None:
    times, bad = parse_time(_s("2026-13-45 10:00:00", "昨天", "2026-03-05"))
    assert bad.tolist() == [True, True, False]
    assert times.isna().tolist() == [True, True, False]


def test_flags_and_wecom_ids() -> None:
    assert parse_flag(_s("是", "否", "", "已添加", "未添加", "YES")).tolist() == [
        True, False, pd.NA, True, False, True]
    ids = parse_flag(_s("wmabc123", "", None), any_value_is_true=True)
    assert ids.tolist() == [True, pd.NA, pd.NA]


def test_clean_text_strips_export_wrappers() -> None:
    out = clean_text(_s('="2024000000000000001"', "'13800000001", "\t240101-123\t", " 无 ", "--"))
    assert out.tolist()[:3] == ["2024000000000000001", "13800000001", "240101-123"]
    assert out.iloc[3] is pd.NA and out.iloc[4] is pd.NA


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=25), st.none(),
                          st.from_regex(r"[¥￥]?-?\d{1,7}(,\d{3})*(\.\d{1,2})?元?")),
                min_size=1, max_size=8))
def test_any_cells_give_values_or_a_bad_mark_never_a_crash(cells: list[str | None]) -> None:
    series = pd.Series(cells, dtype="string")
    fen, bad_money = parse_money_fen(series)
    times, bad_time = parse_time(series)
    assert len(fen) == len(times) == len(cells)
    assert fen[bad_money.to_numpy()].isna().all()
    assert times[bad_time.to_numpy()].isna().all()
    assert not bad_money[series.isna().to_numpy()].any()


@pytest.mark.parametrize("cell, cleaned", [
    ("K1001", "K1001"), ("一", "一"), ("张三丰", "张三丰"),  # CJK ending in byte 0x80: untouched
    ("\u3000会员", "会员"), ("会员\u00a0", "会员"), ("\ufeffK1", "K1"), ("\tK2", "K2"),
    ("K3 ", "K3"), ('="0012"', "0012"), ("'13800000000", "13800000000"), ("`A1", "A1"),
    ("-", None), ("无", None),
])
def test_clean_text_fast_and_slow_paths_agree(cell: str, cleaned: str | None) -> None:
    """Whether a column is clean is first judged from each cell's first and last bytes; one
    dirty cell among clean ones must still be cleaned, and clean ones left alone."""
    column = pd.Series(["K9", cell, "会员甲"], dtype="string[pyarrow]")
    out = clean_text(column)
    assert out.iloc[0] == "K9" and out.iloc[2] == "会员甲"
    assert (None if pd.isna(out.iloc[1]) else out.iloc[1]) == cleaned


def test_edge_bytes_see_slices_nulls_and_empty_cells() -> None:
    import numpy as np
    import pyarrow as pa

    from privmigrate.ingest.cells import edge_bytes_hit

    first = np.zeros(256, dtype=bool)
    first[ord("=")] = True
    sliced = pa.array(["=x", "a", "b"], pa.large_string()).slice(1)
    assert not edge_bytes_hit(pa.chunked_array([sliced]), first)
    assert edge_bytes_hit(pa.chunked_array([pa.array(["a", "=b"], pa.string())]), first)
    assert not edge_bytes_hit(pa.chunked_array([pa.array(["a", None], pa.string())]), first)
    assert edge_bytes_hit(pa.chunked_array([pa.array(["a", ""], pa.string())]), first)
    last = np.zeros(256, dtype=bool)
    last[ord(" ")] = True
    assert edge_bytes_hit(pa.chunked_array([pa.array(["a ", "b"])]), first, last)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet="=\"'` \t\u3000a1-", max_size=8), min_size=1, max_size=6))
def test_formula_unwrapping_matches_the_regex_rule(cells: list[str]) -> None:
    """The slice-based unwrapping of ="…" cells gives what the documented regexes give."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.chunked_array([pa.array(cells, pa.string())])
    needs = pc.any(pc.match_substring_regex(
        arr, "^[\\s=`'\"\u3000\u00a0\ufeff]|[\\s\u3000\u00a0]$")).as_py()
    if needs:
        arr = pc.utf8_trim(arr, characters=" \t\r\n\u3000\u00a0\ufeff")
        if pc.any(pc.match_substring_regex(arr, r"^(=|'|`|\x22)")).as_py():
            arr = pc.replace_substring_regex(arr, r'^="?(.*?)"?$', r"\1")
            arr = pc.replace_substring_regex(arr, r"^['`]+", "")
            arr = pc.utf8_trim(arr, characters=" \t\u3000\x22")
    expected = [None if v in ("", "-", "--") else v for v in arr.to_pylist()]
    got = clean_text(pd.Series(cells, dtype="string[pyarrow]"))
    assert [None if pd.isna(v) else v for v in got] == expected


def test_byte_screens_on_slices_and_plain_arrays() -> None:
    import pyarrow as pa

    from privmigrate.ingest.cells import may_contain

    assert may_contain(pa.array(["浙江省，杭州", "x"]), ("，", ","))
    assert not may_contain(pa.chunked_array([pa.array(["浙江省 杭州", None])]), ("，", ","))
    assert may_contain(pa.chunked_array([pa.array(["a,b"], pa.large_string())]), (",",))
    # all-formula column (淘宝 order numbers) and a mixed one give the same cleaning
    wrapped = clean_text(_s('="1001"', '="1002"', None, '=""'))
    mixed = clean_text(_s('="1001"', "1002", None, '=""'))
    assert wrapped.tolist()[:2] == ["1001", "1002"] and mixed.tolist()[:2] == ["1001", "1002"]
    assert wrapped.iloc[3] is pd.NA and mixed.iloc[3] is pd.NA


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(alphabet="0123456789.-", min_size=1, max_size=7)),
                min_size=1, max_size=6))
def test_plain_number_columns_follow_the_money_rule(cells: list[str | None]) -> None:
    """Columns of digits, dots and minus signs take a cast instead of the regex; the cells it
    accepts and their fen must be those of the regex rule, one cell at a time."""
    import re

    rule = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)$")
    fen, bad = parse_money_fen(pd.Series(cells, dtype="string[pyarrow]"))
    for cell, value, flagged in zip(cells, fen, bad, strict=True):
        if cell is None or cell in ("-", "--"):  # null and the null words
            assert pd.isna(value) and not flagged
        elif rule.match(cell):
            assert not flagged and value == round(float(cell) * 100)
        else:
            assert flagged and pd.isna(value)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1900, 2099), st.integers(0, 13), st.integers(0, 32),
                          st.integers(0, 24), st.integers(0, 60), st.integers(0, 60)),
                min_size=1, max_size=5))
def test_iso_fast_path_equals_strptime(parts: list[tuple[int, ...]]) -> None:
    """Columns laid out as YYYY-MM-DD HH:MM:SS are cast (faster); the instants must be those
    strptime gives, and an impossible date (month 13, 24:00, Feb 30 …) must not pass."""
    from datetime import datetime

    import pyarrow as pa
    import pyarrow.compute as pc

    from privmigrate.ingest.cells import _iso_seconds

    cells = [f"{y:04d}-{mo:02d}-{d:02d} {h:02d}:{mi:02d}:{s:02d}" for y, mo, d, h, mi, s in parts]
    raw = pa.chunked_array([pa.array(cells, pa.large_string())])
    by_strptime = pc.strptime(raw, format="%Y-%m-%d %H:%M:%S", unit="us", error_is_null=True)
    fast = _iso_seconds(raw)
    real = []
    for y, mo, d, h, mi, s in parts:
        try:
            real.append(datetime(y, mo, d, h, mi, s))
        except ValueError:
            real.append(None)
    if all(r is not None for r in real):  # all real instants: the cast is taken, and right
        assert fast is not None and fast.to_pylist() == real == by_strptime.to_pylist()
    elif fast is not None:  # (otherwise the caller falls back to strptime)
        assert fast.to_pylist() == by_strptime.to_pylist()
    times, bad = parse_time(pd.Series(cells, dtype="string[pyarrow]"))
    expected = by_strptime.to_pylist()
    for got, want, flagged in zip(times, expected, bad, strict=True):
        if want is not None:
            assert got == pd.Timestamp(want) and not flagged
