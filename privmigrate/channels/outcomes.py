"""The one vocabulary of how a remote call ended, shared by every channel and its callers.

- ``TransientError`` (channels.http): refused before anything was done (rate limit, busy,
  a connection that never opened); retried with backoff inside the client.
- ``OutcomeUnknown``: the request may have reached the provider and no usable answer came
  back (timeout, dropped connection, a 5xx or an unreadable body after a write). It may or
  may not have taken effect, so the caller asks the provider (an SMS query API, a platform
  read-back) before doing it again, and never sends it again blindly.
- ``RemoteRefused``: the provider looked at the request and said no (bad file, bad id type).
  Sending it again will not help.
- ``TokenError``: the access token is missing, expired or invalid; nothing else can work.

SMS clients turn these into one ``SendResult`` per message (``accepted`` / ``failed`` /
``unknown``, channels.sms); ad-platform clients raise them to the push engine (audience/).
"""

from __future__ import annotations

from privmigrate.channels.http import TransientError
from privmigrate.errors import RemoteError

__all__ = ["PUSH_AGAIN", "OutcomeUnknown", "RemoteRefused", "TokenError", "TransientError"]

# What to do when a platform kept failing: pushes record each step, so a rerun resumes.
PUSH_AGAIN = "run the push again later, it resumes where it stopped"


class OutcomeUnknown(RemoteError):
    """The request may or may not have taken effect; ``code`` says why we cannot tell."""

    def __init__(self, message: str, *, code: str = "UNKNOWN") -> None:
        super().__init__(message)
        self.code = code

    @property
    def detail(self) -> str:
        return self.message


class RemoteRefused(RemoteError):
    """The provider refused this request; repeating it will not help."""

    def __init__(self, message: str, *, code: int | str | None = None) -> None:
        super().__init__(message)
        self.code = code


class TokenError(RemoteError):
    """The access token cannot be used; the message says how to get a new one."""
