"""明细: the customer table, split across sheets past Excel's row limit.

openpyxl writes each detail sheet's frame — header row, column widths, frozen header,
autofilter, the cell styles the rows use — with only the header in it. After the workbook is
saved, ``splice_rows`` copies the package and streams the data rows into each detail sheet's
``<sheetData>`` with ``sheetxml`` (vectorised, bounded memory). The trade-off is documented in
docs/report.md: openpyxl alone (write-only, lxml) needs a Python cell object per value and a
shared-string table that grows with the data, which misses the speed and memory targets.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from privmigrate.masking import mask_phone
from privmigrate.progress import NULL_PROGRESS, Progress
from privmigrate.report import sheetxml
from privmigrate.report.excel import (
    FORMATS,
    HEADER_BORDER,
    HEADER_FILL,
    HEADER_FONT,
    MAX_WIDTH,
    MIN_WIDTH,
    display_width,
    print_setup,
    shown,
)
from privmigrate.report.sheetxml import CellStyle

EXCEL_MAX_ROWS = 1_048_576
CHUNK_ROWS = 32_768
ZIP64_THRESHOLD = 1_900_000_000  # bytes; Zip64 is needed past 4 GiB (2 GiB for some readers)

# (column, kind) in the order a marketer reads them; absent columns are skipped.
DETAIL_COLUMNS: list[tuple[str, str]] = [
    ("customer_id", "text"), ("name", "text"), ("phone", "text"), ("segment", "text"),
    ("rfm_segment", "text"), ("priority", "float"), ("orders", "int"),
    ("total_amount", "money"), ("avg_amount", "money"), ("first_paid_at", "date"),
    ("last_paid_at", "date"), ("recency_days", "int"), ("tenure_days", "int"),
    ("r_score", "int"), ("f_score", "int"), ("m_score", "int"), ("phone_status", "text"),
    ("reachable_by_sms", "bool"), ("in_private_domain", "bool"), ("last_invited", "date"),
    ("invite_status", "text"), ("converted", "bool"), ("sources", "text"),
    ("last_product", "text"), ("province", "text"), ("city", "text"),
]

# Free-text columns that may hold a mobile number typed by a buyer or a clerk.
FREE_TEXT = ("name", "last_product", "province", "city", "segment", "rfm_segment")
MOBILE_IN_TEXT = r"(1[3-9]\d)\d{4}(\d{4})"

# CJK and full-width ranges (East Asian Width W/F), for widths computed in Arrow.
_WIDE = (r"[\x{1100}-\x{115F}\x{2E80}-\x{A4CF}\x{AC00}-\x{D7A3}\x{F900}-\x{FAFF}"
         r"\x{FE30}-\x{FE4F}\x{FF00}-\x{FF60}\x{FFE0}-\x{FFE6}\x{20000}-\x{3FFFD}]")


@dataclass
class DetailSheet:
    """One detail sheet: its part name in the package and the rows it holds."""

    sheet: Any  # the openpyxl write-only worksheet
    rows: pa.Table
    styles: list[CellStyle] = field(default_factory=list)

    @property
    def part(self) -> str:
        """The sheet's zip entry; openpyxl numbers the sheets when it saves the workbook."""
        return str(self.sheet.path).lstrip("/")


def detail_table(customers: pa.Table, invites: pd.DataFrame | None,
                 t: dict[str, str]) -> tuple[pa.Table, list[str], list[str]]:
    """The detail rows (phones masked, labels translated), their kinds and headers."""
    table = customers
    if invites is not None and len(invites):
        # a left join on a unique key, keeping row order (Arrow's join refuses list columns)
        extra = pa.Table.from_pandas(invites, preserve_index=False)
        where = pc.index_in(pc.cast(table.column("customer_id"), pa.string()),
                            value_set=pc.cast(extra.column("customer_id"), pa.string()))
        for name in extra.column_names:
            if name != "customer_id":
                table = table.append_column(name, pc.take(extra.column(name), where))
    # NOTE: sort indices, then take only the shown columns one by one: a sorted copy of the
    # whole table would double peak memory for 1M customers.
    order = (pc.sort_indices(table, sort_keys=[("priority", "descending"),
                                               ("customer_id", "ascending")])
             if "priority" in table.column_names else None)
    columns, kinds, headers = [], [], []
    for name, kind in DETAIL_COLUMNS:
        if name not in table.column_names:
            continue
        column = table.column(name)
        if order is not None:
            column = column.take(order)
        columns.append(_prepare(column, name, kind, t))
        kinds.append("text" if kind == "bool" else kind)
        headers.append(t[f"c.{name}"])
    return pa.table(columns, names=headers), kinds, headers


def _prepare(column: pa.ChunkedArray, name: str, kind: str, t: dict[str, str]) -> pa.Array:
    values = column.combine_chunks()
    if name == "phone":
        masked = mask_phone(pd.Series(values, dtype=pd.ArrowDtype(values.type)))
        return pa.array(masked.astype("string[pyarrow]"), type=pa.string())
    if kind == "bool":
        return pc.if_else(pc.cast(values, pa.bool_()), t["yes"], t["no"])
    if pa.types.is_list(values.type) or pa.types.is_large_list(values.type):
        return pc.binary_join(pc.cast(values, pa.list_(pa.string())), ",")
    if name in ("phone_status", "invite_status"):
        return _translate(values, t, "ps." if name == "phone_status" else "st.")
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    if kind == "text" and name in FREE_TEXT:
        # buyers type their mobile into the name field; the report shows none in full
        values = pc.replace_substring_regex(pc.cast(values, pa.string()), MOBILE_IN_TEXT,
                                            r"\1****\2")
    return values


def _translate(values: pa.Array, t: dict[str, str], prefix: str) -> pa.Array:
    keys = [k[len(prefix):] for k in t if k.startswith(prefix)]
    text = pc.cast(values, pa.string())
    idx = pc.index_in(text, value_set=pa.array(keys, pa.string()))
    labels = pa.array([t[prefix + k] for k in keys], pa.string())
    return pc.coalesce(pc.take(labels, idx), text)


def column_widths(table: pa.Table, kinds: list[str], headers: list[str]) -> list[float]:
    """Widths from the whole column (vectorised): CJK counts double, capped at MAX_WIDTH."""
    widths = []
    for column, kind, header in zip(table.columns, kinds, headers, strict=True):
        widest = display_width(header)
        if table.num_rows:
            if kind == "text":
                text = pc.cast(column, pa.string())
                cols = pc.add(pc.utf8_length(text), pc.count_substring_regex(text, _WIDE))
                widest = max(widest, int(pc.max(cols).as_py() or 0))
            elif kind == "date":
                widest = max(widest, len("2026-01-01"))
            else:
                extremes = pc.min_max(column)
                samples = [shown(extremes[k].as_py(), kind) for k in ("min", "max")]
                widest = max([widest, *(display_width(s) for s in samples)])
        widths.append(float(min(MAX_WIDTH, max(MIN_WIDTH, widest + 2))))
    return widths


def add_detail_sheets(wb: Workbook, table: pa.Table, kinds: list[str], headers: list[str],
                      title: str, row_limit: int = EXCEL_MAX_ROWS) -> list[DetailSheet]:
    """Create the header-only detail sheets (明细, 明细2, …); rows are spliced in later."""
    per_sheet = row_limit - 1
    count = max(1, -(-table.num_rows // per_sheet))
    widths = column_widths(table, kinds, headers)
    sheets = []
    for i in range(count):
        ws = wb.create_sheet(title if i == 0 else f"{title}{i + 1}")
        part_rows = table.slice(i * per_sheet, per_sheet)
        for j, width in enumerate(widths):
            ws.column_dimensions[sheetxml.column_letter(j)].width = width
        ws.freeze_panes = "A2"
        print_setup(ws, header_rows=1)
        last_col = sheetxml.column_letter(len(headers) - 1)
        ws.auto_filter.ref = f"A1:{last_col}{part_rows.num_rows + 1}"
        header = []
        for name in headers:
            c = WriteOnlyCell(ws, value=name)
            c.font, c.fill, c.border = HEADER_FONT, HEADER_FILL, HEADER_BORDER
            header.append(c)
        ws.append(header)
        styles = [_column_style(ws, kind) for kind in kinds]
        sheets.append(DetailSheet(ws, part_rows, styles))
    return sheets


def _column_style(ws: object, kind: str) -> CellStyle:
    """Register the column's cell styles with the workbook; return their cellXfs ids."""
    plain = WriteOnlyCell(ws)
    if kind != "text":
        plain.number_format = FORMATS[kind]
    quoted = WriteOnlyCell(ws)
    quoted.quotePrefix = True
    return CellStyle(plain=plain.style_id, quoted=quoted.style_id)


def splice_rows(src: Path, dst: Path, sheets: list[DetailSheet], kinds: list[str],
                progress: Progress = NULL_PROGRESS) -> None:
    """Copy the package at ``src`` to ``dst``, streaming each detail sheet's rows into it."""
    by_part = {s.part: s for s in sheets}
    progress.start("report: customer rows", total=sum(s.rows.num_rows for s in sheets))
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            sheet = by_part.get(info.filename)
            if sheet is None:
                zout.writestr(info, data)
                continue
            head, tail = data.split(b"</sheetData>", 1)
            last = f"{sheetxml.column_letter(len(kinds) - 1)}{sheet.rows.num_rows + 1}"
            head = re.sub(rb'<dimension ref="[^"]*"\s*/>',
                          f'<dimension ref="A1:{last}"/>'.encode(), head, count=1)
            entry = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            entry.compress_type = zipfile.ZIP_DEFLATED
            big = sheetxml.estimated_xml_bytes(sheet.rows) > ZIP64_THRESHOLD
            with zout.open(entry, "w", force_zip64=big) as out:
                out.write(head)
                _stream_rows(out, sheet, kinds, progress)
                out.write(b"</sheetData>")
                out.write(tail)
    progress.finish()


def _stream_rows(out: BinaryIO, sheet: DetailSheet, kinds: list[str],
                 progress: Progress) -> None:
    for start in range(0, sheet.rows.num_rows, CHUNK_ROWS):
        chunk = sheet.rows.slice(start, CHUNK_ROWS)
        rows = sheetxml.render_rows(chunk, kinds, sheet.styles, first_row=start + 2)
        sheetxml.write_array_bytes(out, rows)
        progress.advance(chunk.num_rows)

