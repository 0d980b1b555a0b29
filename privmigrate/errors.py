"""The few error types the library raises, and the documented exit codes.

Adapters raise only PrivmigrateError subclasses; the CLI turns them into one
``Error: …`` line and the exit code they carry, in one place.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Documented exit codes (README, docs/cli.md)."""

    OK = 0
    USER_ERROR = 1  # bad input, bad config, outside the sending window
    USAGE = 2  # wrong options (Typer/Click's own code)
    PARTIAL = 3  # some rows, steps or calls failed; the rest is done
    REMOTE = 4  # a remote service refused or could not be reached
    LOCKED = 5  # another run holds the workspace


class PrivmigrateError(Exception):
    """An expected failure with a message that says what to do."""

    exit_code: ExitCode = ExitCode.USER_ERROR

    def __init__(self, message: str, *, exit_code: ExitCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message


class InputError(PrivmigrateError):
    """A file the user gave cannot be read or used."""


class ConfigError(PrivmigrateError):
    """privmigrate.toml is wrong; the message names the key and the fix."""


class RemoteError(PrivmigrateError):
    """A provider or platform refused, or could not be reached."""

    exit_code = ExitCode.REMOTE


class LockedError(PrivmigrateError):
    """Another privmigrate run holds the workspace lock."""

    exit_code = ExitCode.LOCKED


class PartialFailure(PrivmigrateError):
    """Work finished, but some parts failed; the message says which."""

    exit_code = ExitCode.PARTIAL
