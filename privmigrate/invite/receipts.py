"""Delivery-receipt (回执) reports: what the carrier said about each message, imported from
the files a brand can download or keep, the way reply reports are imported.

Accepted shapes, each with the providers' documented field names (docs/sms-providers.md):

- Aliyun ``SmsReport`` records (HTTP push / MNS queue, saved as JSON or CSV): ``phone_number,
  send_time, report_time, success, err_code, err_msg, sms_size, biz_id, out_id``;
- Aliyun SMS log exports (日志分析 → 导出): ``receiver, out_id, status`` (4 succeeded,
  5 aborted), ``code``, ``mc_code``;
- Tencent ``PullSmsSendStatus`` / ``PullSmsSendStatusByPhoneNumber`` answers:
  ``PullSmsSendStatusSet[]`` of ``PhoneNumber, SerialNo, ReportStatus (SUCCESS/FAIL),
  Description, SessionContext, UserReceiveTime``; and the receipt callback's
  ``mobile, report_status, errmsg, description, sid, user_receive_time``;
- console send-record exports as CSV/xlsx with Chinese headers (手机号码, 发送状态/回执状态,
  状态码/错误码, 接收时间, 外部流水号 …; UNCONFIRMED spellings, matched by alias).

A receipt row is matched to an SMS invitation by number and our request id (OutId /
SessionContext), else by number and the provider's id (BizId / SerialNo). A matched
invitation becomes ``delivered`` or ``undelivered`` (``receipt_code``, ``delivered_at``); a
row without a final state (等待回执) turns an ``unknown`` invitation into ``accepted``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from privmigrate.errors import InputError
from privmigrate.invite.replies import _find, _norm, _records
from privmigrate.ledger import transaction

PHONE = ("phone_number", "phonenumber", "phonenum", "receiver", "mobile", "subscribernumber",
         "手机号码", "手机号", "接收号码", "号码")
REQUEST = ("out_id", "outid", "sessioncontext", "session_context", "外部流水号", "外部流水扩展字段",
           "用户序列号", "sessioncontext字段")
REF = ("biz_id", "bizid", "serialno", "serial_no", "sid", "发送回执id", "回执id", "流水号")
STATE = ("success", "reportstatus", "report_status", "sendstatus", "status", "发送状态",
         "回执状态", "接收状态", "状态")
CODE = ("err_code", "errcode", "description", "errmsg", "mc_code", "code", "statuscode",
        "状态码", "错误码", "回执码", "运营商错误码")
WHEN = ("report_time", "userreceivetime", "user_receive_time", "receivedate", "接收时间",
        "回执时间", "状态报告时间", "time")

REACHED = {"true", "success", "delivered", "delivrd", "成功", "发送成功", "接收成功", "已送达"}
NOT_REACHED = {"false", "fail", "failed", "undelivered", "失败", "发送失败", "接收失败", "未送达"}
PENDING = {"pending", "等待回执", "发送中", "待回执"}
# Numeric states mean different things per source: QuerySendDetails' SendStatus (1 等待回执,
# 2 发送失败, 3 发送成功) and the SMS log's status (0/1 initial, 2 awaiting, 3 retry,
# 4 succeeded, 5 aborted); a bare ``success`` column holds true/false.
NUMERIC = {
    "sendstatus": {"1": "accepted", "2": "undelivered", "3": "delivered"},
    "status": {"0": "accepted", "1": "accepted", "2": "accepted", "3": "accepted",
               "4": "delivered", "5": "undelivered"},
}
UPDATABLE = ("accepted", "unknown", "delivered", "undelivered")


@dataclass(frozen=True)
class ReceiptImport:
    rows: int
    matched: int  # rows tied to an invitation
    delivered: int
    undelivered: int
    accepted: int  # unknown invitations the report shows the provider took (no receipt yet)
    unmatched: int  # rows of numbers / ids privmigrate did not send (or already settled)


def read_receipts(path: Path) -> pd.DataFrame:
    """The report's rows as phone, request_id, provider_ref, state (delivered, undelivered,
    accepted or None), code, at."""
    if not path.exists() or path.is_dir():
        raise InputError(f"{path}: no such file; give the receipt report file")
    frame = _receipt_records(path)
    phone = _find(frame, PHONE)
    if phone is None:
        raise InputError(f"{path}: no phone column (looked for {', '.join(PHONE[:6])} …); "
                         "this does not look like a delivery-receipt report")
    state = _find(frame, STATE)
    if state is None:
        raise InputError(f"{path}: no delivery state column (looked for "
                         f"{', '.join(STATE[:6])} …); export the report with its status column")
    from privmigrate.ingest.phones import classify_phones

    phones = classify_phones(frame[phone].astype("string").reset_index(drop=True))
    out = pd.DataFrame({
        "phone": phones["phone"].where(phones["phone_status"] == "valid"),
        "request_id": _column(frame, REQUEST),
        "provider_ref": _column(frame, REF),
        "state": frame[state].astype("string").fillna("").map(_norm).reset_index(drop=True)
        .map(lambda v, kind=_norm(state).replace("_", ""): _status(v, kind)),
        "code": _column(frame, CODE),
        "at": _column(frame, WHEN),
    })
    return out


def _receipt_records(path: Path) -> pd.DataFrame:
    return _records(path, ("PullSmsSendStatusSet", "SmsSendDetailDTOs", "SmsSendDetailDTO",
                           "data", "Data", "records", "items"))


def _column(frame: pd.DataFrame, aliases: tuple[str, ...]) -> pd.Series:
    name = _find(frame, aliases)
    if name is None:
        return pd.Series([pd.NA] * len(frame), dtype="string")
    values = frame[name].astype("string").str.strip().reset_index(drop=True)
    return values.where(values != "", pd.NA)


def apply_receipts(conn: Any, receipts: pd.DataFrame, phones: dict[str, str], now: datetime
                   ) -> ReceiptImport:
    """Record the receipts of invitations privmigrate sent (``phones``: invitation → number)."""
    rows = conn.execute(
        f"SELECT invitation_id, status, request_id, provider_ref FROM invitations "
        f"WHERE channel = 'sms' AND status IN ({', '.join('?' for _ in UPDATABLE)})",
        UPDATABLE).fetchall()
    by_request: dict[tuple[str, str], list[str]] = {}
    by_ref: dict[tuple[str, str], list[str]] = {}
    for invitation_id, _status, request_id, provider_ref in rows:
        phone = phones.get(invitation_id)
        if phone is None:
            continue
        if request_id:
            by_request.setdefault((request_id, phone), []).append(invitation_id)
        if provider_ref:
            by_ref.setdefault((provider_ref, phone), []).append(invitation_id)
    counts = {"delivered": 0, "undelivered": 0, "accepted": 0}
    matched = 0
    stamp = now.isoformat(timespec="seconds")
    with transaction(conn):
        for r in receipts.itertuples(index=False):
            if pd.isna(r.phone):
                continue
            ids = (by_request.get((str(r.request_id), r.phone)) if not pd.isna(r.request_id)
                   else None) or (by_ref.get((str(r.provider_ref), r.phone))
                                  if not pd.isna(r.provider_ref) else None)
            if not ids:
                continue
            invitation_id = ids.pop(0)
            matched += 1
            status = r.state
            if status == "accepted":
                cur = conn.execute(
                    "UPDATE invitations SET status = 'accepted', provider_code = 'receipt' "
                    "WHERE invitation_id = ? AND status = 'unknown'", (invitation_id,))
            elif status in ("delivered", "undelivered"):
                cur = conn.execute(
                    "UPDATE invitations SET status = ?, receipt_code = ?, delivered_at = ? "
                    "WHERE invitation_id = ?",
                    (status, None if pd.isna(r.code) else str(r.code)[:64],
                     stamp if pd.isna(r.at) else str(r.at), invitation_id))
            else:
                continue
            counts[status] += cur.rowcount
    return ReceiptImport(len(receipts), matched, counts["delivered"], counts["undelivered"],
                         counts["accepted"], len(receipts) - matched)


def _status(state: str, kind: str) -> str | None:
    """delivered / undelivered / accepted (no final receipt yet) / None (unreadable)."""
    numeric = NUMERIC.get(kind, NUMERIC["sendstatus"])
    if state in numeric:
        return numeric[state]
    if state in REACHED:
        return "delivered"
    if state in NOT_REACHED:
        return "undelivered"
    if state in PENDING:
        return "accepted"
    return None


def sent_phones(ws: Any, conn: Any) -> dict[str, str]:
    """invitation id → number for every night whose plan is recorded (the plans are the only
    place the numbers of sent invitations are kept)."""
    from privmigrate.invite import batches

    out: dict[str, str] = {}
    for night, sha in conn.execute(
            "SELECT night, plan_sha256 FROM invite_nights WHERE night IN (SELECT DISTINCT "
            "night FROM invitations WHERE channel = 'sms' AND status IN "
            "('accepted', 'unknown', 'delivered', 'undelivered'))"):
        plan = batches.read_plan(ws, date.fromisoformat(night), sha)
        sms = plan[plan["channel"] == "sms"]
        out.update(zip(sms["invitation_id"].astype(str), sms["phone"].astype(str),
                       strict=True))
    return out
