"""Sending a night's SMS invitations through the configured provider, exactly once.

Each provider call goes: rows marked ``sending`` with the call's request id (committed, just
before the request leaves) → the call → every outcome committed. The request id travels as
OutId (Aliyun) / SessionContext (Tencent), so any row whose outcome is unknown — a timeout, a
dropped connection, an unreadable answer, a run killed mid-call — can be looked up in the
provider's records by it. A run starts by looking up the night's unknowns: what the provider
took becomes accepted (or delivered / undelivered), what it never received (absent from its
records once they would list it) goes back to planned and is sent with the rest; the others
stay unknown. Nothing is sent twice on a guess: ``--resend-unknown`` is the operator's
override for what the provider still cannot tell. After an unknown outcome the next calls
are halved in size (down to one number), and grow back after calls that went well, so one
lost answer leaves few unknowns. See docs/invite.md and docs/sms-providers.md.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pandas as pd

from privmigrate.invite import ledger_store, window
from privmigrate.invite.settings import InviteSettings
from privmigrate.progress import NULL_PROGRESS, Progress

if TYPE_CHECKING:
    from privmigrate.channels.sms import SmsProvider

LEDGER_ZONE = ZoneInfo("Asia/Shanghai")  # ledger timestamps are Beijing wall time
CALM_CALLS_TO_GROW = 2  # calls without an unknown before the batch size doubles again


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
    looked_up: dict[str, int] = field(default_factory=dict)  # unknowns resolved, by status
    smallest_batch: int | None = None  # after halving; None when no call was halved
    # the night's rows still unknown after the look-ups: what an operator checks in the
    # console (invitation id, our request id = OutId / SessionContext, when it was sent)
    still_unknown: list[dict[str, str | None]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def build_messages(rows: pd.DataFrame, sign_name: str, request_id: str = "") -> list:
    from privmigrate.channels.sms import SmsMessage

    return [
        SmsMessage(message_id=str(r.invitation_id), phone=str(r.phone), sign_name=sign_name,
                   template_code=str(r.template_code), params=json.loads(str(r.params)),
                   request_id=request_id)
        for r in rows.itertuples(index=False)
    ]


def send_night(conn: Any, night: date, plan: pd.DataFrame, settings: InviteSettings,
               provider: SmsProvider | Callable[[], SmsProvider], clock: Callable[[], datetime],
               *, resend_unknown: bool = False, progress: Progress = NULL_PROGRESS) -> SendReport:
    """Look up the night's unknowns, then send every SMS invitation still ``planned``
    (with ``resend_unknown`` also those still unknown); stop at the window's end.

    ``provider`` may be a factory, called only when there is something to send or look up
    (so a night without SMS needs no provider credentials).
    """
    report = SendReport(recovered_unknown=ledger_store.recover_interrupted(conn, night))
    phones = dict(zip(plan["invitation_id"].astype(str), plan["phone"].astype(str),
                      strict=True))
    lookups = ledger_store.unknown_to_look_up(conn, night)
    if not lookups and not ledger_store.sms_to_send(conn, night, resend_unknown):
        return report
    if callable(provider) and not hasattr(provider, "send"):
        provider = provider()
    look_up(conn, provider, lookups, phones, clock(), report)
    todo = set(ledger_store.sms_to_send(conn, night, resend_unknown))
    rows = plan[plan["invitation_id"].isin(todo)].sort_values(["template_code", "invitation_id"])
    rows = _drop_suppressed(conn, rows, report)
    sent_ids = _send_rows(conn, provider, rows, settings, clock, report, progress)
    # this run's own unknowns: what the provider already lists is known at once
    fresh = [r for r in ledger_store.unknown_to_look_up(conn, night) if r[0] in sent_ids]
    look_up(conn, provider, fresh, phones, clock(), report)
    report.still_unknown = ledger_store.unknown_rows(conn, night)
    return report


def look_up(conn: Any, provider: Any, rows: Sequence[tuple[str, str, str]],
            phones: dict[str, str], now: datetime, report: SendReport) -> None:
    """Ask the provider's records about unknown rows and record what they say."""
    from privmigrate.channels.sms import SentLookup

    finder = getattr(provider, "look_up", None)
    lookups = [SentLookup(i, phones[i], request_id, _moment(sent_at))
               for i, request_id, sent_at in rows if i in phones]
    if finder is None or not lookups:
        return
    changed = ledger_store.record_looked_up(conn, finder(lookups, _aware(now)), now)
    for status, n in changed.items():
        report.looked_up[status] = report.looked_up.get(status, 0) + n


def _send_rows(conn: Any, provider: Any, rows: pd.DataFrame, settings: InviteSettings,
               clock: Callable[[], datetime], report: SendReport, progress: Progress
               ) -> set[str]:
    """Send ``rows`` call by call; returns the ids handed to the provider."""
    from privmigrate.channels.sms import SmsStopError, new_request_id

    largest = max(1, int(provider.max_batch))
    size, calm = largest, 0
    remaining = len(rows)
    sent: set[str] = set()
    progress.start("sending SMS", total=len(rows))
    for group in _groups(rows, _per_call_params(provider)):
        start = 0
        while start < len(group):
            if not window.is_open(clock(), settings.window):
                report.stopped = "the sending window closed; rerun tomorrow inside it"
                report.left_planned = remaining
                progress.finish()
                return sent
            chunk = group.iloc[start:start + size]
            start += len(chunk)
            remaining -= len(chunk)
            ids = chunk["invitation_id"].astype(str).tolist()
            chunk_phones = dict(zip(ids, chunk["phone"].astype(str), strict=True))
            request_id = new_request_id()
            ledger_store.mark_sending(conn, ids, provider.name, request_id, clock())
            sent.update(ids)
            try:
                results = provider.send(build_messages(chunk, settings.sign_name, request_id))
            except SmsStopError as exc:
                _record(conn, report, exc.results, chunk_phones, provider.name, clock())
                done = {r.message_id for r in exc.results}
                ledger_store.release(conn, [m for m in ids if m not in done])
                report.left_planned = len(ids) - len(done) + remaining
                report.stopped = str(exc)
                raise
            missing = set(ids) - {r.message_id for r in results}
            results = list(results) + _unknown_for(sorted(missing))
            _record(conn, report, results, chunk_phones, provider.name, clock())
            if any(r.status == "unknown" for r in results):
                size, calm = max(1, size // 2), 0
                report.smallest_batch = min(report.smallest_batch or size, size)
            else:
                calm += 1
                if calm >= CALM_CALLS_TO_GROW and size < largest:
                    size, calm = min(largest, size * 2), 0
            progress.advance(len(ids))
    progress.finish()
    return sent


def _moment(stamp: str) -> datetime:
    return _aware(datetime.fromisoformat(stamp))


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=LEDGER_ZONE) if moment.tzinfo is None else moment


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


def _groups(rows: pd.DataFrame, by_params: bool) -> list[pd.DataFrame]:
    """Rows that may share a provider call: one template (and parameter set), in the order
    of their first invitation id; the sender slices them into calls."""
    keys = ["template_code", "params"] if by_params else ["template_code"]
    out = [group for _, group in rows.groupby(keys, sort=True)]
    out.sort(key=lambda g: str(g["invitation_id"].iloc[0]))
    return out
