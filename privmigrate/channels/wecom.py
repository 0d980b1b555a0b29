"""WeCom (企业微信) server API client: tokens, customer read-back, 获客助手, app messages.

Endpoints (developer.work.weixin.qq.com): ``gettoken`` (corpid + corpsecret → access_token,
7200 s), ``externalcontact/get_follow_user_list``, ``externalcontact/batch/get_by_user``
(≤100 userids, cursor pagination, limit ≤100), ``externalcontact/customer_acquisition/list_link``
and ``…/customer`` (limit ≤1000), ``message/send`` (an application message to members,
document/path/90236). Every response carries ``errcode``; 0 is success.

``message/send`` is the one write. It is sent with ``enable_duplicate_check`` so that WeCom
drops an identical message within ``duplicate_check_interval`` (≤ 4 h): a retry after a lost
answer cannot reach the member twice.

Error handling:
- 40014 / 42001 / 40082 (invalid or expired token): drop the cached token, fetch a new one,
  repeat the same page (so a token expiring mid-pagination costs one call).
- -1 (system busy), 45009 (API frequency limit), 45033 (concurrency limit), HTTP 429/5xx,
  connection errors and read timeouts: retried with backoff (reads are idempotent).
- Anything else stops with RemoteError (exit 4) naming the errcode and what to check.

The secret and tokens travel in query strings: no message built here contains a URL.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from privmigrate.channels.http import ClientOwner, TransientError, make_client, with_retries
from privmigrate.errors import RemoteError

DEFAULT_BASE_URL = "https://qyapi.weixin.qq.com"
TOKEN_ERRORS = {40014, 42001, 40082}
TRANSIENT_ERRORS = {-1, 45009, 45033}
RATE_LIMIT_ERRORS = {45009, 45033}
MAX_USERIDS = 100
MAX_CONTACTS_PER_PAGE = 100
MAX_ACQUISITION_PER_PAGE = 1000
TOKEN_MARGIN_SECONDS = 300  # refresh a little before WeCom's 7200 s expiry

_HINTS = {
    40001: "the secret is wrong: check PRIVMIGRATE_WECOM_SECRET (the 自建应用 secret)",
    40013: "the corp id is wrong: check PRIVMIGRATE_WECOM_CORP_ID (我的企业 → 企业ID)",
    40091: "the secret is wrong: check PRIVMIGRATE_WECOM_SECRET",
    48002: "the app may not call this API: add it to 客户联系 → 可调用应用 in the admin console",
    48009: "the app may not call this API: add it to 客户联系 → 可调用应用 in the admin console",
    60011: "the app cannot see these members: widen its 可见范围 or list fewer staff",
    60020: "this server's IP is not in the app's 企业可信IP list; add it in the admin console",
    84061: "the member has no customer relationship; check [track.wecom] staff",
    41063: "the 获客链接 does not belong to this app; check [track.wecom] link_ids",
    40056: "the AgentId is wrong: check invite.wecom_add.agent_id (应用管理 → the app)",
    81013: "no recipient is valid: the members must be in the app's 可见范围",
}
TEXTCARD_TITLE_BYTES = 128  # document/path/90236: 标题，不超过128个字节
TEXTCARD_DESCRIPTION_BYTES = 512  # 描述，不超过512个字节
TEXTCARD_URL_BYTES = 2048  # 点击后跳转的链接。最长2048字节
TEXT_CONTENT_BYTES = 2048  # text 消息内容，最长不超过2048个字节
DUPLICATE_CHECK_SECONDS = 4 * 3600  # the longest duplicate_check_interval WeCom allows
ALL_RECIPIENTS_INVALID = 81013


class TokenCache(Protocol):
    """Where access tokens live between runs (the ledger in production)."""

    def get(self, key: str) -> tuple[str, float] | None: ...

    def put(self, key: str, token: str, expires_at: float) -> None: ...

    def drop(self, key: str) -> None: ...


class MemoryTokenCache:
    """A process-local cache (tests, one-off runs)."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[str, float]] = {}

    def get(self, key: str) -> tuple[str, float] | None:
        return self._items.get(key)

    def put(self, key: str, token: str, expires_at: float) -> None:
        self._items[key] = (token, expires_at)

    def drop(self, key: str) -> None:
        self._items.pop(key, None)


@dataclass(frozen=True)
class WeComSettings:
    """Client knobs ([track.wecom] in privmigrate.toml)."""

    base_url: str = DEFAULT_BASE_URL
    timeout_seconds: float = 30.0
    attempts: int = 5
    calls_per_minute: float = 3000.0  # WeCom allows 10,000/min per API per corp
    rate_limit_pause_seconds: float = 20.0


class _TokenExpired(Exception):
    pass


class WeComRefused(RemoteError):
    """WeCom answered with a non-zero errcode that retrying cannot fix."""

    def __init__(self, message: str, errcode: int) -> None:
        super().__init__(message)
        self.errcode = errcode


class WeComClient(ClientOwner):
    """WeCom client; ``transport``/``sleep``/``clock`` are for tests."""

    def __init__(
        self,
        corp_id: str,
        secret: str,
        *,
        settings: WeComSettings | None = None,
        cache: TokenCache | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], Any] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings or WeComSettings()
        self._corp_id, self._secret = corp_id, secret
        self._cache = cache or MemoryTokenCache()
        self._key = hashlib.sha256(f"{corp_id}\0{secret}".encode()).hexdigest()[:32]
        self._sleep, self._clock = sleep, clock
        self._client = make_client(self.settings.base_url, transport=transport,
                                   timeout=self.settings.timeout_seconds)
        self._lock = threading.Lock()
        self._last_call = 0.0
        self.calls = 0  # HTTP requests made (for the summary)
        self.token_refreshes = 0

    # -- the APIs -------------------------------------------------------------------------

    def follow_users(self) -> list[str]:
        """Members with the customer-contact feature (get_follow_user_list)."""
        body = self._api("GET", "/cgi-bin/externalcontact/get_follow_user_list")
        return [str(u) for u in body.get("follow_user") or []]

    def contacts_by_user(self, userids: Sequence[str]) -> Iterator[dict[str, Any]]:
        """Every (customer, member) relationship of ``userids``: flat dicts per follow_info."""
        for start in range(0, len(userids), MAX_USERIDS):
            chunk = list(userids[start:start + MAX_USERIDS])
            cursor = ""
            while True:
                body = self._api("POST", "/cgi-bin/externalcontact/batch/get_by_user",
                                 json={"userid_list": chunk, "cursor": cursor,
                                       "limit": MAX_CONTACTS_PER_PAGE})
                only = chunk[0] if len(chunk) == 1 else None
                for item in body.get("external_contact_list") or []:
                    yield _flatten_contact(item, only)
                cursor = body.get("next_cursor") or ""
                if not cursor:
                    break

    def acquisition_links(self) -> list[str]:
        """Ids of the 获客链接 still valid (customer_acquisition/list_link)."""
        links: list[str] = []
        cursor = ""
        while True:
            body = self._api("POST", "/cgi-bin/externalcontact/customer_acquisition/list_link",
                             json={"limit": 100, "cursor": cursor})
            links.extend(str(x) for x in body.get("link_id_list") or [])
            cursor = body.get("next_cursor") or ""
            if not cursor:
                return links

    def acquisition_customers(self, link_id: str) -> Iterator[dict[str, Any]]:
        """Customers added through one 获客链接: external_userid, userid, chat_status, state."""
        cursor = ""
        while True:
            body = self._api("POST", "/cgi-bin/externalcontact/customer_acquisition/customer",
                             json={"link_id": link_id, "limit": MAX_ACQUISITION_PER_PAGE,
                                   "cursor": cursor})
            for item in body.get("customer_list") or []:
                yield {"link_id": link_id, **item}
            cursor = body.get("next_cursor") or ""
            if not cursor:
                return

    def send_app_message(self, agent_id: int, touser: Sequence[str], msgtype: str,
                         content: dict[str, Any]) -> dict[str, Any]:
        """Send one application message (``text`` or ``textcard``); returns WeCom's answer.

        The answer's ``invaliduser`` lists members WeCom could not reach ("a|b").
        """
        if msgtype == "textcard":
            _check_bytes(content, "title", TEXTCARD_TITLE_BYTES)
            _check_bytes(content, "description", TEXTCARD_DESCRIPTION_BYTES)
            _check_bytes(content, "url", TEXTCARD_URL_BYTES)
        elif msgtype == "text":
            _check_bytes(content, "content", TEXT_CONTENT_BYTES)
        else:
            raise ValueError(f"unsupported msgtype {msgtype!r}")
        body = {"touser": "|".join(touser), "msgtype": msgtype, "agentid": int(agent_id),
                msgtype: content, "safe": 0, "enable_duplicate_check": 1,
                "duplicate_check_interval": DUPLICATE_CHECK_SECONDS}
        try:
            return self._api("POST", "/cgi-bin/message/send", json=body)
        except WeComRefused as exc:
            if exc.errcode != ALL_RECIPIENTS_INVALID or len(touser) != 1:
                raise
            return {"errcode": exc.errcode, "invaliduser": touser[0]}  # one member: say who

    # -- plumbing -------------------------------------------------------------------------

    def access_token(self, *, fresh: bool = False) -> str:
        """A valid token: the cached one unless ``fresh`` or near expiry."""
        cached = None if fresh else self._cache.get(self._key)
        if cached and cached[1] - TOKEN_MARGIN_SECONDS > self._clock():
            return cached[0]
        body = self._retrying(lambda: self._request(
            "GET", "/cgi-bin/gettoken", params={"corpid": self._corp_id,
                                                "corpsecret": self._secret}), "gettoken")
        token = str(body.get("access_token") or "")
        if not token:
            raise RemoteError("WeCom gettoken returned no access_token; try again later")
        expires = self._clock() + float(body.get("expires_in") or 7200)
        self._cache.put(self._key, token, expires)
        return token

    def _api(self, method: str, path: str, json: dict[str, Any] | None = None) -> dict[str, Any]:
        refreshed = 0
        while True:
            token = self.access_token(fresh=refreshed > 0)
            try:
                return self._retrying(lambda t=token: self._request(
                    method, path, params={"access_token": t}, json=json), path)
            except _TokenExpired:
                self._cache.drop(self._key)
                self.token_refreshes += 1
                refreshed += 1
                if refreshed > 2:
                    raise RemoteError(
                        f"WeCom {path}: a freshly issued access token was refused three times; "
                        "check the corp id and secret, then run track again") from None

    def _retrying(self, call: Callable[[], dict[str, Any]], what: str) -> dict[str, Any]:
        try:
            return with_retries(
                call, attempts=self.settings.attempts, sleep=self._sleep,
                retry_on=(TransientError, httpx.TransportError))
        except TransientError as exc:
            raise RemoteError(
                f"WeCom {what}: still failing after {self.settings.attempts} tries ({exc}); "
                "WeCom is busy or rate-limiting: run track again later") from None
        except httpx.TimeoutException:
            raise RemoteError(
                f"WeCom {what}: no answer within {self.settings.timeout_seconds:g} s after "
                f"{self.settings.attempts} tries; check the network or raise "
                "track.wecom.timeout_seconds") from None
        except httpx.TransportError as exc:
            raise RemoteError(
                f"WeCom {what}: cannot reach {self.settings.base_url} "
                f"({type(exc).__name__}); check the network and track.wecom.base_url") from None

    def _pace(self) -> None:
        with self._lock:
            gap = 60.0 / self.settings.calls_per_minute if self.settings.calls_per_minute else 0
            wait = self._last_call + gap - time.monotonic()
            if wait > 0:
                self._sleep(wait)
            self._last_call = time.monotonic()

    def _request(self, method: str, path: str, *, params: dict[str, str],
                 json: dict[str, Any] | None = None) -> dict[str, Any]:
        self._pace()
        self.calls += 1
        response = self._client.request(method, path, params=params, json=json)
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientError(f"HTTP {response.status_code}")
        if response.status_code != 200:
            raise RemoteError(f"WeCom {path}: HTTP {response.status_code}; "
                              "check track.wecom.base_url")
        try:
            body = response.json()
        except ValueError:
            raise TransientError("the answer was not JSON") from None
        if not isinstance(body, dict):
            raise TransientError("the answer was not a JSON object")
        code = int(body.get("errcode") or 0)
        if code == 0:
            return body
        if code in TOKEN_ERRORS and path != "/cgi-bin/gettoken":
            raise _TokenExpired()
        if code in TRANSIENT_ERRORS:
            pause = self.settings.rate_limit_pause_seconds if code in RATE_LIMIT_ERRORS else None
            raise TransientError(f"errcode {code}", retry_after=pause)
        hint = _HINTS.get(code, "see WeCom's global error codes (全局错误码) for what to fix")
        errmsg = str(body.get("errmsg") or "").split(",")[0][:120]
        raise WeComRefused(f"WeCom {path} refused: errcode {code} ({errmsg}); {hint}", code)


def _check_bytes(content: dict[str, Any], key: str, limit: int) -> None:
    """WeCom truncates silently; we refuse instead, so the member never reads half a line."""
    size = len(str(content.get(key, "")).encode())
    if size > limit:
        raise ValueError(f"message {key} is {size} bytes; WeCom allows {limit}")


def _flatten_contact(item: dict[str, Any], userid: str | None) -> dict[str, Any]:
    """One relationship; ``userid`` fills follow_info without one (seen in the wild)."""
    contact = item.get("external_contact") or {}
    follow = item.get("follow_info") or {}
    mobiles = follow.get("remark_mobiles") or []
    return {
        "external_userid": contact.get("external_userid"),
        "userid": follow.get("userid") or userid,
        "createtime": follow.get("createtime"),
        "state": follow.get("state"),
        "remark_mobiles": ";".join(str(m) for m in mobiles) if isinstance(mobiles, list)
        else str(mobiles),
        "add_way": follow.get("add_way"),
    }
