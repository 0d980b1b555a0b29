"""A tiny progress protocol so the core can report long work without importing rich."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """What long-running library code calls; the CLI plugs a rich progress bar in."""

    def start(self, label: str, total: int | None = None) -> None: ...

    def advance(self, amount: int = 1) -> None: ...

    def finish(self) -> None: ...


class NullProgress:
    """Progress that shows nothing (tests, cron, --json)."""

    def start(self, label: str, total: int | None = None) -> None:
        pass

    def advance(self, amount: int = 1) -> None:
        pass

    def finish(self) -> None:
        pass


NULL_PROGRESS = NullProgress()
