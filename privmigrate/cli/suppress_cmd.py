"""`privmigrate suppress add|import|list|remove`: the per-channel do-not-contact list."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import typer

from privmigrate.cli.common import (
    JsonOption,
    WorkspaceOption,
    emit_json,
    handle_errors,
    stderr,
    stdout,
    workspace,
)
from privmigrate.errors import InputError

suppress_app = typer.Typer(
    help="The suppression (do-not-contact) list per channel: sms, call or all.\n\n"
         "Example: privmigrate suppress import replies.csv --channel sms",
    no_args_is_help=True,
)
CHANNEL_HELP = "sms, call or all (every channel)."


def _now() -> datetime:
    import os

    from privmigrate.invite.window import NOW_ENV, resolve_now

    return resolve_now(os.environ.get(NOW_ENV))


def _channel(value: str) -> str:
    if value not in ("sms", "call", "all"):
        raise InputError(f"--channel {value!r}: use sms, call or all")
    return value


def _report(payload: dict[str, Any], as_json: bool, text: str) -> None:
    if as_json:
        emit_json(payload)
    else:
        stderr.print(text)


@suppress_app.command("add")
@handle_errors
def add(
    phones: list[str] = typer.Argument(..., metavar="PHONE",
                                       help="Mobile numbers to suppress."),
    channel: str = typer.Option("all", "--channel", metavar="CHANNEL",
                                       help=CHANNEL_HELP),
    reason: str = typer.Option("manual", "--reason", metavar="TEXT",
                               help="Why (kept in the ledger)."),
    source: str = typer.Option("cli", "--source", metavar="TEXT",
                                      help="Where the request came from."),
    workspace_dir: Path | None = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Suppress numbers on a channel (default: all channels).

    Example: privmigrate suppress add 13800000001 --channel sms --reason 客户来电要求
    """
    from privmigrate.invite import ledger_store
    from privmigrate.invite.replies import normalise_phones
    from privmigrate.ledger import open_ledger

    good, bad = normalise_phones(phones)
    if not good:  # an opt-out silently not recorded is worse than an error
        raise InputError("none of the numbers given is a valid mainland mobile; write each as "
                         "11 digits, e.g. 13800000000 (+86 and spaces are fine)")
    with open_ledger(workspace(workspace_dir, must_exist=True).state_db) as conn:
        added = ledger_store.add_suppressions(conn, good, _channel(channel), reason, source,
                                              _now())
    _report({"added": added, "already": len(good) - added, "invalid": bad}, as_json,
            f"suppressed {added} new number(s) on {channel}; {len(good) - added} already were; "
            f"{bad} not a valid mobile")


@suppress_app.command("import")
@handle_errors
def import_(
    path: Path = typer.Argument(..., metavar="FILE",
                                help="Reply report (csv, xlsx, json) or a list of numbers."),
    channel: str = typer.Option("sms", "--channel", metavar="CHANNEL",
                                       help=CHANNEL_HELP),
    reason: str = typer.Option("replied_unsubscribe", "--reason", metavar="TEXT",
                               help="Why (kept in the ledger)."),
    source: str | None = typer.Option(None, "--source", metavar="TEXT",
                                      help="Default: the file name."),
    plain_list: bool = typer.Option(
        False, "--plain-list",
        help="The file has no reply column and every number in it opted out.",
    ),
    workspace_dir: Path | None = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Import a provider's reply (上行) report: everyone who replied R (or TD, 退订 …) is
    suppressed. A one-column file is a plain list of numbers; a wider file without a reply
    column needs --plain-list (so an order export given by mistake suppresses nobody).

    Example: privmigrate suppress import aliyun_smsup.json --channel sms
    """
    from privmigrate.config import read_config
    from privmigrate.invite import ledger_store
    from privmigrate.invite.replies import read_reply_report
    from privmigrate.invite.settings import unsubscribe_keywords
    from privmigrate.ledger import open_ledger

    ws = workspace(workspace_dir, must_exist=True)
    keywords = unsubscribe_keywords(read_config(ws.config_path))
    got = read_reply_report(path, keywords, plain_list=plain_list)
    with open_ledger(ws.state_db) as conn:
        added = ledger_store.add_suppressions(conn, got.phones, _channel(channel), reason,
                                              source or path.name, _now())
    _report(
        {"rows": got.rows, "unsubscribe_replies": got.replies_matched, "numbers": len(got.phones),
         "added": added, "invalid": got.invalid}, as_json,
        f"{path.name}: {got.rows} rows, {got.replies_matched} unsubscribe replies, "
        f"{added} number(s) newly suppressed on {channel}, {got.invalid} without a valid mobile",
    )


@suppress_app.command("list")
@handle_errors
def list_(
    channel: str | None = typer.Option(None, "--channel", metavar="CHANNEL",
                                       help=CHANNEL_HELP),
    full: bool = typer.Option(False, "--full", help="Show whole numbers (default: 138****1234)."),
    workspace_dir: Path | None = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """List suppressed numbers (masked unless --full).

    Example: privmigrate suppress list --channel sms --json
    """
    from privmigrate.invite import ledger_store
    from privmigrate.ledger import open_ledger
    from privmigrate.masking import mask_phone

    with open_ledger(workspace(workspace_dir, must_exist=True).state_db) as conn:
        frame = ledger_store.suppressions_frame(conn, _channel(channel) if channel else None)
    if not full:
        frame["phone"] = mask_phone(frame["phone"])
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    if as_json:
        emit_json({"count": len(records), "suppressions": records})
        return
    for r in records:
        stdout.print("\t".join(str(r[k] or "") for k in
                               ("phone", "channel", "reason", "source", "created_at")))
    stderr.print(f"{len(records)} suppressed")


@suppress_app.command("remove")
@handle_errors
def remove(
    phones: list[str] = typer.Argument(..., metavar="PHONE",
                                       help="Mobile numbers to take off the list."),
    channel: str | None = typer.Option(None, "--channel", metavar="CHANNEL",
                                       help="Only this channel's entry."),
    workspace_dir: Path | None = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Remove numbers from the suppression list (e.g. a customer opted in again).

    Example: privmigrate suppress remove 13800000001 --channel sms
    """
    from privmigrate.invite import ledger_store
    from privmigrate.invite.replies import normalise_phones
    from privmigrate.ledger import open_ledger

    good, bad = normalise_phones(phones)
    with open_ledger(workspace(workspace_dir, must_exist=True).state_db) as conn:
        removed = ledger_store.remove_suppressions(conn, good,
                                                   _channel(channel) if channel else None)
    _report({"removed": removed, "invalid": bad}, as_json,
            f"removed {removed} suppression entr{'y' if removed == 1 else 'ies'}")


def register(app: typer.Typer) -> None:
    app.add_typer(suppress_app, name="suppress")
