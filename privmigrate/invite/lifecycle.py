"""The invitation lifecycle: the one vocabulary of states and outcomes every stage reads.

An invitation is *planned* when the night's plan is written. Only a recorded attempt makes
it count as an invitation anywhere (``track``, ``report``, ``run``, ``--json``):

- SMS: planned → sending (the request id is recorded in the same transaction, just before
  the request leaves) → accepted by the provider → delivered / undelivered (delivery
  receipts); or failed (the provider refused it: nothing went out); or unknown (the request
  may have reached the provider: reconciled through the provider's query API or a receipt
  report before anything is resent).
- call: planned → called, with a ``call_outcome`` from ``CALL_OUTCOMES`` imported from the
  agents' sheet or the outbound tool's export (``privmigrate calls import``).
- wecom_add (a staff member adds the buyer by phone): planned (on the staff member's sheet)
  → accepted when the add is seen → expired when not added within the configured days.

``ATTEMPTED`` is the set of states that count as an invitation; ``ATTEMPTED_SQL`` is the
same set as a SQL predicate over the ``invitations`` table, so every figure uses one rule.
"""

from __future__ import annotations

CHANNELS = ("sms", "call", "wecom_add")

PLANNED = "planned"
SENDING = "sending"
ACCEPTED = "accepted"
DELIVERED = "delivered"
UNDELIVERED = "undelivered"
FAILED = "failed"
UNKNOWN = "unknown"
CALLED = "called"
EXPIRED = "expired"

STATUSES = (PLANNED, SENDING, ACCEPTED, DELIVERED, UNDELIVERED, FAILED, UNKNOWN, CALLED,
            EXPIRED)

# A recorded attempt: the message was taken by the provider (delivered or not), the call
# was made (whatever its outcome), the staff member's add was seen or its time ran out.
ATTEMPTED = frozenset({ACCEPTED, DELIVERED, UNDELIVERED, CALLED, EXPIRED})
ATTEMPTED_SQL = "status IN ('accepted', 'delivered', 'undelivered', 'called', 'expired')"

# Outcomes an agent records for a call; the call sheet's drop-down and `calls import` use
# exactly these words. `agreed` is the one that promises a WeCom add.
CALL_OUTCOMES: dict[str, str] = {
    "接通": "answered",
    "未接通": "no_answer",
    "拒绝": "refused",
    "同意加微": "agreed",
    "已加微": "added",
    "空号": "invalid_number",
    "停机": "invalid_number",
    "关机": "no_answer",
    "忙线": "no_answer",
    "号码错误": "invalid_number",
    "要求不再联系": "do_not_contact",
}
CALL_OUTCOME_CODES = tuple(dict.fromkeys(CALL_OUTCOMES.values()))

# The call sheet's columns that `privmigrate calls import` reads back (the contract between
# the sheet writer, invite/calls.py, and the importer, invite/call_results.py). A row is
# matched to its invitation by the per-person 联系我 state (unique per invitation), else by
# the customer id; the agent fills the outcome (a key of CALL_OUTCOMES, from the drop-down),
# may add a remark (never a phone number) and the time of the call (default: the import).
# Each tuple lists the headers accepted, the sheet's own first.
CALL_STATE_HEADERS = ("企微state", "wecom_state", "联系我state", "state")
CALL_CUSTOMER_HEADERS = ("客户编号", "external_ref", "customer_id")
CALL_OUTCOME_HEADERS = ("外呼结果", "call_outcome", "outcome")
CALL_NOTE_HEADERS = ("备注", "outcome_note", "remark", "note")
CALL_TIME_HEADERS = ("外呼时间", "called_at", "outcome_at")
