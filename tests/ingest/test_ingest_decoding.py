"""GB18030/GBK/Big5 CSVs parsed as bytes and decoded per column read exactly like text."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privmigrate.errors import InputError
from privmigrate.ingest.decoding import _decode_whole, decode_column, decodes_by_column
from privmigrate.ingest.readers import CarefulReadNeeded, csv_layout, iter_csv_chunks, read_csv

HEADER = ["订单编号", "买家会员名", "收货地址"]
# CJK (many GBK trail bytes fall in 0x40–0x7E: 丂 is 81 40), GB18030 four-byte characters
# (𠀀, 𪚥), € (one byte in cp936, two in GB18030), and every CSV structure byte
SPECIAL = [*"丂丄丅乗乘测试用户甲乙张三省市区路号元，。、；：“”（）【】€·×÷°±§¨𠀀𪚥",
           ",", '"', "'", "\\", "|", "@", "~", "`", "^", "_", "{", "}", " ", "\t", "\n", "0", "9"]
CELL = st.text(alphabet=st.one_of(st.sampled_from(SPECIAL),
                                  st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),
                                  st.characters(min_codepoint=0x20, max_codepoint=0x7E)),
               max_size=10)
ROWS = st.lists(st.lists(CELL, min_size=3, max_size=3), min_size=1, max_size=25)


def write_csv(path: Path, rows: list[list[str]], encoding: str, delimiter: str = ",",
              header: list[str] = HEADER) -> Path:
    text = io.StringIO()
    writer = csv.writer(text, delimiter=delimiter, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(text.getvalue().encode(encoding))
    return path


def cells(path: Path, encoding: str | None = None, header: list[str] = HEADER
          ) -> list[list[str | None]]:
    frame = read_csv(path, encoding=encoding).frame
    assert list(frame.columns) == header
    return [[None if v is None or v != v else v for v in row]
            for row in frame.astype(object).where(frame.notna(), None).values.tolist()]


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=ROWS)
def test_gb18030_bytes_read_like_the_text_they_spell(tmp_path: Path, rows: list[list[str]]
                                                     ) -> None:
    path = write_csv(tmp_path / "orders.csv", rows, "gb18030")
    assert cells(path, "gb18030") == [[c or None for c in row] for row in rows]


def test_gbk_file_detected_without_an_encoding(tmp_path: Path) -> None:
    rows = [["=\"3000001\"", "测试用户甲", "浙江省 杭州市 西湖区 测试路1号"],
            ["3000002", "丂乗,\"引号\"", ""]]
    path = write_csv(tmp_path / "ExportOrderList.csv", rows, "gbk")
    assert cells(path) == [["=\"3000001\"", "测试用户甲", "浙江省 杭州市 西湖区 测试路1号"],
                           ["3000002", "丂乗,\"引号\"", None]]


def test_big5_file_with_an_explicit_encoding(tmp_path: Path) -> None:
    rows = [["T1", "測試用戶", "臺北市 信義區 測試路1號"]]
    header = ["訂單編號", "買家會員名", "收貨地址"]
    path = write_csv(tmp_path / "big5.csv", rows, "big5", header=header)
    assert cells(path, "big5", header) == rows


def test_a_pipe_delimited_gbk_file_is_decoded_before_parsing(tmp_path: Path) -> None:
    # | (0x7C) can be the second byte of a GBK character: such a file cannot be split as bytes
    assert not decodes_by_column("gbk", "|") and decodes_by_column("gb18030", ",")
    assert not decodes_by_column("utf-16", ",") and not decodes_by_column("gbk", "5")
    rows = [["T1", "乗|乘", "测试路"]]  # 乗 is 81 7C in GBK
    path = write_csv(tmp_path / "pipe.csv", rows, "gbk", delimiter="|")
    assert cells(path, "gbk") == rows


def test_bytes_that_are_not_gb18030_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.csv"
    path.write_bytes("订单编号,买家会员名,收货地址\nT1,测试,路\n".encode("gb18030")
                     + b"T2,\x81\x20bad,x\n")
    with pytest.raises(InputError, match=r"broken\.csv: row 3, column 买家会员名: bytes that "
                       r"are not gb18030 text"):
        read_csv(path, encoding="gb18030")


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
def test_a_gbk_row_with_too_many_fields_is_reported_and_the_rest_read(tmp_path: Path) -> None:
    # read as bytes, Arrow cannot show the bad row as text: the text route reads this file
    path = tmp_path / "ragged.csv"
    path.write_bytes("订单编号,买家会员名,收货地址\nT1,测试甲,路\nT2,多,了,一列\nT3,测试乙,路\n"
                     .encode("gbk"))
    raw = read_csv(path)
    assert [(b.row, b.reason) for b in raw.bad_rows] == [
        (3, "row has too many fields (4, header has 3)")]
    assert raw.frame["买家会员名"].tolist() == ["测试甲", "测试乙"]
    assert raw.rows.tolist() == [2, 4]


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
def test_a_streamed_gbk_file_with_a_ragged_row_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_bytes("订单编号,买家会员名,收货地址\nT1,测试甲,路\nT2,多,了,一列\n".encode("gbk"))
    layout = csv_layout(path)
    with pytest.raises(CarefulReadNeeded):
        list(iter_csv_chunks(path, layout, rows_per_chunk=1))


def test_bad_bytes_beside_a_ragged_row_still_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.csv"
    path.write_bytes("订单编号,买家会员名,收货地址\nT1,测试,路\nT2,多,了,一列\n".encode("gb18030")
                     + b"T3,ok,\xff\xff\n")
    with pytest.raises(InputError, match=r"broken\.csv: cannot read as gb18030"):
        read_csv(path, encoding="gb18030")


def test_a_cell_holding_a_nul_byte_still_decodes() -> None:
    column = pa.chunked_array([pa.array(["测试\x00甲".encode("gbk"), None, "乙".encode("gbk"),
                                         "测试\x00甲".encode("gbk")], pa.large_binary())])
    assert decode_column(column, "gbk").to_pylist() == ["测试\x00甲", None, "乙", "测试\x00甲"]


def test_ascii_columns_change_type_only() -> None:
    column = pa.chunked_array([pa.array([b"300000000000000001", None, b"12.50"],
                                        pa.large_binary())])
    out = decode_column(column, "gb18030")
    assert out.type == pa.large_string() and out.to_pylist() == ["300000000000000001", None,
                                                                  "12.50"]


def test_the_taobao_example_reads_the_same_as_decoding_the_whole_file(
    example_exports: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from privmigrate.ingest import readers

    path = example_exports["taobao_csv"]  # GBK, the full legacy header, ="…" cells
    by_column = read_csv(path)
    assert by_column.encoding == "gb18030"
    monkeypatch.setattr(readers, "decodes_by_column", lambda encoding, delimiter: False)
    whole = read_csv(path)  # Arrow transcodes the whole file before parsing
    pd.testing.assert_frame_equal(by_column.frame, whole.frame)
    assert (by_column.rows == whole.rows).all()


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.one_of(st.none(), CELL), max_size=40), skip=st.integers(0, 3))
def test_both_ways_of_decoding_a_column_give_each_cell_its_text(values: list[str | None],
                                                                  skip: int) -> None:
    # one codec call over the whole column (mostly distinct values) or one per distinct value
    arr = pa.array([None if v is None else v.encode("gb18030") for v in values],
                   pa.large_binary()).slice(min(skip, len(values)))
    want = values[min(skip, len(values)):]
    whole = _decode_whole(arr, "gb18030")
    assert whole is None if not want else whole.to_pylist() == want
    assert decode_column(pa.chunked_array([arr], pa.large_binary()), "gb18030").to_pylist() == want


@pytest.mark.parametrize("distinct", [3, 100_000])
def test_a_column_in_several_chunks_decodes_like_one(distinct: int) -> None:
    # Arrow's reader hands a big file over in blocks: values repeat across them
    texts = [None if i % 11 == 0 else f"测试路{i % distinct}号" for i in range(100_000)]
    chunks = [pa.array([None if t is None else t.encode("gbk") for t in texts[i:i + 30_000]],
                       pa.large_binary()) for i in range(0, len(texts), 30_000)]
    assert decode_column(pa.chunked_array(chunks), "gbk").to_pylist() == texts


def test_line_breaks_in_quoted_gbk_cells_stay_in_their_cell(tmp_path: Path) -> None:
    rows = [["T1", "测试甲", "第一行\n第二行"], ["T2", "测试乙", "路"]]
    path = write_csv(tmp_path / "notes.csv", rows, "gbk")
    raw = read_csv(path)
    assert raw.frame["收货地址"].tolist() == ["第一行\n第二行", "路"]
    assert raw.rows.tolist() == [2, 3] and raw.bad_rows == []
