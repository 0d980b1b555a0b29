"""`privmigrate demo`: a synthetic brand, one whole night, end to end."""

from __future__ import annotations

from pathlib import Path

import typer

from privmigrate.cli.common import JsonOption, emit_json, handle_errors, progress, stderr


def register(app: typer.Typer) -> None:
    @app.command("demo")
    @handle_errors
    def demo(
        workspace_dir: Path = typer.Option(
            Path("privmigrate-demo"), "--workspace", "-w", metavar="DIR",
            help="Folder for the demo workspace (created; must be empty or a previous demo).",
        ),
        as_json: bool = JsonOption,
    ) -> None:
        """Create a realistic synthetic workspace and run a whole night on it.

        Writes one export per platform (淘宝, 京东, 有赞, 抖店, 拼多多, 视频号, ERPs; a few
        thousand overlapping synthetic buyers), then loads, segments, plans the night's
        invitations, builds the audience packages of all four ad platforms, reads back
        simulated WeCom adds, and writes the morning workbook — whose path it prints last.

        Example: privmigrate demo --workspace demo-workspace
        """
        from privmigrate.cli.run_cmd import print_steps
        from privmigrate.cli.segment_cmd import print_summary as print_segments
        from privmigrate.clock import shanghai_now
        from privmigrate.demo import is_demo_workspace, run_demo
        from privmigrate.errors import InputError
        from privmigrate.workspace import Workspace

        ws = Workspace.at(workspace_dir)
        if not is_demo_workspace(ws):
            raise InputError(f"{ws.root} is not empty and not a demo workspace (the demo would "
                             "overwrite its privmigrate.toml and data); choose another "
                             "--workspace")
        now = shanghai_now()
        with progress(not as_json) as bar:
            result = run_demo(ws, now, bar)
        if as_json:
            emit_json(result)
            return
        print_steps(result["night"])
        seg = next((s for s in result["night"]["steps"] if s["step"] == "segment"), None)
        if seg and isinstance(seg["detail"], dict) and "segments" in seg["detail"]:
            print_segments(seg["detail"])
        for a in result["audiences"]:
            stderr.print(f"audience package: {a.get('platform')} → {a.get('path') or a}")
        stderr.print(f"SMS sending simulated for the demo: {result['sms_simulated']} messages "
                     "marked accepted (a real night sends with `privmigrate invite --send`)")
        if result["calls"]:
            c = result["calls"]
            stderr.print(f"Call outcomes imported for the demo: {c['calls']} calls recorded "
                         "(a real night: `privmigrate calls import` the agents' calls.xlsx)")
        if result["track"]:
            t = result["track"]
            stderr.print(f"WeCom adds read back: {t.get('conversions_new', 0)} new conversions, "
                         f"{t.get('attributed_new', 0)} attributed to an invitation")
            moved = t.get("wecom_add") or {}
            stderr.print(f"staff adds by phone (simulated for the demo, ids wmDEMO…): "
                         f"{moved.get('accepted', 0)} seen — per account in 客服绩效, lists in "
                         "batches/<night>/wecom_add.xlsx")
        typer.echo(result["report"]["path"])
