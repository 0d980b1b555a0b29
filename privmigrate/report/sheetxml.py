"""Sheet rows rendered as SpreadsheetML with Arrow compute, a column at a time.

openpyxl (even write-only, even with lxml) builds a Python cell object per value and keeps
every distinct string in a shared-string table, so a 1M-row customer sheet is slow and its
memory grows with the data. Here each column becomes an Arrow array of ``<c>`` fragments in
vectorised C (escaping, number formatting, Excel date serials, the quote-prefix style for
text that looks like a formula), the fragments are joined into ``<row>`` strings, and the
row bytes are written straight out of the Arrow buffer: no per-cell Python at all. Strings
are inline (``t="inlineStr"``), as in xlsxwriter's constant-memory mode, so memory is bounded
by the chunk size. openpyxl still writes everything else (see ``detail.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

EXCEL_EPOCH_OFFSET = 25569  # days from 1899-12-30 (Excel's day 0) to 1970-01-01
MAX_CELL_CHARS = 32767  # Excel's limit on the text of one cell

# Characters XML 1.0 forbids; Excel refuses a file that holds them.
_ILLEGAL_XML = r"[\x00-\x08\x0B\x0C\x0E-\x1F]"
# OWASP "CSV injection": text starting with these may be taken for a formula when edited.
FORMULA_START = r"^[=+\-@\t\r]"
_EDGE_SPACE = r"^\s|\s$"

KINDS = ("text", "int", "float", "money", "date", "percent")


@dataclass(frozen=True)
class CellStyle:
    """The style ids (cellXfs indices) one column's cells use."""

    plain: int = 0
    quoted: int = 0  # plain + quotePrefix: text that must stay text even when edited


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def clean_text(values: pa.Array) -> pa.Array:
    """Text Excel accepts: XML-illegal characters dropped, cut at Excel's cell limit."""
    values = pc.cast(values, pa.string())
    if pc.any(pc.match_substring_regex(values, _ILLEGAL_XML)).as_py():
        values = pc.replace_substring_regex(values, _ILLEGAL_XML, "")
    if (pc.max(pc.utf8_length(values)).as_py() or 0) > MAX_CELL_CHARS:
        values = pc.utf8_slice_codeunits(values, 0, MAX_CELL_CHARS)
    return values


def escape_text(values: pa.Array) -> pa.Array:
    """Text made safe for an XML text node: cleaned, & < > escaped."""
    return _entities(clean_text(values))


def _entities(values: pa.Array) -> pa.Array:
    for raw, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        values = pc.replace_substring(values, raw, entity)
    return values


def looks_like_formula(values: pa.Array) -> pa.Array:
    """True where text would be read as a formula if a user edited the cell."""
    return pc.fill_null(pc.match_substring_regex(pc.cast(values, pa.string()), FORMULA_START),
                        False)


def _text_cells(values: pa.Array, refs: pa.Array, style: CellStyle) -> pa.Array:
    text = clean_text(values)  # first: "\x00=cmd…" must be judged as "=cmd…"
    escaped = _entities(text)
    quoted = looks_like_formula(text)
    s_attr = pc.if_else(quoted, f'" s="{style.quoted}" t="inlineStr"><is>',
                        f'" s="{style.plain}" t="inlineStr"><is>')
    spaced = pc.fill_null(pc.match_substring_regex(text, _EDGE_SPACE), False)
    t_open = pc.if_else(spaced, '<t xml:space="preserve">', "<t>")
    return pc.binary_join_element_wise(refs, s_attr, t_open, escaped, "</t></is></c>", "")


def _number_text(values: pa.Array, kind: str) -> pa.Array:
    """Numbers as the text of a ``<v>`` element (null for null, NaN and infinity)."""
    t = values.type
    if kind == "date":
        if pa.types.is_timestamp(t) or pa.types.is_date64(t):
            values = pc.cast(values, pa.date32())
        elif not pa.types.is_date32(t):
            values = pc.cast(pc.cast(values, pa.timestamp("us")), pa.date32())
        days = pc.add(pc.cast(values, pa.int32()), EXCEL_EPOCH_OFFSET)
        return pc.cast(days, pa.string())
    if pa.types.is_boolean(t):
        values = pc.cast(values, pa.int8())
    if pa.types.is_floating(t):
        values = pc.if_else(pc.is_finite(values), values, pa.scalar(None, t))
        if kind == "money":
            values = pc.round(values, 2)
    return pc.cast(values, pa.string())


def column_cells(values: pa.Array, kind: str, refs: pa.Array, style: CellStyle) -> pa.Array:
    """One column's ``<c>`` elements; an empty string where the value is null.

    ``refs`` holds ``<c r="B17`` for each row: the cell reference without its closing quote.
    """
    if kind == "text":
        cells = _text_cells(values, refs, style)
    else:
        number = _number_text(values, kind)
        cells = pc.binary_join_element_wise(refs, f'" s="{style.plain}"><v>', number, "</v></c>",
                                            "")
    return pc.fill_null(cells, "")


def render_rows(table: pa.Table, kinds: Sequence[str], styles: Sequence[CellStyle],
                first_row: int) -> pa.Array:
    """Each row of ``table`` as one ``<row r="n">…</row>`` string (1-based ``first_row``)."""
    numbers = pc.cast(pa.array(np.arange(first_row, first_row + table.num_rows, dtype=np.int64)),
                      pa.string())
    parts: list[pa.Array] = [pc.binary_join_element_wise('<row r="', numbers, '">', "")]
    for i, (kind, style) in enumerate(zip(kinds, styles, strict=True)):
        refs = pc.binary_join_element_wise(f'<c r="{column_letter(i)}', numbers, "")
        values = table.column(i).combine_chunks()
        parts.append(column_cells(values, kind, refs, style))
    return pc.binary_join_element_wise(*parts, "</row>", "")


def write_array_bytes(out: BinaryIO, rows: pa.Array) -> int:
    """Write the concatenated values of a null-free string array; return the byte count."""
    if isinstance(rows, pa.ChunkedArray):
        rows = rows.combine_chunks()
    if rows.type == pa.large_string():
        offsets_type = np.int64
    else:
        offsets_type = np.int32
    _, offsets_buf, data_buf = rows.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=offsets_type)
    offsets = offsets[rows.offset:rows.offset + len(rows) + 1]
    start, end = int(offsets[0]), int(offsets[-1])
    out.write(memoryview(data_buf)[start:end])
    return end - start


def estimated_xml_bytes(table: pa.Table) -> int:
    """A generous upper bound of the sheet XML size (to decide whether the zip needs Zip64)."""
    total = table.num_rows * (32 + 56 * table.num_columns)
    for column in table.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            total += 5 * (pc.sum(pc.binary_length(column)).as_py() or 0)
    return total
