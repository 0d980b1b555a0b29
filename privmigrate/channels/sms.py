"""The SMS provider interface the invite sender talks to, its settings, and the factory.

Sending is not idempotent at either provider (Aliyun: "国内短信…均不支持幂等"), so the
clients never resend on their own once a request may have reached the provider: a read
timeout or a dropped connection after sending gives ``status="unknown"`` for every message
of that call, and the caller must not send those again before reconciling them (receipts).
Only failures the providers document as transient, or that happen before the request left
this machine, are retried. See docs/sms-providers.md.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol, TypeVar

import httpx

from privmigrate.channels.http import TransientError, with_retries
from privmigrate.channels.outcomes import OutcomeUnknown
from privmigrate.config import Section, env_secret
from privmigrate.errors import ConfigError, RemoteError

T = TypeVar("T")

PROVIDERS = ("aliyun", "tencent")
DEFAULT_BASE_URLS = {
    "aliyun": "https://dysmsapi.aliyuncs.com",
    "tencent": "https://sms.tencentcloudapi.com",
}
DEFAULT_REGIONS = {"aliyun": "cn-hangzhou", "tencent": "ap-guangzhou"}
# Aliyun lists a message in QuerySendDetails when it is submitted (SendStatus 1, 等待回执);
# Tencent's PullSmsSendStatusByPhoneNumber lists it only once the carrier's receipt came
# back, so its absence means "never received" only after receipts have had time to arrive.
# UNCONFIRMED delays (docs/sms-providers.md): set invite.sms.listing_minutes to change them.
DEFAULT_LISTING_MINUTES = {"aliyun": 10.0, "tencent": 120.0}
ALIYUN_KEY_ID_ENV = "PRIVMIGRATE_ALIYUN_ACCESS_KEY_ID"
ALIYUN_KEY_SECRET_ENV = "PRIVMIGRATE_ALIYUN_ACCESS_KEY_SECRET"
TENCENT_SECRET_ID_ENV = "PRIVMIGRATE_TENCENTCLOUD_SECRET_ID"
TENCENT_SECRET_KEY_ENV = "PRIVMIGRATE_TENCENTCLOUD_SECRET_KEY"

Status = Literal["accepted", "failed", "unknown"]


@dataclass(frozen=True)
class SmsMessage:
    """One text to one number, rendered from a provider-approved template."""

    message_id: str  # the ledger's invitation id
    phone: str  # 11-digit mainland mobile
    sign_name: str  # 签名 without 【】
    template_code: str  # provider-approved template code / TemplateId
    params: dict[str, str]  # template variables, ordered as the template uses them
    request_id: str = ""  # ours, recorded before the call; sent as OutId / SessionContext


@dataclass(frozen=True)
class SentLookup:
    """One message whose outcome is unknown, to be looked up at the provider."""

    message_id: str
    phone: str
    request_id: str  # the OutId / SessionContext it was sent with
    sent_at: datetime  # when the request left (timezone-aware)


LookupStatus = Literal["accepted", "delivered", "undelivered", "not_received", "unknown"]


@dataclass(frozen=True)
class SentStatus:
    """What the provider's records say about one looked-up message.

    ``not_received``: the provider has no record of it although it would by now, so it can
    be sent again; ``unknown``: the records cannot tell yet (or could not be read).
    """

    message_id: str
    status: LookupStatus
    code: str  # receipt code (DELIVERED, DELIVRD, an error code) or why it is unknown
    provider_ref: str | None = None  # BizId / SerialNo when the record has one
    receipt_at: str | None = None  # when the receipt says it reached (or failed to) the phone


@dataclass(frozen=True)
class SendResult:
    """What the provider said about one message."""

    message_id: str
    status: Status  # accepted = provider took it; unknown = may or may not have been sent
    code: str  # provider code, e.g. "OK", "isv.MOBILE_NUMBER_ILLEGAL"
    detail: str  # provider's message; never contains the phone number
    provider_ref: str | None  # BizId / SerialNo
    suppress: bool  # blacklisted/unsubscribed: the caller adds the number to the suppression list


class SmsProvider(Protocol):
    """A client that sends SMS batches and reports one result per message, in order."""

    name: str  # "aliyun" | "tencent"
    max_batch: int  # numbers per provider call: 100 Aliyun SendBatchSms, 200 Tencent SendSms

    def send(self, messages: Sequence[SmsMessage]) -> list[SendResult]: ...

    def look_up(self, lookups: Sequence[SentLookup], now: datetime) -> list[SentStatus]:
        """One status per lookup (any order), from the provider's query API."""
        ...


def not_found(lookup: SentLookup, now: datetime, grace: timedelta) -> SentStatus:
    """A message the provider's records do not hold: not received once ``grace`` has passed
    since it was sent (the records would hold it by then), unknown before."""
    if now - lookup.sent_at >= grace:
        return SentStatus(lookup.message_id, "not_received", "NOT_FOUND")
    return SentStatus(lookup.message_id, "unknown", "NOT_YET_LISTED")


def unknown_statuses(lookups: Sequence[SentLookup], code: str) -> list[SentStatus]:
    return [SentStatus(lookup.message_id, "unknown", code) for lookup in lookups]


def new_request_id() -> str:
    """Our id of one provider call: unique, short, free of personal data."""
    return "pm" + uuid.uuid4().hex


class SmsStopError(RemoteError):
    """The provider refused for a reason no retry fixes (account, template, signature, auth,
    balance, clock, or it stayed unreachable): stop the batch.

    ``results`` holds the outcome of every message of this ``send`` that got one before the
    stop (accepted, failed, unknown — in no particular order, match them by message_id).
    Messages not listed were not sent and can be sent again once the cause is fixed.
    """

    def __init__(self, message: str, results: Iterable[SendResult] = ()) -> None:
        super().__init__(message)
        self.results: list[SendResult] = list(results)


# Codes after which sending the same message later may succeed (frequency caps, windows).
DEFER_CODES = frozenset({
    "isv.BUSINESS_LIMIT_CONTROL",
    "LimitExceeded.PhoneNumberThirtySecondLimit",
    "LimitExceeded.PhoneNumberOneHourLimit",
    "LimitExceeded.PhoneNumberDailyLimit",
    "LimitExceeded.PhoneNumberSameContentDailyLimit",
    "LimitExceeded.DeliveryFrequencyLimit",
})


def should_retry_later(result: SendResult) -> bool:
    """A failed message that a later run may send again (it hit a per-number frequency cap)."""
    return result.status == "failed" and result.code in DEFER_CODES


_PHONE_RE = re.compile(r"(?<!\d)(?:\+?86|0086)?1[3-9]\d{9}(?!\d)")


def redact_phones(text: str) -> str:
    """Provider messages sometimes echo the number; keep it out of results and errors."""
    return _PHONE_RE.sub("1**********", text or "")


def call_ref(messages: Sequence[SmsMessage], limit: int) -> str:
    """The trace id sent with a call (OutId / SessionContext): the message ids if they fit."""
    joined = ",".join(m.message_id for m in messages)
    if len(joined.encode()) < limit:
        return joined
    short = f"{messages[0].message_id}..{messages[-1].message_id}+{len(messages)}"
    return short.encode()[: limit - 1].decode(errors="ignore")


def result(message: SmsMessage, status: Status, code: str, detail: str = "",
           ref: str | None = None, *, suppress: bool = False) -> SendResult:
    return SendResult(message.message_id, status, code, redact_phones(detail), ref, suppress)


def unknown_results(messages: Sequence[SmsMessage], exc: OutcomeUnknown) -> list[SendResult]:
    detail = (f"{exc.detail}; the provider may have sent it: it is looked up by its "
              "request id before anything is sent again")
    return [result(m, "unknown", exc.code, detail) for m in messages]


def call_with_retries(send: Callable[[], T], *, provider: str, attempts: int,
                      sleep: Callable[[float], Any] | None) -> T:
    """Run one provider call, retrying only failures that cannot have sent anything.

    ``send`` raises TransientError for documented transient answers and OutcomeUnknown for
    ambiguous ones. Connect failures are retried; a timeout or a dropped connection after the
    request went out becomes OutcomeUnknown. Retries exhausted: SmsStopError.
    """

    def attempt() -> T:
        try:
            return send()
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise TransientError(f"cannot connect ({type(exc).__name__})") from exc

    try:
        return with_retries(attempt, attempts=attempts, sleep=sleep)
    except TransientError as exc:
        raise SmsStopError(
            f"{provider} SMS: still failing after {attempts} attempts ({exc}); nothing more was "
            "sent; check the network and the provider's status page, then rerun"
        ) from exc
    except httpx.TimeoutException as exc:
        raise OutcomeUnknown(f"no answer within the timeout ({type(exc).__name__})",
                             code="TIMEOUT") from exc
    except httpx.TransportError as exc:
        raise OutcomeUnknown(f"connection lost after sending ({type(exc).__name__})",
                             code="CONNECTION_LOST") from exc


def query_with_retries(query: Callable[[], T], *, label: str, attempts: int,
                       sleep: Callable[[float], Any] | None) -> T:
    """Run a provider query (a read: safe to repeat), retrying timeouts and dropped
    connections as well as transient answers; still failing: RemoteError."""
    from privmigrate.channels.http import retried_or_refused

    def attempt() -> T:
        try:
            return query()
        except (OutcomeUnknown, httpx.TransportError) as exc:
            raise TransientError(f"{label}: {type(exc).__name__}") from exc

    return retried_or_refused(attempt, label, attempts=attempts,
                              hint="the outcomes stay unknown until the next run", sleep=sleep)


def plan_calls(messages: Sequence[SmsMessage], key: Callable[[SmsMessage], Any], size: int,
               *, unique_phones: bool) -> list[list[int]]:
    """Indices of ``messages`` per provider call: same ``key`` in a call, at most ``size``.

    Groups come in order of first appearance. With ``unique_phones`` no number appears twice
    in one call (the provider's per-number answers are matched back by number).
    """
    groups: dict[Any, list[int]] = {}
    for index, message in enumerate(messages):
        groups.setdefault(key(message), []).append(index)
    calls: list[list[int]] = []
    for indices in groups.values():
        # The k-th occurrence of a number goes to layer k, so no call holds a number twice.
        layers: list[list[int]] = []
        seen: dict[str, int] = {}
        for index in indices:
            phone = messages[index].phone
            layer = seen.get(phone, 0) if unique_phones else 0
            seen[phone] = layer + 1
            if layer == len(layers):
                layers.append([])
            layers[layer].append(index)
        for layer_indices in layers:
            calls.extend(layer_indices[i:i + size] for i in range(0, len(layer_indices), size))
    return calls


@dataclass
class SmsSettings:
    """``[invite.sms]``: which provider, where it lives, and how patiently to call it."""

    provider: str = "aliyun"
    base_url: str = ""  # empty: the provider's public endpoint
    region: str = ""  # empty: the provider's default region
    sdk_app_id: str | None = None  # Tencent SmsSdkAppId
    timeout: float = 10.0  # seconds per request
    max_attempts: int = 4  # tries per call for transient failures
    # How long after a send the provider's records must list it before its absence means
    # "never received" (0: the provider's default, DEFAULT_LISTING_MINUTES).
    listing_minutes: float = 0.0

    def __post_init__(self) -> None:
        self.base_url = self.base_url or DEFAULT_BASE_URLS.get(self.provider, "")
        self.region = self.region or DEFAULT_REGIONS.get(self.provider, "")
        self.listing_minutes = self.listing_minutes or DEFAULT_LISTING_MINUTES.get(
            self.provider, 60.0)

    @property
    def listing_grace(self) -> timedelta:
        return timedelta(minutes=self.listing_minutes)

    @classmethod
    def from_config(cls, raw: dict[str, Any]) -> SmsSettings:
        section = Section.of(raw, "invite.sms")
        section.unknown_keys(["provider", "endpoint", "base_url", "region", "sdk_app_id",
                              "timeout_seconds", "max_attempts", "listing_minutes"])
        provider = section.choice("provider", PROVIDERS, "aliyun")
        if "endpoint" in section.data and "base_url" in section.data:
            raise section.fail("endpoint", "and base_url say the same thing; keep one")
        url_key = "endpoint" if "endpoint" in section.data else "base_url"
        base_url = section.get(url_key, str, DEFAULT_BASE_URLS[provider]).strip().rstrip("/")
        if not base_url.startswith(("https://", "http://")):
            raise section.fail(url_key, f"must start with https://, got {base_url!r}")
        sdk_app_id = section.get("sdk_app_id", (str, int), "")
        sdk_app_id = str(sdk_app_id).strip() or None
        if provider == "tencent" and sdk_app_id is None:
            raise section.fail("sdk_app_id", "is required for provider = \"tencent\"; copy the "
                               "SDKAppID from the Tencent Cloud SMS console (应用管理)")
        return cls(
            provider=provider,
            base_url=base_url,
            region=section.get("region", str, DEFAULT_REGIONS[provider]),
            sdk_app_id=sdk_app_id,
            timeout=section.number("timeout_seconds", 10.0, lo=0.1, hi=300),
            max_attempts=int(section.number("max_attempts", 4, lo=1, hi=10)),
            listing_minutes=section.number("listing_minutes",
                                           DEFAULT_LISTING_MINUTES[provider], lo=1, hi=72 * 60),
        )


def make_sms_provider(settings: SmsSettings, *, transport: httpx.BaseTransport | None = None,
                      sleep: Callable[[float], Any] | None = None) -> SmsProvider:
    """The configured provider client, with credentials from the environment."""
    if settings.provider == "aliyun":
        from privmigrate.channels.aliyun_sms import AliyunSmsProvider

        return AliyunSmsProvider(
            settings,
            access_key_id=env_secret(ALIYUN_KEY_ID_ENV, "Sending SMS through Aliyun"),
            access_key_secret=env_secret(ALIYUN_KEY_SECRET_ENV, "Sending SMS through Aliyun"),
            transport=transport,
            sleep=sleep,
        )
    if settings.provider == "tencent":
        from privmigrate.channels.tencent_sms import TencentSmsProvider

        return TencentSmsProvider(
            settings,
            secret_id=env_secret(TENCENT_SECRET_ID_ENV, "Sending SMS through Tencent Cloud"),
            secret_key=env_secret(TENCENT_SECRET_KEY_ENV, "Sending SMS through Tencent Cloud"),
            transport=transport,
            sleep=sleep,
        )
    raise ConfigError(f"privmigrate.toml: invite.sms.provider must be one of "
                      f"{', '.join(PROVIDERS)}, got {settings.provider!r}")
