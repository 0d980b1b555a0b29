"""What every command shares: options, the error boundary, JSON and terminal output."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress

from privmigrate.errors import ExitCode, InputError, PrivmigrateError
from privmigrate.progress import NULL_PROGRESS, Progress
from privmigrate.workspace import WORKSPACE_ENV, Workspace

F = TypeVar("F", bound=Callable[..., Any])

# Piped or in cron, rich would assume 80 columns and squeeze tables; use a wider page.
# markup=False: file names, buyer names and workspace paths may contain [brackets] that rich
# would otherwise swallow as styles; the few styled lines pass markup=True and escape().
stderr = Console(stderr=True, highlight=False, soft_wrap=True, markup=False,
                 width=None if sys.stderr.isatty() else 160)
stdout = Console(highlight=False, soft_wrap=True, markup=False,
                 width=None if sys.stdout.isatty() else 160)

WorkspaceOption = typer.Option(
    None,
    "--workspace",
    "-w",
    metavar="DIR",
    envvar=WORKSPACE_ENV,
    help="Workspace folder (default: the current directory).",
    show_default=False,
)
AsOfOption = typer.Option(
    None, "--as-of", metavar="DATE",
    help="The date the figures are for (YYYY-MM-DD; default today, Asia/Shanghai). Events "
    "dated after it are never counted.", show_default=False)
JsonOption = typer.Option(
    False, "--json", help="Print one JSON object on stdout instead of tables."
)


def workspace(path: Path | None, *, must_exist: bool = False) -> Workspace:
    """The chosen workspace; ``must_exist`` for every command but `init`, `demo` and `load`
    (a mistyped --workspace must not silently become a new, empty workspace, nor get a lock
    file that would make it look like one)."""
    ws = Workspace.at(path)
    if must_exist and not ws.is_workspace():
        raise InputError(f"no workspace at {ws.root} (no privmigrate.toml, state.db or "
                         f"data/); check --workspace (or {WORKSPACE_ENV}), or "
                         "create one with `privmigrate init` or `privmigrate load`")
    return ws


def output_file(path: Path | None, option: str = "--output") -> Path | None:
    """An output file the user named: its folder must exist (a failed or mistyped command
    creates no folder)."""
    if path is None:
        return None
    folder = path.expanduser().resolve().parent
    if not folder.is_dir():
        raise InputError(f"{option} {path}: the folder {folder} does not exist; create it "
                         "first or choose another path")
    return path


def parse_day(value: str | None, option: str) -> date | None:
    """A YYYY-MM-DD option value (None when not given); a bad one is a user error, exit 1,
    worded the same for every command."""
    if value is None or value == "":
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise InputError(f"{option} {value!r} is not a date; write it as YYYY-MM-DD") from None


def fail(message: str, code: ExitCode = ExitCode.USER_ERROR) -> typer.Exit:
    """Print ``Error: message`` on stderr and return the Exit to raise."""
    stderr.print(f"[bold red]Error:[/] {escape(message)}", markup=True, highlight=False)
    return typer.Exit(int(code))


def handle_errors(func: F) -> F:
    """The one place PrivmigrateError becomes a message and an exit code (no traceback)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except PrivmigrateError as exc:
            if kwargs.get("as_json"):  # scripts read stdout: say it there too
                emit_json({"error": exc.message, "exit_code": int(exc.exit_code)})
            raise fail(exc.message, exc.exit_code) from None
        except KeyboardInterrupt:
            raise fail(
                "interrupted; what was committed is kept, rerun to resume", ExitCode.PARTIAL
            ) from None

    return wrapper  # type: ignore[return-value]


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def emit_json(payload: Any) -> None:
    """One JSON object on stdout (for scripts)."""
    sys.stdout.write(json.dumps(payload, ensure_ascii=False, default=_default, indent=2) + "\n")
    sys.stdout.flush()


def interactive() -> bool:
    """True when a person is watching (a TTY and not CI/cron)."""
    return sys.stderr.isatty() and not os.environ.get("CI")


class RichProgressAdapter:
    """Plugs a rich progress bar into the library's Progress protocol."""

    def __init__(self) -> None:
        self._bar = RichProgress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=stderr,
            transient=True,
        )
        self._task: Any = None
        self._bar.start()

    def start(self, label: str, total: int | None = None) -> None:
        if self._task is not None:
            self._bar.remove_task(self._task)
        self._task = self._bar.add_task(label, total=total)

    def advance(self, amount: int = 1) -> None:
        if self._task is not None:
            self._bar.advance(self._task, amount)

    def finish(self) -> None:
        """This piece of work is done; the bar stays up for the next (``close`` ends it)."""
        if self._task is not None:
            self._bar.remove_task(self._task)
            self._task = None

    def close(self) -> None:
        self._bar.stop()


@contextmanager
def progress(enabled: bool = True) -> Iterator[Progress]:
    """A rich progress bar on a terminal, nothing in cron, CI or with --json."""
    if not (enabled and interactive()):
        yield NULL_PROGRESS
        return
    adapter = RichProgressAdapter()
    try:
        yield adapter
    finally:
        adapter.close()
