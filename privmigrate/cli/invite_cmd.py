"""`privmigrate invite`: a night's SMS and call-list batches, and optionally sending them."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import typer

from privmigrate.cli.common import (
    JsonOption,
    WorkspaceOption,
    emit_json,
    handle_errors,
    parse_day,
    progress,
    stderr,
    workspace,
)
from privmigrate.errors import ExitCode, InputError


def _night(value: str | None, today: date) -> date:
    return parse_day(value, "--date") or today


def register(app: typer.Typer) -> None:
    @app.command("invite")
    @handle_errors
    def invite(
        night: str | None = typer.Option(
            None, "--date", metavar="DATE",
            help="Night to plan/send, YYYY-MM-DD (default: today, Asia/Shanghai)."
        ),
        limit: int | None = typer.Option(
            None, "--limit", min=0, metavar="N",
            help="Invite at most N tonight (lowers invite.daily_limit)."
        ),
        dry_run: bool = typer.Option(
            False, "--dry-run", help="Plan and print; write no files and record nothing."
        ),
        send: bool = typer.Option(
            False, "--send", help="Send the night's planned SMS (only inside the sending window)."
        ),
        resend_unknown: bool = typer.Option(
            False, "--resend-unknown",
            help="Also send invitations whose outcome is still unknown after looking them "
                 "up in the provider's records (its console may show what it cannot answer).",
        ),
        workspace_dir: Path | None = WorkspaceOption,
        as_json: bool = JsonOption,
    ) -> None:
        """Plan tonight's invitations and write batches/<date>/ (sms.csv, sms.xlsx, calls.xlsx,
        manifest.json); with --send, send the SMS through the configured provider.

        The plan of a date is made once and recorded in the ledger before anything is sent;
        rerunning the same --date rewrites the same files and sends only what is still
        planned. Exit codes: 1 outside the sending window or bad config, 3 some messages
        failed or are unknown, 4 the provider refused, 5 another run holds the workspace.

        Example: privmigrate invite --date 2026-11-25 --limit 500 --send
        """
        from privmigrate.invite.night import run_invite
        from privmigrate.invite.window import NOW_ENV, resolve_now

        fixed = os.environ.get(NOW_ENV)
        now = resolve_now(fixed)
        day = _night(night, now.date())
        ws = workspace(workspace_dir)
        if not ws.config_path.exists():  # before the lock: a typo creates no folder
            raise InputError(f"{ws.config_path} not found; create it with `privmigrate init`")
        if send:
            from privmigrate.config import check_example_values

            for warning in check_example_values(ws.config_path, "privmigrate invite --send",
                                                dry_run=dry_run, sections=("invite",)):
                stderr.print(f"Warning: {warning}")
        clock = (lambda: now) if fixed else None
        with ws.lock("invite"), progress(not as_json) as bar:
            summary = run_invite(ws, day, now=now, limit=limit, dry_run=dry_run, send=send,
                                 resend_unknown=resend_unknown, progress=bar, clock=clock)
        if as_json:
            emit_json(summary)
        else:
            _print(summary)
        code = _exit_code(summary)
        if code != ExitCode.OK:
            stderr.print(_partial_note(summary))
            raise typer.Exit(int(code))


def _exit_code(summary: dict) -> ExitCode:
    """3 when this run's sends failed or stopped early, or unknown outcomes await an operator."""
    sent = summary.get("send")
    if not sent:
        return ExitCode.OK
    unresolved = summary.get("status", {}).get("sms", {}).get("unknown", 0)
    if sent["failed"] or sent["stopped"] or unresolved:
        return ExitCode.PARTIAL
    return ExitCode.OK


def _partial_note(s: dict) -> str:
    sent = s["send"]
    unknown = s.get("status", {}).get("sms", {}).get("unknown", 0)
    parts = []
    if sent["failed"]:
        parts.append(f"{sent['failed']} messages failed (recorded in the ledger)")
    if sent["stopped"]:
        parts.append(f"sending stopped: {sent['stopped']}")
    if unknown:
        parts.append(f"{unknown} messages have an unknown outcome the provider's records "
                     "cannot settle yet: the next --send looks them up again; if the console's "
                     "send records show they were not sent, rerun with --resend-unknown")
    return "Partial: " + "; ".join(parts)


def _print(s: dict) -> None:
    head = "dry run — nothing written" if s["dry_run"] else (
        "reused the stored plan" if s["reused"] else "planned")
    stderr.print(f"invite {s['night']} ({s['campaign']}): {head}")
    ch = s["by_channel"]
    stderr.print(f"  invitations: {s['invited']} (sms {ch['sms']}, call {ch['call']}, "
                 f"wecom_add {ch.get('wecom_add', 0)}); holdout tonight: {s['holdout']}; "
                 f"SMS parts billed: {s['sms_parts']}")
    skipped = {k: v for k, v in s["skipped"].items() if v}
    if skipped:
        stderr.print("  not invited: " + ", ".join(f"{k} {v}" for k, v in skipped.items()))
    for tid, t in s["templates"].items():
        stderr.print(f"  template {tid} ({t['channel']}, variant {t['variant']}): {t['count']}")
    if s["staff"]:
        stderr.print("  staff: " + ", ".join(f"{k} {v}" for k, v in s["staff"].items()))
    for name in s.get("full_accounts", []):
        a = s["accounts"][name]
        tonight = a["room"] - a["room_left"]
        stderr.print(f"  account {name} ({a['staff_id']}) is full: {a['friends_held']} friends "
                     f"+ {a['pending_adds']} open adds + {tonight} tonight = max_customers "
                     f"{a['max_customers']}; raise it (WeCom expands to 20,000) or add an account")
    moved = s.get("wecom_add_moved")
    if moved and any(moved.values()):
        stderr.print(f"  earlier adds by phone: {moved['accepted']} seen (accepted), "
                     f"{moved['expired']} expired")
    if s["files"]:
        names = ", ".join(Path(f).name for f in s["files"])
        stderr.print(f"  wrote {Path(s['files'][0]).parent}/ ({names})")
    sent = s.get("send")
    if sent:
        stderr.print(f"  sent: accepted {sent['accepted']}, failed {sent['failed']}, unknown "
                     f"{sent['unknown']}, newly suppressed {sent['suppressed']}")
        if sent.get("looked_up"):
            stderr.print("  looked up in the provider's records: " + ", ".join(
                f"{k} {v}" for k, v in sorted(sent["looked_up"].items())))
        left = sent.get("still_unknown") or []
        for row in left[:5]:
            stderr.print(f"  unknown: {row['invitation_id']} (request id {row['request_id']}, "
                         f"sent {row['sent_at']})")
        if len(left) > 5:
            stderr.print(f"  … and {len(left) - 5} more unknown (--json lists them all)")
        if sent["recovered_unknown"]:
            stderr.print(f"  {sent['recovered_unknown']} messages of an interrupted run are now "
                         "'unknown'")
        if sent["stopped"]:
            stderr.print(f"  stopped: {sent['stopped']} ({sent['left_planned']} still planned)")
    notify = s.get("notify")
    if notify:
        stderr.print(f"  WeCom messages to staff: {notify['sent']} sent, "
                     f"{notify['already_sent']} sent before")
        for line in notify["warnings"]:
            stderr.print(f"  warning: {line}")
    status = s.get("status")
    if status:
        stderr.print("  ledger: " + "; ".join(
            f"{c} " + ", ".join(f"{k} {v}" for k, v in st.items()) for c, st in status.items()))
