"""Formatting helpers shared by the sheets: cell styles, safe text, widths that fit.

Small sheets are written with openpyxl in write-only mode: rows are collected in a
``SheetWriter`` first (they are small) so column widths can be set from the data before the
first row goes out, as write-only mode requires.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

MONEY = '"¥"#,##0.00'
DATE = "yyyy-mm-dd"
DATETIME = "yyyy-mm-dd hh:mm"
PERCENT = "0.0%"
INTEGER = "#,##0"
DECIMAL = "0.00"

FORMATS = {"money": MONEY, "date": DATE, "datetime": DATETIME, "percent": PERCENT,
           "int": INTEGER, "float": DECIMAL, "text": "@"}

HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="2F5597")
TITLE_FONT = Font(bold=True, size=14)
SECTION_FONT = Font(bold=True, size=12, color="2F5597")
NOTE_FONT = Font(italic=True, color="7F7F7F")
THIN = Side(style="thin", color="BFBFBF")
HEADER_BORDER = Border(bottom=THIN)
LEFT = Alignment(horizontal="left")

FORMULA_START = re.compile(r"^[=+\-@\t\r]")
MIN_WIDTH, MAX_WIDTH = 6, 60
_ILLEGAL = re.compile(r"[\x00-\x08\x0B\x0C\x0E-\x1F]")
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")  # masked in any text cell


def looks_like_formula(text: str) -> bool:
    """OWASP CSV-injection characters: such text must never be taken for a formula."""
    return bool(FORMULA_START.match(text))


def display_width(text: str) -> int:
    """Columns ``text`` takes in a spreadsheet: CJK and full-width characters count double."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def fit_width(samples: Iterable[str], floor: int = MIN_WIDTH) -> float:
    """A column width that shows the widest sample without resizing (capped)."""
    widest = max((display_width(s) for s in samples), default=0)
    return float(min(MAX_WIDTH, max(floor, widest + 2)))


def shown(value: Any, kind: str) -> str:
    """Roughly how Excel shows ``value`` in a ``kind`` column (for width only)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if kind == "money":
        return f"¥{float(value):,.2f}"
    if kind == "percent":
        return f"{float(value) * 100:.1f}%"
    if kind == "int":
        return f"{int(value):,}"
    if kind == "float":
        return f"{float(value):.2f}"
    if kind == "date":
        return "2026-01-01"
    if kind == "datetime":
        return "2026-01-01 00:00"
    return str(value)


def cell(ws: WriteOnlyWorksheet, value: Any, kind: str = "text", **style: Any) -> WriteOnlyCell:
    """A write-only cell with ``kind``'s number format; formula-like text stays text."""
    value = _plain(value)
    c = WriteOnlyCell(ws, value=value)
    if isinstance(value, str):
        if looks_like_formula(value):
            # quotePrefix is what Excel itself sets for a typed leading apostrophe: the text
            # shows unchanged and stays text when edited (OWASP CSV-injection guidance).
            c.data_type = "s"
            c.quotePrefix = True
    elif kind in FORMATS and kind != "text" and value is not None:
        c.number_format = FORMATS[kind]
    for name, val in style.items():
        setattr(c, name, val)
    return c


def _plain(value: Any) -> Any:
    """Python/openpyxl-friendly value: NA → None, numpy → Python, text cleaned."""
    if value is None:
        return None
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return None
        if isinstance(value, pd.Timestamp):
            return value.to_pydatetime()
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Decimal):
        return float(value)
    if hasattr(value, "item") and not isinstance(value, (str, bytes, date, datetime)):
        return _plain(value.item())
    if isinstance(value, str):
        return _MOBILE.sub(r"\1****\2", _ILLEGAL.sub("", value))[:32767]
    return value


def print_setup(ws: WriteOnlyWorksheet, header_rows: int = 0) -> None:
    """Landscape A4, as wide as one page, header repeated: a PDF or printout reads well."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = 9  # A4
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    if header_rows:
        ws.print_title_rows = f"1:{header_rows}"


class SheetWriter:
    """Collects the rows of a small sheet, then writes them with widths that fit."""

    def __init__(self, ws: WriteOnlyWorksheet) -> None:
        self.ws = ws
        self.rows: list[list[Any]] = []
        self._samples: dict[int, list[str]] = {}
        self._floors: dict[int, int] = {}

    @property
    def next_row(self) -> int:
        """1-based number of the row the next ``add`` writes."""
        return len(self.rows) + 1

    def add(self, values: Sequence[Any], kinds: Sequence[str] | None = None,
            measure: bool = True, left: Sequence[int] = (), **style: Any) -> int:
        """Append one row (``left``: columns to left-align); return its 1-based row number."""
        kinds = kinds or ["text"] * len(values)
        row = []
        for i, (value, kind) in enumerate(zip(values, kinds, strict=False)):
            c = cell(self.ws, value, kind, **style)
            if i in left:
                c.alignment = LEFT
            row.append(c)
            if measure:
                self._samples.setdefault(i, []).append(shown(_plain(value), kind))
        self.rows.append(row)
        return len(self.rows)

    def title(self, text: str) -> None:
        self.add([text], measure=False, font=TITLE_FONT)

    def section(self, text: str) -> None:
        self.add([text], measure=False, font=SECTION_FONT)

    def note(self, text: str) -> None:
        self.add([text], measure=False, font=NOTE_FONT)

    def blank(self) -> None:
        self.rows.append([])

    def header(self, names: Sequence[str]) -> int:
        return self.add(names, font=HEADER_FONT, fill=HEADER_FILL, border=HEADER_BORDER)

    def table(self, headers: Sequence[str], rows: Iterable[Sequence[Any]],
              kinds: Sequence[str]) -> tuple[int, int]:
        """A header and its rows; return (header row, last row)."""
        first = self.header(headers)
        for values in rows:
            self.add(values, kinds)
        return first, len(self.rows)

    def widen(self, column: int, floor: int) -> None:
        self._floors[column] = max(self._floors.get(column, 0), floor)

    def flush(self) -> None:
        """Set widths, then stream the rows out (write-only sheets need widths first)."""
        for i, samples in self._samples.items():
            letter = get_column_letter(i + 1)
            width = fit_width(samples, self._floors.get(i, MIN_WIDTH))
            self.ws.column_dimensions[letter].width = width
        for row in self.rows:
            self.ws.append(row)
        self.rows = []
