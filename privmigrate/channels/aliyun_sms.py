"""Aliyun SMS (dysmsapi 2017-05-25): SendBatchSms for batches, SendSms for single numbers.

Requests are signed with ACS3-HMAC-SHA256 (signature V3), which Aliyun recommends over the
older RPC HMAC-SHA1 signature. Parameters are placed as the official SDK places them:
SendSms entirely in the query string; SendBatchSms with TemplateCode/OutId in the query and
the JSON arrays in a form-encoded body (which keeps 100 personalised parameter sets out of
the URL).

SendBatchSms answers with one BizId for the whole call and no per-number errors: ``OK``
means every number of the call was accepted (per-number failures show up only later, in
the delivery receipts, keyed by BizId + number). When a batch is refused with a code that
is about one number (invalid, frequency-capped, blacklisted), the numbers of that call are
sent again one by one with SendSms — safe, because the refused call sent nothing — so the
culprit gets its own code and the others go out.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

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

API_VERSION = "2017-05-25"
ALGORITHM = "ACS3-HMAC-SHA256"
MAX_BATCH = 100  # SendBatchSms PhoneNumberJson limit
OUT_ID_LIMIT = 256
QUERY_PAGE = 50  # QuerySendDetails PageSize maximum
BEIJING = ZoneInfo("Asia/Shanghai")  # SendDate is the day in Beijing time

TRANSIENT_CODES = frozenset({
    "Throttling", "Throttling.User", "Throttling.Api", "Throttling.Concurrent",
    "isp.SYSTEM_ERROR", "ServiceUnavailable", "InternalError",
})
# Codes about one number: a refused batch is resent number by number to find it.
PER_NUMBER_CODES = frozenset({
    "isv.MOBILE_NUMBER_ILLEGAL", "isv.BUSINESS_LIMIT_CONTROL", "isv.BLACK_KEY_CONTROL_LIMIT",
})
SUPPRESS_CODES = frozenset({"isv.BLACK_KEY_CONTROL_LIMIT"})  # UNCONFIRMED: see docs

_STOP_HINTS: list[tuple[frozenset[str], str]] = [
    (frozenset({"SignatureDoesNotMatch", "IncompleteSignature", "InvalidAccessKeyId.NotFound",
                "InvalidAccessKeyId.Inactive", "isv.ACCOUNT_NOT_EXISTS", "InvalidAccessKeyId"}),
     "check PRIVMIGRATE_ALIYUN_ACCESS_KEY_ID and PRIVMIGRATE_ALIYUN_ACCESS_KEY_SECRET "
     "(an enabled AccessKey pair of the account that owns the SMS signature)"),
    (frozenset({"InvalidTimeStamp.Expired", "SignatureNonceUsed"}),
     "this machine's clock is off by more than 15 minutes: enable NTP time sync"),
    (frozenset({"isp.RAM_PERMISSION_DENY", "Forbidden.RAM", "Forbidden"}),
     "grant the RAM user of this AccessKey the AliyunDysmsFullAccess policy"),
    (frozenset({"isv.SMS_TEMPLATE_ILLEGAL", "isv.SMS_SIGNATURE_SCENE_ILLEGAL",
                "isv.TEMPLATE_MISSING_PARAMETERS", "isv.TEMPLATE_PARAMS_ILLEGAL",
                "isv.PARAM_LENGTH_LIMIT", "isv.PARAM_NOT_SUPPORT_URL", "isv.SMS_CONTENT_ILLEGAL",
                "isv.INVALID_JSON_PARAM", "isv.DOMESTIC_NUMBER_NOT_SUPPORTED"}),
     "the template code or its variables do not match an approved 国内 template of this "
     "account (variables ≤35 chars each, no URLs, a general-purpose 通用 signature); fix the "
     "template settings or the template in the Aliyun SMS console"),
    (frozenset({"isv.SMS_SIGNATURE_ILLEGAL", "isv.SMS_SIGN_ILLEGAL", "isv.SIGN_STATE_ILLEGAL"}),
     "the signature (签名) is not approved, not filed with the carriers (实名制报备), or "
     "not usable; check 签名管理 in the Aliyun SMS console"),
    (frozenset({"isv.AMOUNT_NOT_ENOUGH", "isv.OUT_OF_SERVICE", "isv.ACCOUNT_ABNORMAL",
                "isv.PRODUCT_UN_SUBSCRIPT", "isv.PRODUCT_UNSUBSCRIBE", "isv.INTERFACE_OFFLINE"}),
     "the Aliyun account cannot send (balance, suspension or SMS service not activated); "
     "top up or activate it in the console"),
    (frozenset({"isv.DAY_LIMIT_CONTROL", "isv.MONTH_LIMIT_CONTROL"}),
     "the daily/monthly send quota set in the console (安全设置) is used up; raise it or "
     "rerun after it resets"),
    (frozenset({"isv.DENY_IP_RANGE"}), "Aliyun only accepts domestic SMS from a mainland-China "
     "IP address; run privmigrate from a mainland host"),
    (frozenset({"isv.MOBILE_COUNT_OVER_LIMIT"}), "too many numbers in one call: this is a "
     "privmigrate bug, please report it"),
]


def percent_encode(value: str) -> str:
    """RFC 3986 encoding as Aliyun signs it: only A-Za-z0-9-_.~ stay as they are."""
    return quote(value, safe="~")


def canonical_query(params: Mapping[str, str]) -> str:
    """Parameters sorted by encoded name, ``name=value`` joined with ``&``."""
    pairs = sorted((percent_encode(k), percent_encode(v)) for k, v in params.items())
    return "&".join(f"{k}={v}" for k, v in pairs)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def acs3_signature(*, method: str, query: Mapping[str, str], headers: Mapping[str, str],
                   signed_headers: Sequence[str], payload_hash: str, secret: str,
                   canonical_uri: str = "/") -> str:
    """Signature V3: HMAC-SHA256 over ``ACS3-HMAC-SHA256\\n`` + SHA-256 of the canonical
    request (method, URI, sorted query, signed headers, signed header names, body hash)."""
    names = sorted(h.lower() for h in signed_headers)
    lowered = {k.lower(): v for k, v in headers.items()}
    canonical_headers = "".join(f"{h}:{lowered[h].strip()}\n" for h in names)
    canonical_request = "\n".join([method.upper(), canonical_uri, canonical_query(query),
                                   canonical_headers, ";".join(names), payload_hash])
    string_to_sign = f"{ALGORITHM}\n{sha256_hex(canonical_request.encode())}"
    return hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()


def acs3_authorization(access_key_id: str, signed_headers: Sequence[str], signature: str) -> str:
    names = ";".join(sorted(h.lower() for h in signed_headers))
    return f"{ALGORITHM} Credential={access_key_id},SignedHeaders={names},Signature={signature}"


def _template_param(params: Mapping[str, str]) -> str:
    return json.dumps(dict(params), ensure_ascii=False, separators=(",", ":"))


class AliyunSmsProvider(ClientOwner):
    """SMS through Aliyun dysmsapi; one result per message, in input order."""

    name = "aliyun"
    max_batch = MAX_BATCH
    params_per_call = False  # TemplateParamJson carries one parameter set per number

    def __init__(self, settings: SmsSettings, *, access_key_id: str, access_key_secret: str,
                 transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], Any] | None = None,
                 clock: Callable[[], float] = time.time,
                 nonce: Callable[[], str] = lambda: uuid.uuid4().hex) -> None:
        self.settings = settings
        self._key_id = access_key_id
        self._secret = access_key_secret
        self._sleep = sleep
        self._clock = clock
        self._nonce = nonce
        self._client = make_client(settings.base_url, timeout=httpx.Timeout(settings.timeout),
                                   transport=transport)

    def send(self, messages: Sequence[SmsMessage]) -> list[SendResult]:
        """Send in calls of ≤100 numbers sharing one template; see the module docstring."""
        done: dict[int, SendResult] = {}
        try:
            for indices in plan_calls(messages, lambda m: m.template_code, MAX_BATCH,
                                      unique_phones=False):
                self._send_call([messages[i] for i in indices], indices, done)
        except SmsStopError as exc:
            exc.results = [done[i] for i in sorted(done)] + exc.results
            raise
        return [done[i] for i in range(len(messages))]

    def look_up(self, lookups: Sequence[SentLookup], now: datetime) -> list[SentStatus]:
        """QuerySendDetails per number and send date (Beijing), matched on OutId.

        Aliyun lists a message from its submission on (SendStatus 1 等待回执, 2 发送失败,
        3 发送成功), so one missing ``listing_grace`` after its send was never received.
        """
        groups: dict[tuple[str, str], list[SentLookup]] = {}
        for lookup in lookups:
            day = lookup.sent_at.astimezone(BEIJING).strftime("%Y%m%d")
            groups.setdefault((lookup.phone, day), []).append(lookup)
        out: list[SentStatus] = []
        for (phone, day), wanted in groups.items():
            try:
                records = self._send_details(phone, day)
            except (RemoteError, OutcomeUnknown) as exc:
                out += unknown_statuses(wanted, f"QUERY_FAILED {type(exc).__name__}")
                continue
            out += self._match(wanted, records, now)
        return out

    def _match(self, wanted: list[SentLookup], records: list[dict[str, Any]], now: datetime
               ) -> list[SentStatus]:
        pool: dict[str, list[dict[str, Any]]] = {}
        for record in records:
            pool.setdefault(str(record.get("OutId") or ""), []).append(record)
        out = []
        for lookup in wanted:
            found = pool.get(lookup.request_id[: OUT_ID_LIMIT - 1]) or []
            if not found:
                out.append(not_found(lookup, now, self.settings.listing_grace))
                continue
            record = found.pop(0)
            status = {3: "delivered", 2: "undelivered"}.get(_int(record.get("SendStatus")),
                                                            "accepted")
            out.append(SentStatus(lookup.message_id, status,  # type: ignore[arg-type]
                                  str(record.get("ErrCode") or "")[:64], None,
                                  str(record.get("ReceiveDate") or "") or None))
        return out

    def _send_details(self, phone: str, day: str) -> list[dict[str, Any]]:
        """Every QuerySendDetails record of ``phone`` on ``day`` (pages of 50)."""
        records: list[dict[str, Any]] = []
        for page in range(1, 41):  # ≤ 2,000 messages to one number in a day
            body = self._read("QuerySendDetails", {
                "PhoneNumber": phone, "SendDate": day, "PageSize": str(QUERY_PAGE),
                "CurrentPage": str(page)})
            if body.get("Code") != "OK":
                raise RemoteError(f"Aliyun QuerySendDetails: {body.get('Code')} "
                                  f"{redact_phones(str(body.get('Message') or ''))!r}")
            dtos = body.get("SmsSendDetailDTOs") or {}
            items = dtos.get("SmsSendDetailDTO") if isinstance(dtos, dict) else dtos
            items = [i for i in (items or []) if isinstance(i, dict)]
            records += items
            if len(items) < QUERY_PAGE or len(records) >= _int(body.get("TotalCount")):
                break
        return records

    def _read(self, action: str, query: dict[str, str]) -> dict[str, Any]:
        return query_with_retries(
            lambda: self._check(self._client.send(self._signed_request(action, query, None))),
            label=f"Aliyun {action}", attempts=self.settings.max_attempts, sleep=self._sleep)

    def _send_call(self, call: list[SmsMessage], indices: list[int],
                   done: dict[int, SendResult]) -> None:
        if len(call) == 1:
            done[indices[0]] = self._send_single(call[0])
            return
        query = {"TemplateCode": call[0].template_code, "OutId": _out_id(call)}
        form = {
            "PhoneNumberJson": json.dumps([m.phone for m in call]),
            "SignNameJson": json.dumps([m.sign_name for m in call], ensure_ascii=False),
        }
        if any(m.params for m in call):
            form["TemplateParamJson"] = json.dumps([dict(m.params) for m in call],
                                                   ensure_ascii=False, separators=(",", ":"))
        try:
            body = self._call("SendBatchSms", query, form)
        except OutcomeUnknown as exc:
            done.update(zip(indices, unknown_results(call, exc), strict=True))
            return
        code, detail = str(body.get("Code")), str(body.get("Message") or "")
        if code == "OK":
            biz_id = body.get("BizId")
            for index, message in zip(indices, call, strict=True):
                done[index] = result(message, "accepted", code, detail, biz_id)
        elif code in PER_NUMBER_CODES:
            for index, message in zip(indices, call, strict=True):
                done[index] = self._send_single(message)
        else:
            raise self._stop(code, detail, call[0])

    def _send_single(self, message: SmsMessage) -> SendResult:
        query = {
            "PhoneNumbers": message.phone,
            "SignName": message.sign_name,
            "TemplateCode": message.template_code,
            "OutId": _out_id([message]),
        }
        if message.params:
            query["TemplateParam"] = _template_param(message.params)
        try:
            body = self._call("SendSms", query, None)
        except OutcomeUnknown as exc:
            return unknown_results([message], exc)[0]
        code, detail = str(body.get("Code")), str(body.get("Message") or "")
        if code == "OK":
            return result(message, "accepted", code, detail, body.get("BizId"))
        if code in PER_NUMBER_CODES:
            return result(message, "failed", code, detail, suppress=code in SUPPRESS_CODES)
        raise self._stop(code, detail, message)

    def _call(self, action: str, query: dict[str, str], form: dict[str, str] | None
              ) -> dict[str, Any]:
        def attempt() -> dict[str, Any]:
            return self._check(self._client.send(self._signed_request(action, query, form)))

        return call_with_retries(attempt, provider="Aliyun", attempts=self.settings.max_attempts,
                                 sleep=self._sleep)

    def _signed_request(self, action: str, query: dict[str, str], form: dict[str, str] | None
                        ) -> httpx.Request:
        body = canonical_query(form).encode() if form else b""
        query = {**query, "Format": "JSON"}  # as the SDKs ask; the answer is read as JSON
        headers = {
            "accept": "application/json",
            "x-acs-action": action,
            "x-acs-version": API_VERSION,
            "x-acs-date": datetime.fromtimestamp(self._clock(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "x-acs-signature-nonce": self._nonce(),  # fresh for every attempt
            "x-acs-content-sha256": sha256_hex(body),
        }
        if form:
            headers["content-type"] = "application/x-www-form-urlencoded"
        request = self._client.build_request("POST", "/?" + canonical_query(query),
                                             content=body, headers=headers)
        signed = ["host", *headers]
        to_sign = {**headers, "host": request.headers["host"]}
        signature = acs3_signature(method="POST", query=query, headers=to_sign,
                                   signed_headers=signed, payload_hash=headers[
                                       "x-acs-content-sha256"], secret=self._secret)
        request.headers["Authorization"] = acs3_authorization(self._key_id, signed, signature)
        return request

    @staticmethod
    def _check(response: httpx.Response) -> dict[str, Any]:
        """The parsed answer; TransientError / OutcomeUnknown for what must not be mapped.

        A 2xx whose body carries no readable ``Code`` (XML, empty, a proxy's page) may
        follow an accepted send: it is an unknown outcome, never a refusal that frees the
        rows for another send.
        """
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            body = {}
        code = str(body.get("Code") or "")
        status = response.status_code
        if status == 504:
            raise OutcomeUnknown("the gateway timed out after the request was sent",
                                 code="HTTP_504")
        if code in TRANSIENT_CODES or (status in (500, 502, 503) and code not in
                                       PER_NUMBER_CODES and not code.startswith("isv.")):
            raise TransientError(code or f"HTTP {status}", retry_after=_retry_after(response))
        if not code and 200 <= status < 300:
            raise OutcomeUnknown(
                f"HTTP {status} with no readable Code "
                f"({response.headers.get('content-type') or 'no content type'})",
                code="UNREADABLE_ANSWER")
        if not code:
            raise SmsStopError(
                f"Aliyun SMS answered HTTP {status} without an error code; check "
                "invite.sms.endpoint (expected https://dysmsapi.aliyuncs.com)"
            )
        return body

    def _stop(self, code: str, detail: str, message: SmsMessage) -> SmsStopError:
        hint = next((h for codes, h in _STOP_HINTS if code in codes),
                    "fix the account, template or signature setting it names")
        return SmsStopError(
            f"Aliyun SMS refused the send (template {message.template_code}, signature "
            f"{message.sign_name}): {code} {redact_phones(detail)!r}; {hint}. Nothing after "
            "this call was sent; rerun once fixed"
        )


def _out_id(call: Sequence[SmsMessage]) -> str:
    """Our request id when the call has one (it is what QuerySendDetails is matched on)."""
    ids = {m.request_id for m in call}
    if len(ids) == 1 and call[0].request_id:
        return call[0].request_id[: OUT_ID_LIMIT - 1]
    return call_ref(call, OUT_ID_LIMIT) if len(call) > 1 else call[0].message_id[
        : OUT_ID_LIMIT - 1]


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers.get("retry-after", ""))
    except ValueError:
        return None
