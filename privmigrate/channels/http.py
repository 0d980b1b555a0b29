"""The one httpx client factory and the one tenacity retry policy used by every channel.

Clients retry only what a provider documents as transient (throttling, system busy, 5xx,
connection failures before the request was sent). A timeout after the request was sent
means the outcome is unknown: callers decide whether that may be retried (an idempotent
read may, a send never blindly).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any, Self, TypeVar

import httpx
import tenacity

from privmigrate import __version__
from privmigrate.errors import RemoteError

T = TypeVar("T")

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
USER_AGENT = f"privmigrate/{__version__}"


class TransientError(Exception):
    """A failure worth retrying (rate limit, system busy, 5xx, connect error)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


# NOTE: httpx logs full request URLs at INFO; some APIs (WeCom gettoken) carry secrets in
# the query string and payloads carry phones, so its logger never goes below WARNING.
logging.getLogger("httpx").setLevel(logging.WARNING)
logging.getLogger("httpcore").setLevel(logging.WARNING)


class ClientOwner:
    """Owns an httpx client: ``close()`` it, or use the object in a ``with`` block."""

    _client: httpx.Client

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def json_envelope(
    response: httpx.Response,
    label: str,
    *,
    write: bool,
    unknown: Callable[[str], Exception],
    hint: str,
) -> dict[str, Any]:
    """The JSON body of a platform's answer, after classifying its HTTP status.

    429 is transient; a 5xx is transient for a read but leaves a write's outcome unknown
    (``unknown`` builds that error); a body that is not JSON is a RemoteError with ``hint``.
    """
    if response.status_code == 429:
        raise TransientError(f"{label}: HTTP 429")
    if response.status_code >= 500:
        if write:
            raise unknown(f"{label}: HTTP {response.status_code}")
        raise TransientError(f"{label}: HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError as exc:
        raise RemoteError(
            f"{label}: HTTP {response.status_code} with a body that is not JSON; {hint}"
        ) from exc
    if not isinstance(body, dict):
        raise RemoteError(f"{label}: unexpected answer (not a JSON object); {hint}")
    return body


def request_once(
    client: httpx.Client,
    platform: str,
    path: str,
    method: str,
    url: str,
    *,
    write: bool,
    unknown: Callable[[str], Exception],
    files: Callable[[], dict[str, Any]] | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """One request. A failure to connect is transient; a transport failure after sending
    leaves a write's outcome unknown (``unknown`` builds that error) and a read's transient.
    ``files`` is opened per attempt and closed afterwards."""
    opened = files() if files else None
    try:
        return client.request(method, url, files=opened, **kwargs)
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        raise TransientError(f"cannot connect to {platform}: {exc}") from exc
    except httpx.TransportError as exc:  # sent, then timed out or dropped
        if write:
            raise unknown(f"{platform} {path}: no answer ({type(exc).__name__}); "
                          "the request may have been applied") from exc
        raise TransientError(f"{platform} {path}: {type(exc).__name__}") from exc
    finally:
        for part in (opened or {}).values():
            if isinstance(part, tuple) and hasattr(part[1], "close"):
                part[1].close()


def retried_or_refused(call: Callable[[], T], label: str, *, attempts: int, hint: str,
                       sleep: Callable[[float], Any] | None = None) -> T:
    """``with_retries``; transient failures that outlast the attempts become a RemoteError."""
    try:
        return with_retries(call, attempts=attempts, sleep=sleep)
    except TransientError as exc:
        raise RemoteError(f"{label} kept failing after {attempts} tries ({exc}); {hint}") from exc


def make_client(
    base_url: str,
    *,
    timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
    transport: httpx.BaseTransport | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Client:
    """An httpx client with privmigrate's defaults; pass ``transport`` in unit tests."""
    return httpx.Client(
        base_url=base_url,
        timeout=timeout,
        transport=transport,
        headers={"User-Agent": USER_AGENT, **(headers or {})},
        trust_env=False,  # no proxies from the environment: payloads carry personal data
    )


def _wait(retry_state: tenacity.RetryCallState, base: tenacity.wait.wait_base) -> float:
    exc = retry_state.outcome.exception() if retry_state.outcome else None
    if isinstance(exc, TransientError) and exc.retry_after is not None:
        return min(exc.retry_after, 60.0)
    return base(retry_state)


def _exponential_jitter(initial: float, maximum: float) -> tenacity.wait.wait_base:
    # NOTE: tenacity renamed `initial` to `multiplier` (and warns on the old name).
    params = inspect.signature(tenacity.wait_exponential_jitter.__init__).parameters
    if "multiplier" in params:
        return tenacity.wait_exponential_jitter(multiplier=initial, max=maximum)
    return tenacity.wait_exponential_jitter(initial=initial, max=maximum)


def with_retries(
    call: Callable[[], T],
    *,
    attempts: int = 5,
    initial: float = 0.5,
    maximum: float = 30.0,
    retry_on: tuple[type[BaseException], ...] = (TransientError, httpx.ConnectError),
    sleep: Callable[[float], Any] | None = None,
) -> T:
    """Run ``call`` with exponential backoff and jitter on transient failures.

    After ``attempts`` tries the last exception is re-raised unchanged.
    """
    base = _exponential_jitter(initial, maximum)
    kwargs: dict[str, Any] = {}
    if sleep is not None:
        kwargs["sleep"] = sleep
    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(attempts),
        wait=lambda rs: _wait(rs, base),
        retry=tenacity.retry_if_exception_type(retry_on),
        reraise=True,
        **kwargs,
    )
    return retrying(call)
