"""Call outcomes read back: the agents' calls.xlsx, or an outbound tool's call-record export.

A call is an invitation only once it was made (``lifecycle``: planned → called). This module
reads the file the agents filled in (one sheet per agent, the outcome picked from the
``CALL_OUTCOMES`` drop-down) or a call-record export of an outbound tool, matches each row to
its call invitation, and says what to write. A row is matched by its 联系我 state (unique per
invitation), else by the customer id the list was exported with (``external_ref``, echoed by
outbound tools as outId / referenceId / extId), else by the callee's phone number.

Any bad row (an outcome outside the vocabulary, a row that matches no call, a call dated after
the as-of date) fails the whole import with the file, row and column of each — nothing is
written, so a corrected file can simply be imported again. Rows left blank (not called yet)
are skipped. Phones never appear in messages or in the ledger's remark column.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from privmigrate.errors import InputError
from privmigrate.invite import lifecycle
from privmigrate.workspace import Workspace

# Headers of outbound tools' call-record exports, besides the call sheet's own (lifecycle):
# 被叫号码 / 是否接通 / 通话时长: kf5 voice records (developer.kf5.com/doc/restapi/voice);
# callee, call_start_time, call_result: call-bridge CDRs; called, callStatus (5 failed, 6
# connected), callBeginTime / ackBeginTime, customField: Huawei Cloud CEC outbound results
# (support.huaweicloud.com/api-ccfs-cec/cec_07_0788.html); callee, beginCallTime (epoch ms),
# extId: Volcengine 智能外呼 CDRs (volcengine.com/docs/6358/173375); calleeNumber / outId:
# Aliyun 智能联络中心 ImportTaskNumberDatas, whose outId is echoed back (reference §5.1).
STATE_HEADERS = lifecycle.CALL_STATE_HEADERS
CUSTOMER_HEADERS = (*lifecycle.CALL_CUSTOMER_HEADERS, "outId", "referenceId", "extId",
                    "customField", "客户ID")
PHONE_HEADERS = ("phone", "手机号", "手机号码", "被叫号码", "callee", "called", "calledNumber",
                 "calleeNumber", "PhoneNumber", "电话")
OUTCOME_HEADERS = (*lifecycle.CALL_OUTCOME_HEADERS, "呼叫结果", "通话结果", "call_result")
CONNECTED_HEADERS = ("是否接通", "connect", "callStatus")
NOTE_HEADERS = lifecycle.CALL_NOTE_HEADERS
TIME_HEADERS = (*lifecycle.CALL_TIME_HEADERS, "通话开始时间", "呼叫时间", "call_start_time",
                "callBeginTime", "ackBeginTime", "beginCallTime", "created_at")

# Words outbound tools and agents write for the same outcomes (the vocabulary's own words
# and codes are accepted as they are).
SYNONYMS = {
    "已接通": "answered", "成功": "answered", "呼叫成功": "answered", "接听": "answered",
    "无人接听": "no_answer", "未接听": "no_answer", "呼叫失败": "no_answer", "占线": "no_answer",
    "无法接通": "no_answer", "拒接": "refused", "挂断": "refused", "已添加企微": "added",
    "已加企微": "added", "不再联系": "do_not_contact", "勿扰": "do_not_contact",
}
CONNECTED = {"1": "answered", "是": "answered", "6": "answered", "true": "answered",
             "0": "no_answer", "否": "no_answer", "5": "no_answer", "false": "no_answer"}
_SCAN_ROWS = 20
_LONG_DIGITS = re.compile(r"\d{7,}")


@dataclass(frozen=True)
class CallRows:
    """The filled rows of one import, keys and outcomes normalised, row numbers kept."""

    rows: pd.DataFrame  # file, sheet, row, state, customer_id, phone, outcome, note, called_at
    blank: int  # rows with no outcome (not called yet)


def read_call_results(paths: list[Path], default_time: pd.Timestamp) -> CallRows:
    """Every filled row of ``paths`` (all sheets); InputError names file, row and column."""
    frames, blank = [], 0
    for path in paths:
        found_any = False
        for sheet, rows in _sheets(path):
            found = _header(rows)
            if found is None:
                continue
            found_any = True
            at, cols = found
            frame, empty = _rows(path, sheet, rows, at, cols, default_time)
            frames.append(frame)
            blank += empty
        if not found_any:
            raise InputError(
                f"{path}: no header row with a call outcome column "
                f"({', '.join(OUTCOME_HEADERS[:2])}"
                f" or {CONNECTED_HEADERS[0]}) and a state, customer or phone column in the "
                f"first {_SCAN_ROWS} rows; import the calls.xlsx the agents filled in")
    rows = pd.concat(frames, ignore_index=True) if frames else _empty()
    return CallRows(rows, blank)


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in
                         ("file", "sheet", "row", "state", "customer_id", "phone", "outcome",
                          "note", "called_at", "_outcome_col", "_time_col")})


def _sheets(path: Path) -> list[tuple[str | None, list[list[object]]]]:
    from privmigrate.track.sources import read_csv_rows

    if not path.exists():
        raise InputError(f"{path}: no such file; check the path")
    try:
        if path.suffix.lower() in (".xlsx", ".xlsm", ".xls"):
            from python_calamine import CalamineWorkbook

            book = CalamineWorkbook.from_path(str(path))
            return [(name, [list(r) for r in book.get_sheet_by_name(name).to_python(
                skip_empty_area=False)]) for name in book.sheet_names]
        return [(None, read_csv_rows(path))]
    except InputError:
        raise
    except Exception as exc:  # calamine raises many types for a broken file
        raise InputError(f"{path}: cannot read this file ({type(exc).__name__}); save it "
                         "again as .xlsx or UTF-8 .csv") from exc


def _key(header: object) -> str:
    return re.sub(r"[\s_\-()（）:：]+", "", str(header)).lower()


def _find(keys: dict[str, int], names: tuple[str, ...]) -> int | None:
    for name in names:
        if _key(name) in keys:
            return keys[_key(name)]
    return None


def _header(rows: list[list[object]]) -> tuple[int, dict[str, int]] | None:
    for i, row in enumerate(rows[:_SCAN_ROWS]):
        keys = {_key(c): j for j, c in reversed(list(enumerate(row))) if c is not None}
        cols = {name: _find(keys, names) for name, names in (
            ("state", STATE_HEADERS), ("customer_id", CUSTOMER_HEADERS),
            ("phone", PHONE_HEADERS), ("outcome", OUTCOME_HEADERS),
            ("connected", CONNECTED_HEADERS), ("note", NOTE_HEADERS), ("time", TIME_HEADERS))}
        has_key = any(cols[k] is not None for k in ("state", "customer_id", "phone"))
        if has_key and (cols["outcome"] is not None or cols["connected"] is not None):
            return i, {k: v for k, v in cols.items() if v is not None}
    return None


def _rows(path: Path, sheet: str | None, rows: list[list[object]], at: int,
          cols: dict[str, int], default_time: pd.Timestamp) -> tuple[pd.DataFrame, int]:
    width = len(rows[at])
    body = pd.DataFrame([(r + [None] * width)[:width] for r in rows[at + 1:]], dtype="object")
    if body.empty:
        body = pd.DataFrame(columns=range(width), dtype="object")
    headers = rows[at]
    line = pd.Series(np.arange(len(body)) + at + 2, index=body.index)
    where = f"{path}" + (f" sheet {sheet}" if sheet else "")

    def text(name: str) -> pd.Series:
        if name not in cols:
            return pd.Series(pd.NA, index=body.index, dtype="string")
        values = body[cols[name]].map(_cell_text)
        return values.astype("string").str.strip().replace("", pd.NA)

    outcome_col = "outcome" if "outcome" in cols else "connected"
    raw = text(outcome_col)
    filled = raw.notna()
    codes = _outcome_codes(raw, outcome_col)
    bad = filled & codes.isna()
    if bad.any():
        first = bad.idxmax()
        allowed = "、".join(lifecycle.CALL_OUTCOMES)
        raise InputError(f"{where} row {int(line[first])} column {headers[cols[outcome_col]]}: "
                         f"{str(raw[first])[:20]!r} is not a call outcome; pick one of "
                         f"{allowed} ({int(bad.sum())} rows like this)")
    called = pd.Series(default_time, index=body.index, dtype="datetime64[us]")
    if "time" in cols:
        from privmigrate.track.sources import parse_add_times

        cells = body[cols["time"]]
        given = cells.notna() & cells.astype("string").str.strip().ne("").fillna(False)
        parsed = parse_add_times(_epoch_ms_to_seconds(cells))
        wrong = filled & given & parsed.isna()
        if wrong.any():
            first = wrong.idxmax()
            raise InputError(f"{where} row {int(line[first])} column {headers[cols['time']]}: "
                             f"{str(cells[first])[:30]!r} is not a date-time; write it as "
                             "YYYY-MM-DD HH:MM or leave it empty (the import time is used)")
        called = called.where(~given, parsed)
    phone = text("phone")
    if "phone" in cols:
        from privmigrate.ingest.phones import normalize_phones

        phone = normalize_phones(phone.astype("object"))[0].astype("string")
    out = pd.DataFrame({
        "file": str(path), "sheet": sheet, "row": line, "state": text("state"),
        "customer_id": text("customer_id"), "phone": phone, "outcome": codes,
        "note": text("note").str.replace(_LONG_DIGITS, "…", regex=True).str.slice(0, 200),
        "called_at": called,
        "_outcome_col": str(headers[cols[outcome_col]]),
        "_time_col": str(headers[cols["time"]]) if "time" in cols else "",
    })
    return out[filled].reset_index(drop=True), int((~filled).sum())


def _cell_text(value: object) -> object:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return None if value is None else str(value)


def _epoch_ms_to_seconds(cells: pd.Series) -> pd.Series:
    """Millisecond epochs (13 digits, e.g. Volcengine's beginCallTime) as seconds."""
    text = cells.map(_cell_text).astype("string").str.strip()
    ms = text.str.fullmatch(r"\d{13}").fillna(False)
    return cells.astype("object").where(~ms, text.str.slice(0, 10))


def _outcome_codes(raw: pd.Series, column: str) -> pd.Series:
    codes = {**{c: c for c in lifecycle.CALL_OUTCOME_CODES}, **lifecycle.CALL_OUTCOMES,
             **SYNONYMS}
    if column == "connected":
        codes = CONNECTED
    return raw.str.lower().map({k.lower(): v for k, v in codes.items()}).astype("string")


@dataclass(frozen=True)
class CallMatch:
    """Rows matched to invitations: what to write, and how each was matched."""

    updates: pd.DataFrame  # invitation_id, customer_id, outcome, note, called_at
    by_method: dict[str, int]


def match_calls(rows: pd.DataFrame, invitations: pd.DataFrame,
                customers: pd.DataFrame | None, as_of: date) -> CallMatch:
    """Each row's call invitation (see the module doc); InputError for a row that has none,
    or whose call is dated after ``as_of``."""
    calls = invitations[invitations["channel"].astype("string") == "call"].copy()
    calls = calls[pd.to_datetime(calls["night"]) < pd.Timestamp(as_of) + pd.Timedelta(days=1)]
    calls = calls.sort_values(["night", "invitation_id"])
    rows = rows.astype({c: object for c in ("state", "customer_id", "phone")})
    by_state = calls.dropna(subset=["state"]).drop_duplicates("state", keep="last")
    by_state = dict(zip(by_state["state"].astype(str), by_state["invitation_id"], strict=True))
    latest = calls.drop_duplicates("customer_id", keep="last")
    latest = dict(zip(latest["customer_id"].astype(str), latest["invitation_id"], strict=True))
    found = rows["state"].map(by_state).astype(object)
    method = pd.Series(np.where(found.notna(), "state", ""), index=rows.index, dtype=object)
    by_customer = rows["customer_id"].map(latest).astype(object)
    method = method.mask(found.isna() & by_customer.notna(), "customer_id")
    found = found.fillna(by_customer)
    if customers is not None and len(customers):
        who = customers.dropna(subset=["phone"]).drop_duplicates("phone")
        owner = dict(zip(who["phone"].astype(str), who["customer_id"].astype(str),
                         strict=True))
        by_phone = rows["phone"].map(owner).map(latest).astype(object)
        method = method.mask(found.isna() & by_phone.notna(), "phone")
        found = found.fillna(by_phone)
    rows["invitation_id"], rows["method"] = found, method
    _fail_unmatched(rows)
    late = rows["called_at"] >= pd.Timestamp(as_of) + pd.Timedelta(days=1)
    if late.any():
        r = rows[late].iloc[0]
        raise InputError(f"{_where(r)} column {r['_time_col']}: the call is dated "
                         f"{r['called_at']:%Y-%m-%d %H:%M}, after the as-of date {as_of}; fix "
                         f"the time or pass --as-of ({int(late.sum())} rows like this)")
    rows = rows.merge(calls[["invitation_id", "customer_id"]].rename(
        columns={"customer_id": "invited_customer"}), on="invitation_id", how="left")
    # the same call twice in one import: the last row wins (an agent's correction)
    rows = rows.drop_duplicates("invitation_id", keep="last")
    updates = pd.DataFrame({"invitation_id": rows["invitation_id"],
                            "customer_id": rows["invited_customer"],
                            "outcome": rows["outcome"], "note": rows["note"],
                            "called_at": rows["called_at"]}).reset_index(drop=True)
    return CallMatch(updates, {str(k): int(v) for k, v in
                               rows["method"].value_counts().items()})


def _where(row: pd.Series) -> str:
    sheet = f" sheet {row['sheet']}" if isinstance(row["sheet"], str) and row["sheet"] else ""
    return f"{row['file']}{sheet} row {int(row['row'])}"


def _fail_unmatched(rows: pd.DataFrame) -> None:
    missing = rows["invitation_id"].isna()
    if not missing.any():
        return
    r = rows[missing].iloc[0]
    if pd.notna(r["state"]):
        what = f"state {r['state']!r} is no call invitation of this workspace"
    elif pd.notna(r["customer_id"]):
        what = f"customer {r['customer_id']!r} has no call invitation on or before the as-of date"
    elif pd.notna(r["phone"]):
        what = "the phone number is no customer with a call invitation"
    else:
        what = "no state, customer id or phone to find the call by"
    raise InputError(f"{_where(r)}: {what}; import the calls.xlsx written by `privmigrate "
                     f"invite` for this workspace ({int(missing.sum())} rows like this)")


def record_call_outcomes(conn: sqlite3.Connection, updates: pd.DataFrame) -> int:
    """planned → called with its outcome (or a new outcome for a call already imported);
    call inside ``ledger.transaction``. Returns the rows changed."""
    if updates.empty:
        return 0
    rows = [(o, None if pd.isna(n) else str(n), t.strftime("%Y-%m-%d %H:%M:%S"), i)
            for o, n, t, i in zip(updates["outcome"].astype(str), updates["note"],
                                  updates["called_at"], updates["invitation_id"].astype(str),
                                  strict=True)]
    before = conn.total_changes
    conn.executemany(
        f"UPDATE invitations SET status = '{lifecycle.CALLED}', call_outcome = ?, "
        "outcome_note = ?, outcome_at = ? WHERE invitation_id = ? AND channel = 'call' "
        f"AND status IN ('{lifecycle.PLANNED}', '{lifecycle.CALLED}')", rows)
    return conn.total_changes - before


# Outcomes that take the number off future calls (and SMS): the buyer asked, or the number
# is not theirs any more.
SUPPRESS = {"do_not_contact": ("all", "call: 要求不再联系"),
            "invalid_number": ("all", "call: 空号/停机/号码错误")}


def import_call_results(ws: Workspace, paths: list[Path], *, now: datetime, as_of: date,
                        dry_run: bool = False) -> dict[str, Any]:
    """Read, match and record call outcomes (one transaction); the summary for --json."""
    from privmigrate.invite.ledger_store import add_suppressions
    from privmigrate.ledger import open_ledger, transaction
    from privmigrate.track import store

    # an empty call-time cell: the import time, or the end of an earlier --as-of date
    default = min(pd.Timestamp(now).floor("s"),
                  pd.Timestamp(as_of) + pd.Timedelta(days=1) - pd.Timedelta(seconds=1))
    read = read_call_results(paths, default)
    customers = _customer_phones(ws)
    with open_ledger(ws.state_db) as conn:
        invitations = store.read_invitations(conn)
        if invitations is None or not len(invitations):
            raise InputError(f"{ws.root}: no invitations in the ledger yet; plan a night with "
                             "`privmigrate invite` before importing its calls")
        matched = match_calls(read.rows, invitations, customers, as_of)
        updates = matched.updates
        changed = 0
        suppressed = 0
        if not dry_run:
            with transaction(conn):
                changed = record_call_outcomes(conn, updates)
            # its own transaction; a rerun of the same file adds what a crash left out
            for outcome, (channel, reason) in SUPPRESS.items():
                who = set(updates.loc[updates["outcome"] == outcome, "customer_id"])
                phones = _phones_of(customers, who)
                if phones:
                    suppressed += add_suppressions(conn, phones, channel, reason,
                                                   "calls import", now)
    return {
        "files": [str(p) for p in paths], "as_of": as_of.isoformat(), "dry_run": dry_run,
        "calls": len(updates), "changed": changed, "blank": read.blank,
        "by_outcome": {str(k): int(v) for k, v in updates["outcome"].value_counts().items()},
        "by_method": matched.by_method, "suppressed": suppressed,
    }


def _customer_phones(ws: Workspace) -> pd.DataFrame | None:
    if not ws.customers_path.exists():
        return None
    try:
        return pd.read_parquet(ws.customers_path, columns=["customer_id", "phone"]).astype(
            {"customer_id": "string", "phone": "string"})
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise InputError(f"{ws.customers_path}: cannot read ({type(exc).__name__}); run "
                         "`privmigrate segment` again") from exc


def _phones_of(customers: pd.DataFrame | None, ids: set[object]) -> list[str]:
    if customers is None or not ids:
        return []
    picked = customers[customers["customer_id"].isin({str(i) for i in ids})]
    return sorted(set(picked["phone"].dropna().astype(str)))
