"""The privmigrate command line: a thin Typer layer over the library.

Each command lives in its own module with a ``register(app)`` function; this module wires
them up and turns every PrivmigrateError into one ``Error: …`` line and its exit code.
"""

from __future__ import annotations

import sys

import typer

from privmigrate import __version__

app = typer.Typer(
    name="privmigrate",
    help=(
        "Move a brand's past buyers from shop and ERP exports into its private domain.\n\n"
        "Pipeline: load → segment → invite / audience → track → report; `run` does a night.\n\n"
        "Exit codes: 0 ok, 1 bad input or config, 2 usage, 3 partial failure, "
        "4 remote service refused or unreachable, 5 workspace locked by another run."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"privmigrate {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """privmigrate: past buyers → private domain."""


def _register_commands() -> None:
    # NOTE: one import per command module; each adds its commands to `app`.
    from privmigrate.cli import load_cmd

    for module in (load_cmd,):
        module.register(app)

    import importlib

    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"privmigrate.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"privmigrate.cli.{name}":
                raise
            continue
        module.register(app)


# Command modules beyond `load`, registered when present.
COMMAND_MODULES: list[str] = [
    "segment_cmd",
    "invite_cmd",
    "suppress_cmd",
    "receipts_cmd",
    "calls_cmd",
    "audience_cmd",
    "track_cmd",
    "report_cmd",
    "run_cmd",
    "init_cmd",
    "demo_cmd",
]

_register_commands()


def main() -> None:
    """Console-script entry point."""
    sys.exit(app(standalone_mode=True))
