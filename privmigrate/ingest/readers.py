"""Open export files as they come: CSV in any of the usual encodings, xlsx/xls with all sheets.

Everything is read as text — order numbers and phones must never pass through floats — and
each row keeps the number a spreadsheet user sees (header = row 1), so rejects can point at it.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from privmigrate.errors import InputError
from privmigrate.ingest.decoding import UndecodableCell, decode_table, decodes_by_column

CSV_SUFFIXES = {".csv", ".txt", ".tsv"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"}
SAMPLE_BYTES = 1 << 20
# Sheets that hold after-sale records, not orders (抖店/视频号 multi-sheet exports).
SKIP_SHEET_WORDS = ("售后", "退款单", "说明")


@dataclass
class BadRow:
    """A row the reader could not split into the header's columns."""

    row: int
    reason: str


@dataclass
class RawExport:
    """One file's cells as text, one DataFrame per block of rows sharing a header."""

    path: Path
    frame: pd.DataFrame  # all columns string dtype, header cleaned
    rows: np.ndarray  # spreadsheet row number of each frame row
    sheets: np.ndarray | None = None  # sheet name per row (xlsx) or None
    bad_rows: list[BadRow] = field(default_factory=list)
    encoding: str | None = None
    header_row: int = 1

    def location(self, i: int) -> str:
        """``file`` or ``file[sheet]`` for frame row ``i``."""
        if self.sheets is None:
            return self.path.name
        return f"{self.path.name}[{self.sheets[i]}]"


HeaderScorer = Callable[[list[str]], int]


def read_export(
    path: Path, *, encoding: str | None = None, header_score: HeaderScorer | None = None
) -> RawExport:
    """Read ``path`` (CSV or Excel) as text; InputError with a fix when it cannot be read."""
    check_path(path)
    suffix = path.suffix.lower()
    if suffix in EXCEL_SUFFIXES or _looks_like_zip(path):
        return read_excel(path, header_score=header_score)
    return read_csv(path, encoding=encoding, header_score=header_score)


def check_path(path: Path) -> None:
    if not path.exists():
        raise InputError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise InputError(f"{path}: is a directory; give the export files inside it")
    try:
        size = path.stat().st_size
        with path.open("rb"):
            pass
    except OSError as exc:
        raise InputError(f"{path}: cannot open ({exc.strerror}); check its permissions") from exc
    if size == 0:
        raise InputError(f"{path}: the file is empty; export it again from the platform")


def _looks_like_zip(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(4) == b"PK\x03\x04"


# ---------------------------------------------------------------- CSV


def sniff_encoding(sample: bytes) -> str:
    """BOM first, then strict UTF-8, then GB18030 (a superset of GBK), then UTF-16."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    bom_less = _utf16_without_bom(sample)
    if bom_less:
        return bom_less
    for enc in ("utf-8", "gb18030"):
        try:
            codecs.getincrementaldecoder(enc)().decode(sample, final=False)
            return enc
        except UnicodeDecodeError:
            continue
    # Not text in any encoding we know: the binary check or the decode error explains it.
    return "utf-8"


def _utf16_without_bom(sample: bytes) -> str | None:
    """UTF-16 without a BOM: the ASCII parts (delimiters, digits, newlines) put a zero byte
    on one side of many code units and almost none on the other; binary junk does not."""
    head = sample[: 1 << 16]
    half = len(head) // 2
    if half < 2:
        return None
    odd, even = head[1::2].count(0), head[0::2].count(0)
    if odd >= 0.2 * half and even <= 0.02 * half:
        return "utf-16-le"
    if even >= 0.2 * half and odd <= 0.02 * half:
        return "utf-16-be"
    return None


def _decodes(sample: bytes, encoding: str) -> bool:
    try:
        codecs.getincrementaldecoder(encoding)().decode(sample, final=False)
    except UnicodeError:
        return False
    return True


def _sample_text(path: Path, encoding: str) -> str:
    with path.open("rb") as fh:
        raw = fh.read(SAMPLE_BYTES)
    return codecs.getincrementaldecoder(encoding)(errors="replace").decode(raw, final=False)


def _sniff_delimiter(text: str) -> str:
    first = text.splitlines()[0] if text else ""
    counts = {d: first.count(d) for d in (",", "\t", ";", "|")}
    return max(counts, key=counts.get) if max(counts.values()) > 0 else ","


def clean_header(names: list[str]) -> list[str]:
    """Trim header cells (BOM, quotes, ="…", spaces); make duplicates unique (分销员 → 分销员.1)."""
    out: list[str] = []
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        text = str(name or "").replace("\ufeff", "").strip().strip('"').strip()
        if text.startswith('="') and text.endswith('"'):
            text = text[2:-1]
        text = text or f"column_{i + 1}"
        if text in seen:
            seen[text] += 1
            text = f"{text}.{seen[text]}"
        else:
            seen[text] = 0
        out.append(text)
    return out


def _find_header(rows: list[list[str]], header_score: HeaderScorer | None) -> int:
    """Index of the header among the first rows (some exports put a title line first)."""
    if header_score is None:
        return 0
    best, best_score = 0, 0
    for i, row in enumerate(rows[:10]):
        score = header_score(clean_header(row))
        if score > best_score:
            best, best_score = i, score
    return best


@dataclass(frozen=True)
class CsvLayout:
    """What sniffing the start of a CSV found: encoding, delimiter, header and its line."""

    encoding: str
    delimiter: str
    header: list[str]
    skip: int  # lines above the header


def csv_layout(
    path: Path, *, encoding: str | None = None, header_score: HeaderScorer | None = None
) -> CsvLayout:
    """Sniff a CSV's encoding, delimiter and header row from its first megabyte."""
    with path.open("rb") as fh:
        sample = fh.read(SAMPLE_BYTES)
    enc = encoding or sniff_encoding(sample)
    try:
        codecs.lookup(enc)
    except LookupError as exc:
        raise InputError(f"{path}: unknown encoding {enc!r}; try --encoding gb18030") from exc
    if b"\x00" in sample and not enc.startswith("utf-16"):
        raise InputError(
            f"{path}: looks like a binary file, not a CSV or Excel export; "
            "export it again as CSV or xlsx"
        )
    if encoding is None and not _decodes(sample, enc):
        raise InputError(
            f"{path}: not text in UTF-8, GB18030 or UTF-16; pass its encoding with --encoding"
        )
    try:
        text = _sample_text(path, enc)
    except UnicodeError as exc:  # e.g. --encoding utf-16 on a file without a BOM
        raise InputError(f"{path}: cannot read as {enc} ({_short(exc)}); try another "
                         "--encoding, or leave it out to detect it") from exc
    delimiter = _sniff_delimiter(text)
    head_text = "\n".join(text.splitlines()[:12])
    head_rows = list(csv.reader(io.StringIO(head_text), delimiter=delimiter))
    if not head_rows:
        raise InputError(f"{path}: no header row found; is this an order export?")
    skip = _find_header(head_rows, header_score)
    return CsvLayout(enc, delimiter, clean_header(head_rows[skip]), skip)


def read_csv(
    path: Path, *, encoding: str | None = None, header_score: HeaderScorer | None = None
) -> RawExport:
    layout = csv_layout(path, encoding=encoding, header_score=header_score)
    enc, delimiter, header, skip = layout.encoding, layout.delimiter, layout.header, layout.skip
    as_bytes = decodes_by_column(enc, delimiter)
    try:
        try:
            table, bad = _arrow_csv(path, enc, delimiter, header, skip, use_threads=True,
                                    newlines_in_values=False, as_bytes=as_bytes)
        except pa.ArrowInvalid:
            if not as_bytes:
                raise
            try:  # line breaks inside quoted cells (买家留言)?
                table, bad = _arrow_csv(path, enc, delimiter, header, skip, use_threads=True,
                                        newlines_in_values=True, as_bytes=True)
            except pa.ArrowInvalid:
                # A row that does not split into the header's columns (read as bytes, Arrow
                # cannot hand it to the handler as text): the text way reports it.
                as_bytes = False
                table, bad = _arrow_csv(path, enc, delimiter, header, skip, use_threads=True,
                                        newlines_in_values=False, as_bytes=False)
        if bad:
            # Rare: quoted line breaks, or truly bad rows. Re-read allowing line breaks in
            # quoted cells, single-threaded so pyarrow reports each bad row's line number.
            table, bad = _arrow_csv(path, enc, delimiter, header, skip, use_threads=False,
                                    newlines_in_values=True, as_bytes=as_bytes)
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        if encoding is None and enc == "utf-8":
            # The first megabyte was UTF-8 but a later part is not: the file is GB18030.
            return read_csv(path, encoding="gb18030", header_score=header_score)
        raise InputError(
            f"{path}: cannot read as {enc} CSV ({_short(exc)}); "
            "check the file is a complete export or pass --encoding"
        ) from exc
    # Physical line numbers of skipped rows shift every later row by one.
    header_line = skip + 1
    bad_lines = np.array(sorted(b.row for b in bad), dtype=np.int64)
    rows = np.arange(table.num_rows, dtype=np.int64) + header_line + 1
    if len(bad_lines):
        # the k-th surviving row sits after every bad line at or before its position
        rows = rows + np.searchsorted(bad_lines - np.arange(len(bad_lines)), rows, side="right")
    if as_bytes:
        try:
            table = decode_table(table, enc)
        except UndecodableCell as exc:
            raise InputError(f"{path}: row {rows[exc.position]}, {exc}; check the file is a "
                             "complete export or pass --encoding") from exc
    frame = table.to_pandas(types_mapper=_string_mapper)
    return RawExport(path, frame, rows, None, bad, enc, header_line)


class CarefulReadNeeded(Exception):
    """A streamed CSV has bad rows or a late encoding change: read it whole instead."""


def iter_csv_chunks(
    path: Path, layout: CsvLayout, rows_per_chunk: int = 1_000_000,
    block_size: int = 32 << 20,
) -> Iterator[RawExport]:
    """Stream a big CSV as RawExports of about ``rows_per_chunk`` rows, so memory stays bounded.

    Raises CarefulReadNeeded (before or between chunks) when a row does not split into the
    header's columns or the bytes stop decoding: the caller then reads the file whole, which
    reports such rows with their line numbers.
    """
    bad: list[int] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        bad.append(1)
        return "skip"

    as_bytes = decodes_by_column(layout.encoding, layout.delimiter)
    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(
                encoding="utf8" if as_bytes else layout.encoding, column_names=layout.header,
                skip_rows=layout.skip + 1, use_threads=True, block_size=block_size,
            ),
            # as bytes, a bad row raises: CarefulReadNeeded all the same
            parse_options=pacsv.ParseOptions(
                delimiter=layout.delimiter, invalid_row_handler=None if as_bytes else on_invalid),
            convert_options=_cells_as(layout.header,
                                      pa.large_binary() if as_bytes else pa.large_string()),
        )
        first_row = layout.skip + 2  # spreadsheet row of the first data row
        batches: list[pa.RecordBatch] = []
        pending = 0
        for batch in reader:
            if bad:
                raise CarefulReadNeeded(path)
            batches.append(batch)
            pending += batch.num_rows
            if pending >= rows_per_chunk:
                yield _chunk(path, layout, batches, first_row, as_bytes)
                first_row += pending
                batches, pending = [], 0
        if bad:
            raise CarefulReadNeeded(path)
        if batches:
            yield _chunk(path, layout, batches, first_row, as_bytes)
    except (pa.ArrowInvalid, UnicodeError) as exc:
        raise CarefulReadNeeded(path) from exc


def _chunk(path: Path, layout: CsvLayout, batches: list[pa.RecordBatch],
           first_row: int, as_bytes: bool) -> RawExport:
    table = pa.Table.from_batches(batches)
    if as_bytes:
        table = decode_table(table, layout.encoding)
    frame = table.to_pandas(types_mapper=_string_mapper)
    rows = np.arange(len(frame), dtype=np.int64) + first_row
    return RawExport(path, frame, rows, None, [], layout.encoding, layout.skip + 1)


def _arrow_csv(
    path: Path, enc: str, delimiter: str, header: list[str], skip: int, *, use_threads: bool,
    newlines_in_values: bool, as_bytes: bool,
) -> tuple[pa.Table, list[BadRow]]:
    """The cells as text, or as bytes for ``decoding.decode_table`` when ``as_bytes``."""
    bad: list[BadRow] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        if row.number is not None:
            # single-threaded pyarrow numbers records from the start of the file, skipped
            # title and header lines included: that is the spreadsheet row number
            line = row.number
            too = "many" if row.actual_columns > row.expected_columns else "few"
            bad.append(BadRow(line, f"row has too {too} fields "
                                    f"({row.actual_columns}, header has {row.expected_columns})"))
        else:
            bad.append(BadRow(-1, "row has the wrong number of fields"))
        return "skip"

    table = pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(
            encoding="utf8" if as_bytes else enc, column_names=header, skip_rows=skip + 1,
            use_threads=use_threads, block_size=16 << 20,
        ),
        parse_options=pacsv.ParseOptions(
            delimiter=delimiter, newlines_in_values=newlines_in_values,
            # as bytes, a bad row raises (the caller reads the file the text way)
            invalid_row_handler=None if as_bytes else on_invalid,
        ),
        convert_options=_cells_as(header, pa.large_binary() if as_bytes else pa.large_string()),
    )
    return table, bad


def _cells_as(header: list[str], cell_type: pa.DataType) -> pacsv.ConvertOptions:
    """Every cell as text (large_string: what pandas' string[pyarrow] holds, so no copy
    when converting) or as bytes to decode (``decoding``); empty cells are null."""
    return pacsv.ConvertOptions(column_types=dict.fromkeys(header, cell_type),
                                strings_can_be_null=True, quoted_strings_can_be_null=True,
                                null_values=[""])


def _short(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:160]


def _string_mapper(t: pa.DataType) -> pd.api.extensions.ExtensionDtype | None:
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t):
        return pd.StringDtype("pyarrow")
    return None


# ---------------------------------------------------------------- Excel


def read_excel(path: Path, *, header_score: HeaderScorer | None = None) -> RawExport:
    """All order sheets of a workbook, stacked; after-sale and empty sheets are skipped."""
    try:
        from python_calamine import CalamineWorkbook

        workbook = CalamineWorkbook.from_path(str(path))
        sheet_names = list(workbook.sheet_names)
    except Exception as exc:  # calamine raises its own error types for damaged files
        raise InputError(
            f"{path}: cannot read as an Excel workbook ({_short(exc)}); "
            "open it in Excel and save it again as .xlsx, or export CSV"
        ) from exc
    frames: list[pd.DataFrame] = []
    rows: list[np.ndarray] = []
    sheets: list[np.ndarray] = []
    for name in sheet_names:
        if any(word in name for word in SKIP_SHEET_WORDS):
            continue
        try:
            cells = workbook.get_sheet_by_name(name).to_python(skip_empty_area=False)
        except Exception as exc:
            raise InputError(f"{path}[{name}]: cannot read the sheet ({_short(exc)})") from exc
        block = _sheet_frame(cells, header_score)
        if block is None:
            continue
        frame, header_row = block
        frames.append(frame)
        rows.append(np.arange(len(frame), dtype=np.int64) + header_row + 1)
        sheets.append(np.full(len(frame), name, dtype=object))
    if not frames:
        raise InputError(f"{path}: the workbook has no sheet with a header and rows")
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    frame = frame.astype("string[pyarrow]")
    return RawExport(path, frame, np.concatenate(rows), np.concatenate(sheets), [], None)


def _sheet_frame(
    cells: list[list[object]], header_score: HeaderScorer | None
) -> tuple[pd.DataFrame, int] | None:
    while cells and all(_blank(c) for c in cells[-1]):
        cells.pop()
    if len(cells) < 2:
        return None
    head = [[_cell_text(c) or "" for c in row] for row in cells[:10]]
    skip = _find_header(head, header_score)
    header = clean_header(head[skip])
    width = len(header)
    body = [list(r[:width]) + [None] * (width - len(r)) for r in cells[skip + 1 :]]
    raw = pd.DataFrame(body, columns=header, dtype=object)
    frame = pd.DataFrame({col: excel_column_text(raw[col]) for col in header})
    return frame, skip + 1


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _cell_text(value: object) -> str | None:
    text = excel_column_text(pd.Series([value], dtype=object)).iloc[0]
    return None if pd.isna(text) else str(text)  # empty cells come back as pd.NA


def excel_column_text(col: pd.Series) -> pd.Series:
    """Excel cells as text: integral floats lose their ``.0`` (phones, order numbers),
    dates become ISO text, empty strings become null."""
    out = col.astype(object)
    is_float = col.map(type).eq(float).to_numpy()
    if is_float.any():
        floats = col[is_float].astype(float)
        integral = np.isfinite(floats) & (floats == np.floor(floats)) & (floats.abs() < 1e16)
        text = floats.astype(str)
        text[integral] = floats[integral].astype(np.int64).astype(str)
        out[is_float] = text
    s = out.astype("string")
    return s.mask(s.str.strip() == "")
