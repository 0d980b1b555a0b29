"""A night's batch files, written from the stored plan so every rerun gives the same bytes.

``<workspace>/batches/<date>/``: sms.csv (UTF-8 with BOM, for Excel), sms.xlsx (its twin),
calls.xlsx (one sheet per agent), wecom_add.xlsx (one printable sheet per staff account),
manifest.json. xlsx files are made reproducible by fixing
the document timestamps and the zip entry dates to the night's midnight.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from privmigrate.csv_safety import neutralize_formulas
from privmigrate.errors import InputError
from privmigrate.invite.add_sheets import write_add_workbook
from privmigrate.invite.calls import CALL_COLUMNS, call_sheets, sheet_name
from privmigrate.workspace import Workspace, atomic_path, write_bytes_atomic, write_text_atomic

SMS_COLUMNS = ("batch_id", "customer_id", "phone", "segment", "template_id", "variant", "offer",
               "staff", "message", "length", "parts")
BATCH_FILES = ("sms.csv", "sms.xlsx", "calls.xlsx", "wecom_add.xlsx", "manifest.json")
# sms.csv text cells that Excel/WPS would run as formulas get a leading ' (csv_safety). Not
# ``message``: it is the exact text the phone shows (an SMS console may take it from this
# file), and it always starts with 【signature】 (render checks), so it never needs it.
CSV_NEUTRALIZED = [c for c in SMS_COLUMNS if c != "message"]
WIDTH_SAMPLE_ROWS = 2000  # column widths are fitted to the first rows (message text is long)


def batch_dir(ws: Workspace, night: date) -> Path:
    return ws.batches_dir / night.isoformat()


def plan_path(ws: Workspace, night: date) -> Path:
    """The stored plan of a night (personal data: 0600, under data/)."""
    return ws.data_dir / "invite_plans" / f"{night.isoformat()}.parquet"


def write_plan(ws: Workspace, night: date, invitations: pd.DataFrame) -> str:
    """Store the plan; returns the file's sha256 (recorded in the ledger)."""
    table = pa.Table.from_pandas(invitations, preserve_index=False)
    target = plan_path(ws, night)
    with atomic_path(target) as tmp:
        pq.write_table(table, tmp, compression="zstd")
    return hashlib.sha256(target.read_bytes()).hexdigest()


def read_plan(ws: Workspace, night: date, sha256: str) -> pd.DataFrame:
    path = plan_path(ws, night)
    if not path.exists():
        raise InputError(
            f"{path} is missing but the ledger says {night} was planned; restore it from a "
            "backup (it is the only record of that night's messages)"
        )
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != sha256:
        raise InputError(
            f"{path} differs from the plan recorded in the ledger; restore the original file"
        )
    table = pq.read_table(io.BytesIO(data))
    return table.to_pandas(types_mapper=lambda t: pd.StringDtype() if pa.types.is_string(t)
                           else None)


def write_batch(ws: Workspace, night: date, invitations: pd.DataFrame, summary: dict,
                staff_order: list[str]) -> list[Path]:
    """Write (or rewrite identically) the night's four batch files."""
    folder = batch_dir(ws, night)
    stamp = datetime(night.year, night.month, night.day)
    sms = invitations[invitations["channel"] == "sms"].loc[:, list(SMS_COLUMNS)]
    csv = neutralize_formulas(sms, CSV_NEUTRALIZED).to_csv(index=False, lineterminator="\r\n")
    write_bytes_atomic(folder / "sms.csv", csv.encode("utf-8-sig"))
    write_xlsx(folder / "sms.xlsx", {"sms": sms}, stamp)
    sheets = call_sheets(invitations, staff_order)
    used: set[str] = set()
    named = {sheet_name(k, used): v for k, v in sheets.items()}
    if not named:
        named = {"calls": pd.DataFrame({h: [] for h, _ in CALL_COLUMNS})}
    write_xlsx(folder / "calls.xlsx", named, stamp)
    write_add_workbook(folder / "wecom_add.xlsx", invitations, staff_order, night, stamp)
    manifest = {**summary, "files": list(BATCH_FILES)}
    write_text_atomic(folder / "manifest.json",
                      json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n")
    return [folder / name for name in BATCH_FILES]


def write_xlsx(target: Path, sheets: dict[str, pd.DataFrame], stamp: datetime) -> None:
    """A reproducible workbook: text cells stay text (no formula injection), fixed dates."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.utils import get_column_letter

    from privmigrate.report.excel import fit_width

    wb = Workbook(write_only=True)
    wb.properties.created = stamp
    wb.properties.creator = "privmigrate"
    for name, frame in sheets.items():
        ws = wb.create_sheet(title=name)
        ws.freeze_panes = "A2"  # header stays visible while scrolling
        sample = frame.head(WIDTH_SAMPLE_ROWS)
        for j, column in enumerate(frame.columns, start=1):
            values = [str(column), *sample[column].dropna().astype(str)]
            ws.column_dimensions[get_column_letter(j)].width = fit_width(values)
        ws.append(list(frame.columns))
        for row in frame.astype(object).where(frame.notna(), None).itertuples(index=False):
            cells = []
            for value in row:
                cell = WriteOnlyCell(ws, value=value)
                if isinstance(value, str) and value.startswith("="):
                    cell.data_type = "s"
                cells.append(cell)
            ws.append(cells)
    buf = io.BytesIO()
    wb.save(buf)
    write_bytes_atomic(target, _reproducible_zip(buf.getvalue(), stamp))


def _reproducible_zip(data: bytes, stamp: datetime) -> bytes:
    """Rewrite an xlsx with fixed entry dates and a fixed dcterms:modified."""
    when = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                              rb"\g<1>" + when.encode() + rb"\g<2>", body)
            entry = zipfile.ZipInfo(info.filename, date_time=stamp.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o600 << 16
            dst.writestr(entry, body)
    return out.getvalue()
