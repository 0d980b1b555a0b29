"""Tencent Cloud SMS: SendSms 2021-01-11, signed with TC3-HMAC-SHA256.

One SendSms call carries ≤200 numbers but a single TemplateParamSet for all of them, so
messages are grouped by (template, signature, parameters); personalised messages end up one
per call. The answer has one SendStatus per number (Code "Ok" or an error), matched back by
number — so a number never appears twice in one call.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx

from privmigrate.channels.http import (
    ClientOwner,
    TransientError,
    make_client,
)
from privmigrate.channels.outcomes import OutcomeUnknown
from privmigrate.channels.sms import (
    SendResult,
    SentLookup,
    SentStatus,
    SmsMessage,
    SmsSettings,
    SmsStopError,
    call_ref,
    call_with_retries,
    not_found,
    plan_calls,
    query_with_retries,
    redact_phones,
    result,
    unknown_results,
    unknown_statuses,
)
from privmigrate.errors import RemoteError

SERVICE = "sms"
ACTION = "SendSms"
API_VERSION = "2021-01-11"
ALGORITHM = "TC3-HMAC-SHA256"
MAX_BATCH = 200  # PhoneNumberSet limit
SESSION_CONTEXT_LIMIT = 512
PULL_BY_PHONE = "PullSmsSendStatusByPhoneNumber"
PULL_LIMIT = 100  # Limit maximum of the Pull* calls
CONTENT_TYPE = "application/json; charset=utf-8"
SIGNED_HEADERS = ("content-type", "host", "x-tc-action")

TRANSIENT_CODES = frozenset({
    "RequestLimitExceeded", "RequestLimitExceeded.UinLimitExceeded",
    "RequestLimitExceeded.GlobalRegionUinLimitExceeded", "RequestLimitExceeded.IPLimitExceeded",
    "InternalError", "InternalError.OtherError", "InternalError.UnknownError",
    "ServiceUnavailable",
})
# The backend may have sent the message before failing: never resend blindly.
UNKNOWN_CODES = frozenset({"InternalError.Timeout", "InternalError.SendAndRecvFail"})
SUPPRESS_CODES = frozenset({
    "FailedOperation.PhoneNumberInBlacklist", "FailedOperation.PhoneNumberOnBlacklist",
})
PER_NUMBER_CODES = SUPPRESS_CODES | frozenset({
    "InvalidParameterValue.IncorrectPhoneNumber",
    "FailedOperation.PhoneNumberParseFail",
    "LimitExceeded.PhoneNumberThirtySecondLimit",
    "LimitExceeded.PhoneNumberOneHourLimit",
    "LimitExceeded.PhoneNumberDailyLimit",
    "LimitExceeded.PhoneNumberSameContentDailyLimit",
    "LimitExceeded.DeliveryFrequencyLimit",
})

_STOP_HINTS: list[tuple[tuple[str, ...], str]] = [
    (("AuthFailure.SignatureExpire", "InternalError.RequestTimeException"),
     "this machine's clock is off by more than 5 minutes: enable NTP time sync"),
    (("AuthFailure",),
     "check PRIVMIGRATE_TENCENTCLOUD_SECRET_ID and PRIVMIGRATE_TENCENTCLOUD_SECRET_KEY (an "
     "enabled API key pair of the account that owns the SMS application)"),
    (("FailedOperation.MarketingSendTimeConstraint",),
     "marketing SMS may only be sent 08:00–22:00 (Beijing time); rerun inside that window"),
    (("FailedOperation.TemplateIncorrectOrUnapproved", "FailedOperation.ContainSensitiveWord",
      "InvalidParameterValue.Template", "InvalidParameterValue.ProhibitedUseUrl",
      "InvalidParameterValue.ContentLengthLimit", "FailedOperation.TemplateParam"),
     "the TemplateId or its parameters do not match an approved template of this SMS "
     "application (parameter count and length, no URLs); fix the template settings"),
    (("FailedOperation.SignatureIncorrectOrUnapproved", "FailedOperation.MissingSignature"),
     "the signature (签名) is not approved for this SMS application; check the console"),
    (("FailedOperation.InsufficientBalanceInSmsPackage", "UnauthorizedOperation",
      "LimitExceeded.AppDailyLimit", "LimitExceeded.DailyLimit"),
     "the Tencent Cloud account or SMS application cannot send now (balance, arrears, "
     "permissions, IP whitelist or the daily limit set in the console); fix it there"),
    (("InvalidParameterValue.SdkAppIdNotExist", "InvalidParameter.AppidAndBizId",
      "FailedOperation.SdkAppIdIsDisabled"),
     "invite.sms.sdk_app_id does not name an enabled SMS application of this account"),
]


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def tc3_canonical_request(*, method: str, headers: Mapping[str, str],
                          signed_headers: Sequence[str], payload: bytes,
                          canonical_uri: str = "/", canonical_query: str = "") -> str:
    """Method, URI, query, ``name:value`` lines (both lowercased), names, SHA-256 of body."""
    names = sorted(h.lower() for h in signed_headers)
    lowered = {k.lower(): v for k, v in headers.items()}
    canonical_headers = "".join(f"{h}:{lowered[h].strip().lower()}\n" for h in names)
    return "\n".join([method.upper(), canonical_uri, canonical_query, canonical_headers,
                      ";".join(names), sha256_hex(payload)])


def tc3_signature(*, secret_key: str, service: str, timestamp: int, canonical_request: str
                  ) -> str:
    """kDate = HMAC("TC3"+key, date) → kService → kSigning("tc3_request") → hex signature."""
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    scope = f"{date}/{service}/tc3_request"
    string_to_sign = "\n".join([ALGORITHM, str(timestamp), scope,
                                sha256_hex(canonical_request.encode())])
    k_date = _hmac(f"TC3{secret_key}".encode(), date)
    k_signing = _hmac(_hmac(k_date, service), "tc3_request")
    return hmac.new(k_signing, string_to_sign.encode(), hashlib.sha256).hexdigest()


def tc3_authorization(*, secret_id: str, service: str, timestamp: int,
                      signed_headers: Sequence[str], signature: str) -> str:
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    names = ";".join(sorted(h.lower() for h in signed_headers))
    return (f"{ALGORITHM} Credential={secret_id}/{date}/{service}/tc3_request, "
            f"SignedHeaders={names}, Signature={signature}")


def _classify(code: str) -> str:
    """accepted | failed | unknown | stop, for one number's SendStatus code."""
    if code == "Ok":
        return "accepted"
    if code in UNKNOWN_CODES:
        return "unknown"
    if code in PER_NUMBER_CODES:
        return "failed"
    return "stop"


class TencentSmsProvider(ClientOwner):
    """SMS through Tencent Cloud SendSms; one result per message, in input order."""

    name = "tencent"
    max_batch = MAX_BATCH
    params_per_call = True  # one TemplateParamSet per call: personalised texts go one per call

    def __init__(self, settings: SmsSettings, *, secret_id: str, secret_key: str,
                 transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], Any] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        if not settings.sdk_app_id:
            raise SmsStopError("Tencent Cloud SMS needs invite.sms.sdk_app_id (the SDKAppID "
                               "from the SMS console, 应用管理)")
        self.settings = settings
        self._secret_id = secret_id
        self._secret_key = secret_key
        self._sleep = sleep
        self._clock = clock
        self._client = make_client(settings.base_url, timeout=httpx.Timeout(settings.timeout),
                                   transport=transport)

    def send(self, messages: Sequence[SmsMessage]) -> list[SendResult]:
        """Send in calls of ≤200 distinct numbers sharing template, signature and params."""
        done: dict[int, SendResult] = {}

        def same_text(m: SmsMessage) -> tuple[str, str, tuple[str, ...]]:
            return (m.template_code, m.sign_name, tuple(m.params.values()))

        try:
            for indices in plan_calls(messages, same_text, MAX_BATCH, unique_phones=True):
                self._send_call([messages[i] for i in indices], indices, done)
        except SmsStopError as exc:
            exc.results = [done[i] for i in sorted(done)] + exc.results
            raise
        return [done[i] for i in range(len(messages))]

    def _send_call(self, call: list[SmsMessage], indices: list[int],
                   done: dict[int, SendResult]) -> None:
        first = call[0]
        body: dict[str, Any] = {
            "PhoneNumberSet": [f"+86{m.phone}" for m in call],
            "SmsSdkAppId": self.settings.sdk_app_id,
            "TemplateId": first.template_code,
            "SignName": first.sign_name,
            "TemplateParamSet": list(first.params.values()),
            "SessionContext": _session_context(call),
        }
        try:
            response = self._call(body)
        except OutcomeUnknown as exc:
            done.update(zip(indices, unknown_results(call, exc), strict=True))
            return
        error = response.get("Error")
        if isinstance(error, dict):
            self._request_error(call, indices, done, str(error.get("Code")),
                                str(error.get("Message") or ""))
            return
        self._map_statuses(call, indices, done, response.get("SendStatusSet") or [])

    def look_up(self, lookups: Sequence[SentLookup], now: datetime) -> list[SentStatus]:
        """PullSmsSendStatusByPhoneNumber per number, matched on SessionContext.

        Tencent lists a message there once its carrier receipt came back (ReportStatus
        SUCCESS / FAIL), so one missing ``listing_grace`` after its send is taken as never
        received; before that its outcome stays unknown.
        """
        by_phone: dict[str, list[SentLookup]] = {}
        for lookup in lookups:
            by_phone.setdefault(lookup.phone, []).append(lookup)
        out: list[SentStatus] = []
        for phone, wanted in by_phone.items():
            begin = int(min(w.sent_at for w in wanted).timestamp()) - 60
            end = int(now.timestamp()) + 60
            try:
                records = self._receipts(phone, begin, end)
            except (RemoteError, OutcomeUnknown) as exc:
                out += unknown_statuses(wanted, f"QUERY_FAILED {type(exc).__name__}")
                continue
            pool: dict[str, list[dict[str, Any]]] = {}
            for record in records:
                pool.setdefault(str(record.get("SessionContext") or ""), []).append(record)
            for lookup in wanted:
                found = pool.get(lookup.request_id[: SESSION_CONTEXT_LIMIT - 1]) or []
                if not found:
                    out.append(not_found(lookup, now, self.settings.listing_grace))
                    continue
                record = found.pop(0)
                delivered = str(record.get("ReportStatus")).upper() == "SUCCESS"
                received = record.get("UserReceiveTime")
                out.append(SentStatus(
                    lookup.message_id, "delivered" if delivered else "undelivered",
                    str(record.get("Description") or record.get("ReportStatus") or "")[:64],
                    str(record.get("SerialNo") or "") or None,
                    datetime.fromtimestamp(int(received), UTC).isoformat()
                    if str(received or "").isdigit() else None))
        return out

    def _receipts(self, phone: str, begin: int, end: int) -> list[dict[str, Any]]:
        """Every receipt of ``phone`` between ``begin`` and ``end`` (pages of 100)."""
        records: list[dict[str, Any]] = []
        for offset in range(0, 20 * PULL_LIMIT, PULL_LIMIT):
            answer = self._read(PULL_BY_PHONE, {
                "BeginTime": begin, "EndTime": end, "Offset": offset, "Limit": PULL_LIMIT,
                "PhoneNumber": f"+86{phone}", "SmsSdkAppId": self.settings.sdk_app_id})
            error = answer.get("Error")
            if isinstance(error, dict):
                raise RemoteError(f"Tencent Cloud {PULL_BY_PHONE}: {error.get('Code')} "
                                  f"{redact_phones(str(error.get('Message') or ''))!r}")
            items = [i for i in answer.get("PullSmsSendStatusSet") or [] if isinstance(i, dict)]
            records += items
            if len(items) < PULL_LIMIT:
                break
        return records

    def _read(self, action: str, body: dict[str, Any]) -> dict[str, Any]:
        payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        return query_with_retries(
            lambda: self._check(self._client.send(self._signed_request(payload, action))),
            label=f"Tencent Cloud {action}", attempts=self.settings.max_attempts,
            sleep=self._sleep)

    def _request_error(self, call: list[SmsMessage], indices: list[int],
                       done: dict[int, SendResult], code: str, detail: str) -> None:
        kind = _classify(code)
        if kind == "stop":
            raise self._stop(code, detail, call[0])
        if kind == "failed" and len(call) > 1:
            # A refusal about one number sent nothing: find it by sending one by one.
            for index, message in zip(indices, call, strict=True):
                self._send_call([message], [index], done)
            return
        status = "unknown" if kind == "unknown" else "failed"
        for index, message in zip(indices, call, strict=True):
            done[index] = result(message, status, code, detail,
                                 suppress=code in SUPPRESS_CODES)

    def _map_statuses(self, call: list[SmsMessage], indices: list[int],
                      done: dict[int, SendResult], statuses: list[dict[str, Any]]) -> None:
        by_phone = {_mainland(str(s.get("PhoneNumber", ""))): s for s in statuses}
        stop: tuple[str, str] | None = None
        for index, message in zip(indices, call, strict=True):
            status = by_phone.get(message.phone)
            if status is None:
                done[index] = result(message, "unknown", "NO_STATUS",
                                     "the answer had no SendStatus for this number")
                continue
            code, detail = str(status.get("Code")), str(status.get("Message") or "")
            kind = _classify(code)
            if kind == "stop":
                stop = stop or (code, detail)
                kind = "failed"
            done[index] = result(message, kind, code, detail,  # type: ignore[arg-type]
                                 status.get("SerialNo") or None,
                                 suppress=code in SUPPRESS_CODES)
        if stop:
            raise self._stop(*stop, call[0])

    def _call(self, body: dict[str, Any]) -> dict[str, Any]:
        payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()

        def attempt() -> dict[str, Any]:
            return self._check(self._client.send(self._signed_request(payload)))

        return call_with_retries(attempt, provider="Tencent Cloud",
                                 attempts=self.settings.max_attempts, sleep=self._sleep)

    def _signed_request(self, payload: bytes, action: str = ACTION) -> httpx.Request:
        timestamp = int(self._clock())
        headers = {
            "Accept": "application/json",
            "Content-Type": CONTENT_TYPE,
            "X-TC-Action": action,
            "X-TC-Version": API_VERSION,
            "X-TC-Timestamp": str(timestamp),
            "X-TC-Region": self.settings.region,
        }
        request = self._client.build_request("POST", "/", content=payload, headers=headers)
        canonical = tc3_canonical_request(
            method="POST", headers={**headers, "host": request.headers["host"]},
            signed_headers=SIGNED_HEADERS, payload=payload)
        signature = tc3_signature(secret_key=self._secret_key, service=SERVICE,
                                  timestamp=timestamp, canonical_request=canonical)
        request.headers["Authorization"] = tc3_authorization(
            secret_id=self._secret_id, service=SERVICE, timestamp=timestamp,
            signed_headers=SIGNED_HEADERS, signature=signature)
        return request

    @staticmethod
    def _check(response: httpx.Response) -> dict[str, Any]:
        """The ``Response`` object; TransientError / OutcomeUnknown for what must not be mapped.

        A 2xx without a readable ``Response`` (empty, XML, a proxy's page) may follow an
        accepted send: an unknown outcome, never a refusal that frees the rows to resend.
        """
        status = response.status_code
        if status == 504:
            raise OutcomeUnknown("the gateway timed out after the request was sent",
                                 code="HTTP_504")
        if status in (500, 502, 503):
            raise TransientError(f"HTTP {status}")
        try:
            body = response.json()
        except ValueError:
            body = None
        answer = body.get("Response") if isinstance(body, dict) else None
        if not isinstance(answer, dict) and 200 <= status < 300:
            raise OutcomeUnknown(
                f"HTTP {status} without a readable Response object "
                f"({response.headers.get('content-type') or 'no content type'})",
                code="UNREADABLE_ANSWER")
        if status != 200 or not isinstance(answer, dict):
            raise SmsStopError(
                f"Tencent Cloud SMS answered HTTP {status} without a Response object; check "
                "invite.sms.endpoint (expected https://sms.tencentcloudapi.com)"
            )
        error = answer.get("Error")
        if isinstance(error, dict):
            code = str(error.get("Code"))
            if code in TRANSIENT_CODES:
                raise TransientError(code)
        return answer

    def _stop(self, code: str, detail: str, message: SmsMessage) -> SmsStopError:
        hint = next((h for prefixes, h in _STOP_HINTS if code.startswith(prefixes)),
                    "fix the account, template or signature setting it names")
        return SmsStopError(
            f"Tencent Cloud SMS refused the send (TemplateId {message.template_code}, signature "
            f"{message.sign_name}): {code} {redact_phones(detail)!r}; {hint}. Nothing after "
            "this call was sent; rerun once fixed"
        )


def _session_context(call: Sequence[SmsMessage]) -> str:
    """Our request id when the call has one (receipts echo it back as SessionContext)."""
    if len({m.request_id for m in call}) == 1 and call[0].request_id:
        return call[0].request_id[: SESSION_CONTEXT_LIMIT - 1]
    return call_ref(call, SESSION_CONTEXT_LIMIT)


def _mainland(phone: str) -> str:
    """``+8613800000000`` → ``13800000000`` (the form SmsMessage uses)."""
    for prefix in ("+86", "0086", "86"):
        if phone.startswith(prefix) and len(phone) == len(prefix) + 11:
            return phone[len(prefix):]
    return phone
