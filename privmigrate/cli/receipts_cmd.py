"""`privmigrate receipts import`: delivery-receipt (回执) reports → delivered / undelivered."""

from __future__ import annotations

from pathlib import Path

import typer

from privmigrate.cli.common import (
    JsonOption,
    WorkspaceOption,
    emit_json,
    handle_errors,
    stderr,
    workspace,
)

receipts_app = typer.Typer(
    help="Delivery receipts of sent SMS: which messages reached the phone.\n\n"
         "Example: privmigrate receipts import smsreport.json",
    no_args_is_help=True,
)


@receipts_app.command("import")
@handle_errors
def import_(
    paths: list[Path] = typer.Argument(..., metavar="FILE",
                                       help="Receipt reports (json, csv, xlsx)."),
    workspace_dir: Path | None = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Import delivery-receipt reports (Aliyun SmsReport / SMS log export, Tencent
    PullSmsSendStatus / receipt callback, console send-record exports): the SMS invitations
    they name become delivered or undelivered, and an unknown one the report lists becomes
    accepted. Rows are matched by number and request id (OutId / SessionContext) or the
    provider's id (BizId / SerialNo); rows of other messages are counted and ignored.

    Example: privmigrate receipts import aliyun_smsreport.json tencent_pull.json
    """
    import os

    from privmigrate.invite.receipts import apply_receipts, read_receipts, sent_phones
    from privmigrate.invite.window import NOW_ENV, resolve_now
    from privmigrate.ledger import open_ledger

    ws = workspace(workspace_dir, must_exist=True)
    now = resolve_now(os.environ.get(NOW_ENV))
    reports = [(path, read_receipts(path)) for path in paths]  # every file readable first
    out = []
    with ws.lock("invite"), open_ledger(ws.state_db) as conn:
        phones = sent_phones(ws, conn)
        for path, receipts in reports:
            got = apply_receipts(conn, receipts, phones, now)
            out.append({"file": str(path), **got.__dict__})
    if as_json:
        emit_json({"files": out})
        return
    for item in out:
        stderr.print(f"{Path(item['file']).name}: {item['rows']} rows, {item['matched']} "
                     f"matched — delivered {item['delivered']}, undelivered "
                     f"{item['undelivered']}, accepted {item['accepted']}; "
                     f"{item['unmatched']} not sent by privmigrate or already settled")


def register(app: typer.Typer) -> None:
    app.add_typer(receipts_app, name="receipts")
