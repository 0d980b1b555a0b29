"""Tell each staff member tonight's wecom_add list through a WeCom application message.

With ``invite.wecom_add.sheet_url`` the member gets a text card (count, deadline, a button
to the sheet: ``{night}`` and ``{staff_id}`` in the URL are filled in); without it, a text
message with the list inline (mobile and suggested 备注 per line, as many as fit WeCom's
2,048 bytes, the rest pointed to wecom_add.xlsx). It goes only to the member whose list it
is, like the sheet. One message per (night, account), recorded in ``wecom_notices`` in the
transaction after WeCom accepted it, so a rerun never sends twice; a lost answer is covered
by WeCom's duplicate check (channels/wecom.py).
"""

from __future__ import annotations

import sqlite3
from datetime import date, datetime
from typing import Any

import pandas as pd

from privmigrate.channels.wecom import TEXT_CONTENT_BYTES, WeComClient
from privmigrate.invite.add_sheets import add_sheets
from privmigrate.invite.settings import InviteSettings
from privmigrate.ledger import transaction


def compose(staff_id: str, staff: str, rows: pd.DataFrame, night: date,
            sheet_url: str) -> tuple[str, dict[str, Any]]:
    """(msgtype, content) of one member's message."""
    deadline = str(rows["expires_at"].iloc[0])[:10]
    n = len(rows)
    if sheet_url:
        url = sheet_url.replace("{night}", night.isoformat()).replace("{staff_id}", staff_id)
        return "textcard", {
            "title": f"今日加好友任务：{n} 位老客",
            "description": (f'<div class="gray">{night.isoformat()} · 账号 {staff}</div>'
                            f'<div class="normal">请在 {deadline} 前搜索手机号添加，通过后填写'
                            '建议备注与备注手机号</div><div class="highlight">点击查看名单</div>'),
            "url": url,
            "btntxt": "名单",
        }
    head = (f"今日加好友任务：{n} 位老客（账号 {staff}，{deadline} 前完成）\n"
            "搜索手机号添加，通过后填写建议备注与备注手机号：\n")
    lines: list[str] = []
    phones, remarks = rows["phone"].astype(str).tolist(), rows["remark"].astype(str).tolist()
    for i, (phone, remark) in enumerate(zip(phones, remarks, strict=True), start=1):
        line = f"{i}. {phone} {remark}\n"
        rest = f"……其余 {n - i + 1} 位见 wecom_add.xlsx"
        if len((head + "".join(lines) + line + rest).encode()) > TEXT_CONTENT_BYTES:
            lines.append(rest)
            break
        lines.append(line)
    return "text", {"content": (head + "".join(lines)).rstrip("\n")}


def notify_members(conn: sqlite3.Connection, client: WeComClient, settings: InviteSettings,
                   night: date, plan: pd.DataFrame, now: datetime) -> dict[str, Any]:
    """Send every account with a list tonight its message; returns counts and warnings."""
    cfg = settings.wecom_add
    assert cfg.agent_id is not None  # settings require it with notify = true
    done = {r[0] for r in conn.execute("SELECT staff FROM wecom_notices WHERE night = ?",
                                       (night.isoformat(),))}
    sent, skipped, unreachable = 0, 0, []
    for staff, rows in add_sheets(plan, [st.name for st in settings.staff]).items():
        staff_id = str(rows["staff_id"].iloc[0])
        if staff_id in done:
            skipped += 1
            continue
        msgtype, content = compose(staff_id, staff, rows, night, cfg.sheet_url)
        answer = client.send_app_message(cfg.agent_id, [staff_id], msgtype, content)
        if staff_id in str(answer.get("invaliduser") or "").split("|"):
            unreachable.append(staff_id)
            continue
        with transaction(conn):
            conn.execute("INSERT INTO wecom_notices VALUES (?, ?, ?, ?, ?, ?)",
                         (night.isoformat(), staff_id, msgtype, len(rows),
                          str(answer.get("msgid") or ""), now.isoformat(timespec="seconds")))
        sent += 1
    warnings = [f"WeCom could not reach member {u}: add it to the app's 可见范围"
                for u in unreachable]
    return {"sent": sent, "already_sent": skipped, "unreachable": len(unreachable),
            "warnings": warnings}
