"""``wecom_add.xlsx``: one printable sheet per staff account — whom to add tonight, and how.

A member works down the list on the phone: search the mobile in WeCom (添加客户 → 搜索手机号),
paste the 申请语, and after the request fill 备注 with the suggested remark and 备注手机号 with
the mobile (that is how ``track`` recognises the add). The sheet is for people, not
machines: Chinese headers, a title line with the account and the deadline, wrapped text,
A4 landscape fitted to the page width with the header repeated on every printed page.
"""

from __future__ import annotations

import io
from datetime import date, datetime
from pathlib import Path

import pandas as pd

from privmigrate.invite.calls import sheet_name
from privmigrate.workspace import write_bytes_atomic

# (header, plan column, width in characters)
ADD_COLUMNS = (
    ("序号", None, 6),
    ("手机号", "phone", 14),
    ("建议备注", "remark", 22),
    ("申请语", "message", 46),
    ("客户分层", "segment", 12),
    ("最近下单", "last_order_date", 11),
    ("最近购买", "last_product", 20),
    ("福利", "offer", 14),
    ("已添加", None, 8),
)
HEADER_ROW = 3
_HEADER_FILL = "1F4E78"
_BAND_FILL = "EAF1F8"


def add_sheets(invitations: pd.DataFrame, staff_order: list[str]) -> dict[str, pd.DataFrame]:
    """Staff name → that account's wecom_add rows in rank order."""
    rows = invitations[invitations["channel"] == "wecom_add"]
    present = set(rows["staff"].astype(str))
    names = [n for n in staff_order if n in present] + sorted(present - set(staff_order))
    return {n: rows[rows["staff"].astype(str) == n] for n in names}


def write_add_workbook(target: Path, invitations: pd.DataFrame, staff_order: list[str],
                       night: date, stamp: datetime) -> int:
    """Write the workbook (reproducibly: fixed document dates); returns the rows written."""
    from openpyxl import Workbook

    from privmigrate.invite.batches import _reproducible_zip as reproducible_zip

    wb = Workbook()
    wb.remove(wb.active)
    wb.properties.created = stamp
    wb.properties.creator = "privmigrate"
    sheets = add_sheets(invitations, staff_order)
    used: set[str] = set()
    total = 0
    for staff, rows in sheets.items():
        _sheet(wb.create_sheet(sheet_name(staff, used)), staff, rows, night)
        total += len(rows)
    if not sheets:
        ws = wb.create_sheet("加好友")
        ws["A1"] = f"{night.isoformat()} 没有需要手机号添加的客户"
    buf = io.BytesIO()
    wb.save(buf)
    write_bytes_atomic(target, reproducible_zip(buf.getvalue(), stamp))
    return total


def _sheet(ws, staff: str, rows: pd.DataFrame, night: date) -> None:  # type: ignore[no-untyped-def]
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    first = rows.iloc[0]
    deadline = str(first["expires_at"])[:10] if pd.notna(first["expires_at"]) else ""
    last_col = get_column_letter(len(ADD_COLUMNS))
    ws["A1"] = f"企业微信加好友任务 · {staff}（{first['staff_id']}） · {night.isoformat()}"
    ws["A1"].font = Font(bold=True, size=14)
    ws.merge_cells(f"A1:{last_col}1")
    ws["A2"] = (f"共 {len(rows)} 位，请在 {deadline} 前完成：添加客户 → 搜索手机号 → 发送申请语；"
                "通过后把「建议备注」填入备注、手机号填入备注手机号（用于统计添加结果）")
    ws["A2"].alignment = Alignment(wrap_text=True, vertical="top")
    ws.merge_cells(f"A2:{last_col}2")
    ws.row_dimensions[2].height = 32
    thin = Side(style="thin", color="A6A6A6")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    for j, (header, _col, width) in enumerate(ADD_COLUMNS, start=1):
        cell = ws.cell(row=HEADER_ROW, column=j, value=header)
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = PatternFill("solid", fgColor=_HEADER_FILL)
        cell.alignment = Alignment(horizontal="center", vertical="center")
        cell.border = border
        ws.column_dimensions[get_column_letter(j)].width = width
    values = {col: rows[col].astype("string").tolist() for _h, col, _w in ADD_COLUMNS if col}
    band = PatternFill("solid", fgColor=_BAND_FILL)
    for i in range(len(rows)):
        r = HEADER_ROW + 1 + i
        for j, (_header, col, _width) in enumerate(ADD_COLUMNS, start=1):
            value = i + 1 if _header == "序号" else ("☐" if col is None else values[col][i])
            cell = ws.cell(row=r, column=j, value=None if value is pd.NA else value)
            cell.data_type = "n" if isinstance(value, int) else "s"  # text stays text
            cell.border = border
            cell.alignment = Alignment(wrap_text=col in ("message", "last_product", "remark"),
                                       vertical="top",
                                       horizontal="center" if col in (None, "phone") else None)
            if i % 2:
                cell.fill = band
    ws.freeze_panes = ws.cell(row=HEADER_ROW + 1, column=1)
    ws.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.oddFooter.center.text = "第 &P 页 / 共 &N 页"
    ws.auto_filter.ref = f"A{HEADER_ROW}:{last_col}{HEADER_ROW + len(rows)}"
