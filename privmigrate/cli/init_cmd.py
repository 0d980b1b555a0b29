"""`privmigrate init`: write a fully commented privmigrate.toml."""

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
from privmigrate.errors import InputError


def register(app: typer.Typer) -> None:
    @app.command("init")
    @handle_errors
    def init(
        force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
        workspace_dir: Path | None = WorkspaceOption,
        as_json: bool = JsonOption,
    ) -> None:
        """Write a fully commented privmigrate.toml (and the inbox folder) to start from.

        Every key is shown with its default and what it does; edit the signature, templates,
        staff accounts and audiences before the first night.

        Example: privmigrate init --workspace /srv/brand
        """
        from privmigrate.sample_config import sample_config_text, validate_config

        ws = workspace(workspace_dir)
        if ws.config_path.exists() and not force:
            raise InputError(f"{ws.config_path} exists; pass --force to overwrite it")
        text = sample_config_text()
        validate_config(text)
        from privmigrate.workspace import private_dir, write_text_atomic

        private_dir(ws.root)
        write_text_atomic(ws.config_path, text)
        private_dir(ws.inbox_dir)
        if as_json:
            emit_json({"config": str(ws.config_path), "inbox": str(ws.inbox_dir)})
        else:
            stderr.print(f"wrote {ws.config_path}; put export files in {ws.inbox_dir}")
