"""Sending a night's SMS invitations through the configured provider, exactly once.

Each provider call goes: rows marked ``sending`` (committed) → the call → every outcome
committed. A run killed during the call leaves rows ``sending``; the next run turns them into
``unknown`` and never resends them on its own (providers are not idempotent), so a message
is delivered at most once and every ``planned`` row is sent by some run. An operator
resolves ``unknown`` rows by checking the provider's delivery receipts for the invitation id
(sent as OutId / SessionContext) and then, only if they were not delivered, rerunning with
``--resend-unknown``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from privmigrate.invite import ledger_store, window
from privmigrate.invite.settings import InviteSettings
from privmigrate.progress import NULL_PROGRESS, Progress

if TYPE_CHECKING:
    from privmigrate.channels.sms import SmsProvider


@dataclass
class SendReport:
    attempted: int = 0
    accepted: int = 0
    failed: int = 0
    unknown: int = 0
    suppressed: int = 0
    recovered_unknown: int = 0  # rows a killed run left in flight
    skipped_suppressed: int = 0  # suppressed after planning: never sent
    left_planned: int = 0
    stopped: str | None = None  # why sending stopped early
    failed_codes: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def build_messages(rows: pd.DataFrame, sign_name: str) -> list:
    from privmigrate.channels.sms import SmsMessage

    return [
        SmsMessage(message_id=str(r.invitation_id), phone=str(r.phone), sign_name=sign_name,
                   template_code=str(r.template_code), params=json.loads(str(r.params)))
        for r in rows.itertuples(index=False)
    ]


def send_night(conn: Any, night: date, plan: pd.DataFrame, settings: InviteSettings,
               provider: SmsProvider | Callable[[], SmsProvider], clock: Callable[[], datetime],
               *, resend_unknown: bool = False, progress: Progress = NULL_PROGRESS) -> SendReport:
    """Send every SMS invitation of ``night`` still ``planned``; stop at the window's end.

    ``provider`` may be a factory, called only when there is something to send (so a night
    without SMS needs no provider credentials).
    """
    from privmigrate.channels.sms import SmsStopError

    report = SendReport(recovered_unknown=ledger_store.recover_interrupted(conn, night))
    todo = set(ledger_store.sms_to_send(conn, night, resend_unknown))
    if not todo:
        return report
    if callable(provider) and not hasattr(provider, "send"):
        provider = provider()
    rows = plan[plan["invitation_id"].isin(todo)].sort_values(["template_code", "invitation_id"])
    rows = _drop_suppressed(conn, rows, report)
    chunks = _chunks(rows, max(1, int(provider.max_batch)), _per_call_params(provider))
    progress.start("sending SMS", total=len(rows))
    for i, chunk in enumerate(chunks):
        if not window.is_open(clock(), settings.window):
            report.stopped = "the sending window closed; rerun tomorrow inside it"
            report.left_planned = sum(len(c) for c in chunks[i:])
            break
        ids = chunk["invitation_id"].astype(str).tolist()
        phones = dict(zip(ids, chunk["phone"].astype(str), strict=True))
        ledger_store.mark_sending(conn, ids, provider.name)
        try:
            results = provider.send(build_messages(chunk, settings.sign_name))
        except SmsStopError as exc:
            _record(conn, report, exc.results, phones, provider.name, clock())
            done = {r.message_id for r in exc.results}
            ledger_store.release(conn, [m for m in ids if m not in done])
            report.left_planned = len(ids) - len(done) + sum(len(c) for c in chunks[i + 1:])
            report.stopped = str(exc)
            raise
        missing = set(ids) - {r.message_id for r in results}
        results = list(results) + _unknown_for(sorted(missing))
        _record(conn, report, results, phones, provider.name, clock())
        progress.advance(len(ids))
    progress.finish()
    return report


def _drop_suppressed(conn: Any, rows: pd.DataFrame, report: SendReport) -> pd.DataFrame:
    """Numbers suppressed since the plan was made (e.g. a reply report imported this
    morning) are never sent: their rows become ``failed`` / ``suppressed``."""
    sup = ledger_store.suppressions_frame(conn)
    blocked = set(sup.loc[sup["channel"].isin(["sms", "all"]), "phone"].astype(str))
    hit = rows["phone"].astype(str).isin(blocked)
    if hit.any():
        ledger_store.mark_suppressed(conn, rows.loc[hit, "invitation_id"].astype(str).tolist())
        report.failed_codes["suppressed"] = int(hit.sum())
        report.skipped_suppressed = int(hit.sum())
    return rows[~hit]


def _record(conn: Any, report: SendReport, results: Sequence, phones: dict[str, str],
            provider: str, when: datetime) -> None:
    report.suppressed += ledger_store.record_results(conn, results, phones, provider, when)
    for r in results:
        report.attempted += 1
        if r.status == "accepted":
            report.accepted += 1
        elif r.status == "failed":
            report.failed += 1
            report.failed_codes[r.code] = report.failed_codes.get(r.code, 0) + 1
        else:
            report.unknown += 1


def _unknown_for(ids: Sequence[str]) -> list:
    from privmigrate.channels.sms import SendResult

    return [SendResult(i, "unknown", "NO_RESULT", "the provider gave no answer for it", None,
                       False) for i in ids]


def _per_call_params(provider: Any) -> bool:
    """Whether one provider call carries one parameter set for all its numbers.

    Tencent SendSms does (TemplateParamSet is per call), so personalised messages are one
    call each; handing them over one ``send`` at a time keeps what a kill can leave
    ``unknown`` to a single call. Aliyun SendBatchSms takes a parameter set per number.
    """
    declared = getattr(provider, "params_per_call", None)
    if declared is not None:
        return bool(declared)
    return getattr(provider, "name", "") == "tencent"


def _chunks(rows: pd.DataFrame, size: int, by_params: bool) -> list[pd.DataFrame]:
    """What one ``provider.send`` gets: one template (and parameter set), ≤ ``size`` numbers.

    Each chunk matches one provider call, so a run killed mid-call leaves only that call's
    rows ``unknown``.
    """
    keys = ["template_code", "params"] if by_params else ["template_code"]
    out: list[pd.DataFrame] = []
    for _, group in rows.groupby(keys, sort=True):
        out.extend(group.iloc[i:i + size] for i in range(0, len(group), size))
    out.sort(key=lambda c: str(c["invitation_id"].iloc[0]))
    return out
