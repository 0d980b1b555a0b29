"""Tencent Ads (广点通) Marketing API v3.0 client for customer-file audiences.

Calls: custom_audiences/add (JSON, type CUSTOMER_FILE), custom_audiences/get,
custom_audience_files/add (multipart: account_id, audience_id, user_id_type, operation_type,
file), custom_audience_files/get. ``access_token``, ``timestamp`` and ``nonce`` go in the
query string of every call. Responses are ``{code, message, message_cn, data}``; code 0 is
success. See docs/audience.md and ../shared/reference/ad-platforms.md §1.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from privmigrate.channels.http import (
    ClientOwner,
    TransientError,
    json_envelope,
    make_client,
    request_once,
    retried_or_refused,
)
from privmigrate.channels.outcomes import PUSH_AGAIN, OutcomeUnknown, RemoteRefused, TokenError

RATE_LIMIT_CODES = frozenset({11008, 11016, 11017, 11018, 11019})
SYSTEM_CODES = frozenset({10000, 10001, *range(30000, 30100)})
TOKEN_CODES = frozenset({11000, 11002, 11004, 11005, 11012})
REFRESH_HELP = (
    "get a new access token with GET {base}/oauth/token?client_id=…&client_secret=…"
    "&grant_type=refresh_token&refresh_token=… and export it as {env} "
    "(a refresh token that has expired too, code 11012, needs the advertiser to authorise "
    "the app again); see docs/audience.md \"Tokens\""
)
PAGE_SIZE = 100


class TencentAdsClient(ClientOwner):
    """The four calls a customer-file audience needs, with the documented retry rules."""

    def __init__(
        self,
        base_url: str,
        token: str,
        account_id: str,
        *,
        token_env: str = "PRIVMIGRATE_TENCENT_ADS_TOKEN",
        transport: httpx.BaseTransport | None = None,
        timeout: float | httpx.Timeout = httpx.Timeout(120.0, connect=10.0),
        attempts: int = 5,
        sleep: Callable[[float], Any] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.account_id = account_id
        self._token_env = token_env
        self._client = make_client(self.base_url, timeout=timeout, transport=transport)
        self._attempts = attempts
        self._sleep = sleep
        self._clock = clock

    # --- calls ---------------------------------------------------------------------------

    def create_audience(self, name: str, description: str = "") -> str:
        data = self._call("POST", "custom_audiences/add", write=True, json={
            "account_id": self._account(), "name": name, "type": "CUSTOMER_FILE",
            "description": description,
        })
        return str(data["audience_id"])

    def find_audience(self, name: str) -> dict[str, Any] | None:
        """The account's audience called ``name`` (names are unique per account)."""
        for item in self._pages("custom_audiences/get", {}):
            if item.get("name") == name:
                return item
        return None

    def get_audience(self, audience_id: str) -> dict[str, Any]:
        items = list(self._pages("custom_audiences/get", {"audience_id": audience_id}))
        if not items:
            raise RemoteRefused(f"Tencent Ads has no audience {audience_id} in account "
                                f"{self.account_id}; it may have been deleted")
        return items[0]

    def upload_file(self, audience_id: str, user_id_type: str, operation_type: str,
                    path: Path) -> str:
        """custom_audience_files/add; the file's name identifies it in later listings."""
        form = {"account_id": self._account(), "audience_id": str(audience_id),
                "user_id_type": user_id_type, "operation_type": operation_type}

        def files() -> dict[str, Any]:
            return {"file": (path.name, path.open("rb"), "application/zip")}

        data = self._call("POST", "custom_audience_files/add", write=True, data=form,
                          files=files)
        return str(data["custom_audience_file_id"])

    def list_files(self, audience_id: str) -> list[dict[str, Any]]:
        return list(self._pages("custom_audience_files/get", {"audience_id": audience_id}))

    # --- plumbing ------------------------------------------------------------------------

    def _account(self) -> str:
        if not self.account_id:
            raise RemoteRefused("[audience.tencent] account_id is not set; put the 推广帐号 "
                                "id in privmigrate.toml")
        return str(self.account_id)

    def _pages(self, path: str, params: dict[str, Any]) -> Any:
        page = 1
        while True:
            data = self._call("GET", path, params={
                "account_id": self._account(), "page": page, "page_size": PAGE_SIZE, **params})
            items = data.get("list") or []
            yield from items
            total_pages = (data.get("page_info") or {}).get("total_page") or 1
            if page >= total_pages or not items:
                return
            page += 1

    def _auth(self) -> dict[str, str]:
        return {"access_token": self._token, "timestamp": str(int(self._clock())),
                "nonce": uuid.uuid4().hex}

    def _call(self, method: str, path: str, *, write: bool = False,
              params: dict[str, Any] | None = None, json: Any = None,
              data: dict[str, str] | None = None,
              files: Callable[[], dict[str, Any]] | None = None) -> dict[str, Any]:
        def attempt() -> dict[str, Any]:
            response = request_once(self._client, "Tencent Ads", path, method, f"/{path}",
                                    write=write, unknown=OutcomeUnknown, files=files,
                                    params={**(params or {}), **self._auth()},
                                    json=json, data=data)
            return self._parse(path, response, write)

        return retried_or_refused(attempt, f"Tencent Ads {path}", attempts=self._attempts,
                                  hint=PUSH_AGAIN, sleep=self._sleep)

    def _parse(self, path: str, response: httpx.Response, write: bool) -> dict[str, Any]:
        trace = response.headers.get("X-TSA-Trace-Id", "")
        body = json_envelope(response, f"Tencent Ads {path}", write=write,
                             unknown=OutcomeUnknown, hint="check [audience.tencent] base_url")
        code = int(body.get("code", -1))
        if code == 0:
            return body.get("data") or {}
        message = body.get("message_cn") or body.get("message") or ""
        if code in RATE_LIMIT_CODES or code in SYSTEM_CODES:
            raise TransientError(f"Tencent Ads {path}: code {code} {message}")
        if code in TOKEN_CODES:
            raise TokenError(
                f"Tencent Ads refused the access token (code {code}: {message}); "
                + REFRESH_HELP.format(base=self.base_url, env=self._token_env))
        raise RemoteRefused(
            f"Tencent Ads {path} refused the request: code {code} {message}"
            + (f" (trace id {trace})" if trace else ""), code=code)
