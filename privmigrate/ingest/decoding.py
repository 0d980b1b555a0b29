"""Text of CSV cells in GB18030/GBK/Big5, decoded column by column after parsing the bytes.

Arrow's CSV reader decodes a non-UTF-8 file by running the whole byte stream through
Python's codec on one thread before it parses anything (for a 淘宝 GBK export, ~80 % of
the read). These encodings never use the bytes that give a CSV its shape — comma, quote,
CR, LF, tab, semicolon — inside a multi-byte character (lead bytes are ≥ 0x81, trail bytes
≥ 0x40 or the digits of a GB18030 four-byte sequence). So the file can be parsed as bytes on
all cores, and then:
- a column that is pure ASCII (order numbers, amounts, times, phones) is the same text in
  UTF-8: it only changes type;
- any other column is decoded one distinct value at a time (statuses, products, repeat
  buyers' names repeat), or — when most of its values differ (addresses, notes) — by one
  codec call over all its cells.
"""

from __future__ import annotations

import codecs
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from privmigrate.ingest.cells import byte_buffers

# Codec names (codecs.lookup(...).name) whose multi-byte characters never contain a byte
# below 0x40 other than the digits 0x30–0x39.
STRUCTURE_SAFE = frozenset({"gb18030", "gbk", "gb2312", "big5", "big5hkscs"})


def decodes_by_column(encoding: str, delimiter: str) -> bool:
    """Whether a CSV in ``encoding`` with ``delimiter`` can be parsed as bytes."""
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        return False
    code = ord(delimiter) if len(delimiter) == 1 else 0xFF
    return name in STRUCTURE_SAFE and code < 0x40 and not 0x30 <= code <= 0x39


class UndecodableCell(UnicodeError):
    """A cell whose bytes are not text in the file's encoding."""

    def __init__(self, column: str, position: int, encoding: str) -> None:
        super().__init__(f"column {column}: bytes that are not {encoding} text")
        self.column = column
        self.position = position  # 0-based among the table's rows


def decode_table(table: pa.Table, encoding: str) -> pa.Table:
    """``table``'s binary columns as large_string; UndecodableCell names the first bad cell
    of the first column that has one."""
    # dictionary encoding and take run in Arrow without the GIL: two columns at a time
    with ThreadPoolExecutor(max_workers=2) as pool:
        columns = list(pool.map(lambda name: decode_column(table.column(name), encoding, name),
                                table.column_names))
    return pa.table(dict(zip(table.column_names, columns, strict=True)))


def decode_column(column: pa.ChunkedArray, encoding: str, name: str = "") -> pa.ChunkedArray:
    """One binary column as large_string text."""
    if all(_ascii_only(chunk) for chunk in column.chunks):
        return column.cast(pa.large_string())  # ASCII is UTF-8 as it stands
    if _mostly_distinct(column):
        whole = _decode_whole(column.combine_chunks(), encoding)
        if whole is not None:
            return pa.chunked_array([whole])
    encoded = pc.dictionary_encode(column).combine_chunks()
    values = encoded.dictionary.to_pylist()
    joined = b"\x00".join(values)
    try:
        if joined.count(b"\x00") == max(len(values) - 1, 0):  # NUL only between the values
            texts = joined.decode(encoding).split("\x00") if values else []
        else:
            texts = [v.decode(encoding) for v in values]
    except UnicodeDecodeError:
        bad = next(k for k, v in enumerate(values) if not _decodes(v, encoding))
        position = pc.index(encoded.indices, pa.scalar(bad, encoded.indices.type)).as_py()
        raise UndecodableCell(name, position, encoding) from None
    dictionary = pa.array(texts, type=pa.large_string())
    return pa.chunked_array([dictionary.take(encoded.indices)])


SAMPLE_ROWS = 1 << 16


def _mostly_distinct(column: pa.ChunkedArray) -> bool:
    """Whether most values differ (addresses, free text), judged on the first rows: then
    decoding each distinct value costs more than decoding every cell in one go."""
    sample = column.slice(0, SAMPLE_ROWS).drop_null()
    return len(sample) > 0 and len(pc.unique(sample)) > len(sample) // 2


def _decode_whole(arr: pa.Array, encoding: str) -> pa.Array | None:
    """Every cell decoded by one codec call over the cells joined with NUL separators, the
    UTF-8 offsets found again at the separators (no Python object per cell); None when a
    cell holds a NUL or does not decode (the per-value path handles and names those)."""
    n = len(arr)
    if n == 0:
        return None
    separated = pc.binary_join_element_wise(
        pc.fill_null(arr, b""), pa.scalar(b"", arr.type), pa.scalar(b"\x00", arr.type))
    bounds, data = byte_buffers(separated)
    raw = data[int(bounds[0]):int(bounds[-1])].tobytes()
    if raw.count(b"\x00") != n:
        return None
    try:
        utf8 = np.frombuffer(raw.decode(encoding).encode("utf-8"), dtype=np.uint8)
    except UnicodeDecodeError:
        return None
    separators = np.flatnonzero(utf8 == 0)
    offsets = np.zeros(n + 1, dtype=np.int64)
    offsets[1:] = separators - np.arange(n)  # cell i ends where its separator was, less i
    data = utf8[utf8 != 0]
    validity = pc.is_valid(arr).buffers()[1] if arr.null_count else None
    return pa.Array.from_buffers(pa.large_string(), n, [
        validity, pa.py_buffer(offsets), pa.py_buffer(data)], null_count=arr.null_count)


def _decodes(value: bytes, encoding: str) -> bool:
    try:
        value.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _ascii_only(chunk: pa.Array) -> bool:
    offsets, data = byte_buffers(chunk)
    start, end = int(offsets[0]), int(offsets[-1])
    return end <= start or int(data[start:end].max()) < 0x80
