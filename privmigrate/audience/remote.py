"""How an ad platform call can fail, as the push engine needs to tell the cases apart.

- ``TransientError`` (channels.http): refused before doing anything (rate limit, busy);
  retried with backoff inside the client.
- ``OutcomeUnknown``: the request went out and no answer came back (timeout, dropped
  connection, 5xx on a write). It may or may not have been applied, so the engine asks the
  platform before sending it again.
- ``RemoteRefused``: the platform looked at the request and said no (bad file, bad id type).
  Sending it again will not help; the step is recorded as failed.
- ``TokenError``: the access token is missing, expired or invalid; nothing else can work.
"""

from __future__ import annotations

from privmigrate.errors import RemoteError

# What to do when a platform kept failing: pushes record each step, so a rerun resumes.
PUSH_AGAIN = "run the push again later, it resumes where it stopped"


class OutcomeUnknown(RemoteError):
    """The request may or may not have been applied."""


class RemoteRefused(RemoteError):
    """The platform refused this request; repeating it will not help."""

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class TokenError(RemoteError):
    """The access token cannot be used; the message says how to get a new one."""
