"""File writers for the synthetic exports: CSV bytes and a small inline-string xlsx writer
(cells built with Arrow compute, no per-cell Python)."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from privmigrate.workspace import write_bytes_atomic

# ------------------------------------------------------------------ file writers

def _csv_bytes(frame: pd.DataFrame, encoding: str, *, trailing_comma: bool = False) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    header = list(frame.columns)
    writer.writerow([*header, ""] if trailing_comma else header)
    body = frame.astype(object).where(frame.notna(), "")
    if trailing_comma:
        body = body.assign(__end="")
    writer.writerows(body.itertuples(index=False, name=None))
    return buf.getvalue().encode(encoding)


@dataclass(frozen=True)
class Sheet:
    """One worksheet: a title line (or None), a header, and string cells (numeric columns are
    written as numbers, as Excel users' exports often have them)."""

    name: str
    frame: pd.DataFrame
    numeric: frozenset[str] = frozenset()
    title: str | None = None


def _col_letters(n: int) -> list[str]:
    out = []
    for i in range(n):
        letters, k = "", i + 1
        while k:
            k, rem = divmod(k - 1, 26)
            letters = chr(65 + rem) + letters
        out.append(letters)
    return out


def _xml_escape(arr: pa.Array) -> pa.Array:
    for raw, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        arr = pc.replace_substring(arr, raw, entity)
    return arr


def _sheet_xml(sheet: Sheet) -> bytes:
    frame = sheet.frame
    header = [str(c) for c in frame.columns]
    letters = _col_letters(len(header))
    first = 1 + (sheet.title is not None)
    rows_xml: list[str] = []
    if sheet.title is not None:
        rows_xml.append(f'<row r="1"><c r="A1" t="inlineStr"><is><t>{sheet.title}</t></is></c>'
                        "</row>")
    head_cells = "".join(
        f'<c r="{letters[j]}{first}" t="inlineStr"><is><t>{_esc(h)}</t></is></c>'
        for j, h in enumerate(header))
    rows_xml.append(f'<row r="{first}">{head_cells}</row>')
    n = len(frame)
    body = b""
    if n:
        rownum = pa.array((np.arange(n) + first + 1).astype(str))
        parts = [pa.array(np.full(n, "<row>", dtype=object))]
        for j, col in enumerate(frame.columns):
            values = pa.array(frame.iloc[:, j].to_numpy(dtype=object), from_pandas=True)
            if not pa.types.is_string(values.type):
                values = pc.cast(values, pa.string())
            values = pc.fill_null(values, "")
            ref = pc.binary_join_element_wise(letters[j], rownum, "")
            empty = pc.equal(values, "")
            if col in sheet.numeric:
                cell = pc.binary_join_element_wise('<c r="', ref, '"><v>', values, "</v></c>", "")
            else:
                cell = pc.binary_join_element_wise(
                    '<c r="', ref, '" t="inlineStr"><is><t xml:space="preserve">',
                    _xml_escape(values), "</t></is></c>", "")
            parts.append(pc.if_else(empty, "", cell))
        parts.append(pa.array(np.full(n, "</row>", dtype=object)))
        joined = pc.cast(pc.binary_join_element_wise(*parts, ""), pa.large_string())
        joined = joined.combine_chunks() if isinstance(joined, pa.ChunkedArray) else joined
        # the rows are back to back in the array's data buffer: take the bytes as they are
        offsets = np.frombuffer(joined.buffers()[1], dtype=np.int64)[joined.offset:]
        body = joined.buffers()[2].to_pybytes()[offsets[0]:offsets[n]]
    return (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        b"<sheetData>" + "".join(rows_xml).encode() + body + b"</sheetData></worksheet>"
    )


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _xlsx_bytes(sheets: Sequence[Sheet]) -> bytes:
    ns = "http://schemas.openxmlformats.org/"
    content = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<Types xmlns="{ns}package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.sheet.main+xml"/>'
        + "".join(
            f'<Override PartName="/xl/worksheets/sheet{i + 1}.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            for i in range(len(sheets)))
        + "</Types>"
    )
    rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<Relationships xmlns="{ns}package/2006/relationships"><Relationship Id="rId1" '
        f'Type="{ns}officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
        "</Relationships>"
    )
    workbook = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<workbook xmlns="{ns}spreadsheetml/2006/main" '
        f'xmlns:r="{ns}officeDocument/2006/relationships"><sheets>'
        + "".join(f'<sheet name="{_esc(s.name)}" sheetId="{i + 1}" r:id="rId{i + 1}"/>'
                  for i, s in enumerate(sheets))
        + "</sheets></workbook>"
    )
    wb_rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<Relationships xmlns="{ns}package/2006/relationships">'
        + "".join(
            f'<Relationship Id="rId{i + 1}" Type="{ns}officeDocument/2006/relationships/'
            f'worksheet" Target="worksheets/sheet{i + 1}.xml"/>' for i in range(len(sheets)))
        + "</Relationships>"
    )
    buf = io.BytesIO()
    fixed = (1980, 1, 1, 0, 0, 0)  # fixed timestamps: the same seed gives the same bytes
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in (("[Content_Types].xml", content), ("_rels/.rels", rels),
                           ("xl/workbook.xml", workbook), ("xl/_rels/workbook.xml.rels", wb_rels)):
            zf.writestr(zipfile.ZipInfo(name, fixed), data, zipfile.ZIP_DEFLATED, 1)
        for i, sheet in enumerate(sheets):
            zf.writestr(zipfile.ZipInfo(f"xl/worksheets/sheet{i + 1}.xml", fixed),
                        _sheet_xml(sheet), zipfile.ZIP_DEFLATED, 1)
    return buf.getvalue()


def write_xlsx(path: Path, sheets: Sequence[Sheet]) -> Path:
    """Write ``sheets`` as an xlsx workbook, atomically and owner-only."""
    write_bytes_atomic(path, _xlsx_bytes(sheets))
    return path


