"""客服绩效: the staff scorecard — per account and per agent, how the phone adds went.

Figures (one definition each, as of the report's date — nothing dated after it counts):

- assigned: wecom_add invitations planned for the account on nights up to the as-of date;
- decided: those that count as attempted (``lifecycle.ATTEMPTED_SQL``: added or expired);
- added: accepted (track saw the add) by the as-of date;
- add rate: added ÷ decided (requests still open are not in the rate yet);
- open: assigned − decided; friends held: the account's customers as track read them back;
- room left: max_customers − friends held − open (what the planner may still route to it).

The brand's row is the total over all accounts (its add rate: Σ added ÷ Σ decided); the
benchmark is ``[invite.wecom_add] benchmark_add_rate`` when set. Revenue after the add is not
shown yet: it comes with the post-add revenue module (docs/track.md), not guessed here.
"""

from __future__ import annotations

import sqlite3
from datetime import date
from typing import Any

import pandas as pd
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from privmigrate.config import read_config
from privmigrate.errors import ConfigError
from privmigrate.invite.lifecycle import ATTEMPTED_SQL
from privmigrate.invite.settings import InviteSettings
from privmigrate.ledger import open_ledger
from privmigrate.report.excel import SheetWriter
from privmigrate.workspace import Workspace

COLUMNS = ("staff_id", "staff", "agent", "assigned", "decided", "added", "add_rate", "open",
           "friends_held", "max_customers", "room_left")
KINDS = ("text", "text", "text", "int", "int", "int", "percent", "int", "int", "int", "int")
LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "sheet": "客服绩效", "title": "客服绩效（手机号添加）", "as_of": "数据截至",
        "accounts": "按账号", "agents": "按客服", "staff_id": "账号ID", "staff": "账号",
        "agent": "客服", "accounts_n": "账号数", "assigned": "分配", "decided": "已结束",
        "added": "已添加", "add_rate": "添加率", "open": "进行中", "friends_held": "好友数",
        "max_customers": "好友上限", "room_left": "剩余容量", "brand": "全品牌",
        "benchmark": "基准添加率", "unset": "未设置（invite.wecom_add.benchmark_add_rate）",
        "none": "还没有手机号添加任务：在 invite.channels 中加入 wecom_add",
        "no_config": "privmigrate.toml 的 [invite] 有误，无法读取账号：",
        "note": "添加率 = 已添加 ÷ 已结束（已添加或过期）；进行中的任务不计入。可点表头筛选排序。",
    },
    "en": {
        "sheet": "Staff scorecard", "title": "Staff scorecard (adds by phone)", "as_of": "As of",
        "accounts": "By account", "agents": "By agent", "staff_id": "Account id",
        "staff": "Account", "agent": "Agent", "accounts_n": "Accounts", "assigned": "Assigned",
        "decided": "Decided", "added": "Added", "add_rate": "Add rate", "open": "Open",
        "friends_held": "Friends held", "max_customers": "Ceiling", "room_left": "Room left",
        "brand": "Brand", "benchmark": "Benchmark add rate",
        "unset": "not set (invite.wecom_add.benchmark_add_rate)",
        "none": "No adds by phone yet: add wecom_add to invite.channels",
        "no_config": "[invite] in privmigrate.toml is invalid, accounts unknown: ",
        "note": "Add rate = added ÷ decided (added or expired); open requests are not counted. "
                "Use the header filters to sort.",
    },
}


def sheet_name(lang: str) -> str:
    return LABELS[lang]["sheet"]


def scorecard(conn: sqlite3.Connection, settings: InviteSettings, as_of: date) -> pd.DataFrame:
    """One row per configured account (COLUMNS), in config order."""
    end = f"{as_of.isoformat()} 23:59:59"
    rows = conn.execute(
        f"""SELECT staff,
                   COUNT(*),
                   SUM(CASE WHEN {ATTEMPTED_SQL} AND outcome_at <= ? THEN 1 ELSE 0 END),
                   SUM(CASE WHEN status = 'accepted' AND outcome_at <= ? THEN 1 ELSE 0 END)
            FROM invitations WHERE channel = 'wecom_add' AND night <= ? GROUP BY staff""",
        (end, end, as_of.isoformat()),
    ).fetchall()
    counts = {str(r[0]): (int(r[1]), int(r[2] or 0), int(r[3] or 0)) for r in rows}
    held = _friends_held(conn, end)
    out = []
    for st in settings.staff:
        assigned, decided, added = counts.get(st.id, (0, 0, 0))
        friends = held.get(st.id, 0)
        open_ = assigned - decided
        out.append({
            "staff_id": st.id, "staff": st.name, "agent": st.owner, "assigned": assigned,
            "decided": decided, "added": added,
            "add_rate": added / decided if decided else None, "open": open_,
            "friends_held": friends, "max_customers": st.max_customers,
            "room_left": max(st.max_customers - friends - open_, 0),
        })
    return pd.DataFrame(out, columns=list(COLUMNS))


def by_agent(accounts: pd.DataFrame) -> pd.DataFrame:
    """The accounts summed per agent (add rate recomputed from the sums, not averaged)."""
    sums = ["assigned", "decided", "added", "open", "friends_held", "max_customers", "room_left"]
    grouped = accounts.groupby("agent", sort=False)
    out = grouped[sums].sum().reset_index()
    out.insert(1, "accounts_n", grouped.size().to_numpy())
    out["add_rate"] = (out["added"] / out["decided"]).where(out["decided"] > 0)
    return out


def _friends_held(conn: sqlite3.Connection, end: str) -> dict[str, int]:
    exists = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'wecom_contacts'").fetchone()
    if not exists:
        return {}
    rows = conn.execute("SELECT staff, COUNT(DISTINCT external_userid) FROM wecom_contacts "
                        "WHERE added_at <= ? GROUP BY staff", (end,)).fetchall()
    return {str(r[0]): int(r[1]) for r in rows}


def write(ws: WriteOnlyWorksheet, workspace: Workspace, as_of: date, lang: str) -> dict[str, Any]:
    """Write the sheet; returns the brand's figures for the report summary."""
    t = LABELS[lang]
    w = SheetWriter(ws)
    w.title(t["title"])
    w.add([t["as_of"], as_of], ["text", "date"])
    try:
        settings = InviteSettings.from_config(read_config(workspace.config_path))
    except ConfigError as exc:
        w.note(t["no_config"] + str(exc))
        w.flush()
        return {}
    if workspace.state_db.exists():
        with open_ledger(workspace.state_db) as conn:
            accounts = scorecard(conn, settings, as_of)
    else:
        accounts = pd.DataFrame(columns=list(COLUMNS))
    if accounts.empty or int(accounts["assigned"].sum()) == 0:
        w.note(t["none"])
    w.note(t["note"])
    w.blank()
    w.section(t["accounts"])
    head, last = w.table([t[c] for c in COLUMNS], _values(accounts, COLUMNS), KINDS)
    table_rows = (head, last)
    brand = _brand(accounts)
    w.add([t["brand"], "", "", *(brand[c] for c in COLUMNS[3:])], list(KINDS),
          font=_bold())
    benchmark = settings.wecom_add.benchmark_add_rate
    w.add([t["benchmark"], benchmark if benchmark is not None else t["unset"]],
          ["text", "percent" if benchmark is not None else "text"])
    w.blank()
    w.section(t["agents"])
    agents = by_agent(accounts) if len(accounts) else pd.DataFrame()
    agent_cols = ("agent", "accounts_n", "assigned", "decided", "added", "add_rate", "open",
                  "friends_held", "max_customers", "room_left")
    agent_kinds = ("text", "int", "int", "int", "int", "percent", "int", "int", "int", "int")
    w.table([t[c] for c in agent_cols],
            _values(agents, agent_cols) if len(agents) else [], agent_kinds)
    ws.auto_filter.ref = f"A{table_rows[0]}:K{max(table_rows[1], table_rows[0])}"  # sortable
    ws.freeze_panes = f"A{table_rows[0] + 1}"  # write-only: before the first row goes out
    w.flush()
    return {"accounts": len(accounts), "assigned": brand["assigned"], "added": brand["added"],
            "add_rate": brand["add_rate"], "full_accounts": int((accounts["room_left"] <= 0).sum())
            if len(accounts) else 0}


def _brand(accounts: pd.DataFrame) -> dict[str, Any]:
    sums = {c: int(accounts[c].sum()) if len(accounts) else 0
            for c in ("assigned", "decided", "added", "open", "friends_held", "max_customers",
                      "room_left")}
    sums["add_rate"] = sums["added"] / sums["decided"] if sums["decided"] else None
    return sums


def _values(frame: pd.DataFrame, columns: tuple[str, ...]) -> list[list[Any]]:
    part = frame.loc[:, list(columns)].astype(object)
    return part.where(part.notna(), None).values.tolist()


def _bold():  # type: ignore[no-untyped-def]
    from openpyxl.styles import Font

    return Font(bold=True)
