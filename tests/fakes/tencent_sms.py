"""A fake Tencent Cloud SMS endpoint (SendSms 2021-01-11) on 127.0.0.1.

It checks the TC3-HMAC-SHA256 signature the way the API gateway does — recomputed from the
raw request it received with the known SecretKey — and answers with the documented
``{"Response": {...}}`` shapes: request-level ``Error`` objects, or one ``SendStatus`` per
number with Code ``Ok`` or the number's error.

    with FakeTencentSms() as fake:
        ...SmsSettings(provider="tencent", base_url=fake.base_url, sdk_app_id=fake.sdk_app_id)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.fakes.sms_server import FakeSmsServer, RawRequest, Reply

SECRET_ID = "AKIDfakeSecretIdForTests0001"
SECRET_KEY = "fakeTencentSecretKeyForTests"
SDK_APP_ID = "1400000001"
_AUTH_RE = re.compile(r"^TC3-HMAC-SHA256 Credential=([^/]+)/(\d{4}-\d{2}-\d{2})/([a-z]+)/"
                      r"tc3_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$")
_E164_RE = re.compile(r"^\+861[3-9]\d{9}$")

_MESSAGES = {
    "InvalidParameterValue.IncorrectPhoneNumber": "手机号格式错误",
    "FailedOperation.PhoneNumberInBlacklist":
        "手机号在免打扰名单库中,通常是用户退订或者命中运营商黑名单",
    "LimitExceeded.PhoneNumberDailyLimit": "单个手机号日下发短信条数超过设定的上限",
}


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


class FakeTencentSms(FakeSmsServer):
    provider = "tencent"

    def __init__(self, *, ledger_path: Path | None = None, templates: set[str] | None = None,
                 sign_names: set[str] | None = None, sdk_app_id: str = SDK_APP_ID,
                 secret_id: str = SECRET_ID, secret_key: str = SECRET_KEY,
                 clock: Any = time.time) -> None:
        super().__init__(ledger_path=ledger_path)
        self.templates = templates  # None: any TemplateId is approved
        self.sign_names = sign_names
        self.sdk_app_id = sdk_app_id
        self.secret_id = secret_id
        self.secret_key = secret_key
        self.clock = clock
        self._serial = 0

    def env(self) -> dict[str, str]:
        return {"PRIVMIGRATE_TENCENTCLOUD_SECRET_ID": self.secret_id,
                "PRIVMIGRATE_TENCENTCLOUD_SECRET_KEY": self.secret_key}

    def config(self) -> dict[str, Any]:
        """An ``[invite.sms]`` table pointing at this fake."""
        return {"provider": "tencent", "endpoint": self.base_url, "sdk_app_id": self.sdk_app_id,
                "timeout_seconds": 2}

    def error_reply(self, code: str, message: str, status: int = 200) -> Reply:
        return Reply(status, {"Response": {"Error": {"Code": code, "Message": message},
                                           "RequestId": self.request_id()}})

    # -- TC3-HMAC-SHA256, as the gateway checks it -------------------------------------------
    def authenticate(self, request: RawRequest) -> Reply | None:
        match = _AUTH_RE.match(request.headers.get("authorization", ""))
        if not match:
            return self.error_reply("AuthFailure.InvalidAuthorization",
                                    "Authorization header is malformed.")
        secret_id, date, service, signed_list, signature = match.groups()
        if secret_id != self.secret_id:
            return self.error_reply("AuthFailure.SecretIdNotFound", "The SecretId is not found.")
        try:
            timestamp = int(request.headers.get("x-tc-timestamp", ""))
        except ValueError:
            return self.error_reply("MissingParameter", "X-TC-Timestamp is missing.")
        if abs(timestamp - self.clock()) > 300:
            return self.error_reply("AuthFailure.SignatureExpire", "Signature expired, "
                                    "timestamp is too far from the server time.")
        signed = signed_list.split(";")
        if (date != datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
                or service != "sms" or not {"content-type", "host"} <= set(signed)
                or any(h not in request.headers for h in signed)):
            return self.error_reply("AuthFailure.SignatureFailure",
                                    "The provided credentials could not be validated.")
        canonical = "\n".join([
            request.method, request.path or "/", request.query,
            "".join(f"{h}:{request.headers[h].strip().lower()}\n" for h in signed),
            signed_list, hashlib.sha256(request.body).hexdigest(),
        ])
        to_sign = "\n".join(["TC3-HMAC-SHA256", str(timestamp), f"{date}/{service}/tc3_request",
                             hashlib.sha256(canonical.encode()).hexdigest()])
        key = _hmac(_hmac(_hmac(f"TC3{self.secret_key}".encode(), date), service), "tc3_request")
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            return self.error_reply("AuthFailure.SignatureFailure",
                                    "The provided credentials could not be validated. "
                                    "Please check your signature is correct.")
        return None

    # -- the API --------------------------------------------------------------------------
    def _body(self, request: RawRequest) -> dict[str, Any]:
        try:
            body = json.loads(request.body or b"{}")
        except json.JSONDecodeError:
            return {}
        return body if isinstance(body, dict) else {}

    def describe(self, request: RawRequest) -> dict[str, Any]:
        body = self._body(request)
        return {"action": request.headers.get("x-tc-action"),
                "phones": [p.removeprefix("+86") for p in body.get("PhoneNumberSet", [])],
                "params": body.get("TemplateParamSet", []), "body": body}

    def _refuse(self, request: RawRequest, code: str, message: str) -> Reply:
        self.record(request, code)
        return self.error_reply(code, message)

    def process(self, request: RawRequest) -> Reply:
        action = request.headers.get("x-tc-action")
        if action in ("PullSmsSendStatusByPhoneNumber", "PullSmsSendStatus"):
            return self._pull(request, action)
        if action != "SendSms":
            return self._refuse(request, "InvalidAction", "The action is not supported.")
        if request.headers.get("x-tc-version") != "2021-01-11":
            return self._refuse(request, "NoSuchVersion", "The API version does not exist.")
        if not request.headers.get("x-tc-region"):
            return self._refuse(request, "MissingParameter", "X-TC-Region is required.")
        body = self._body(request)
        phones = body.get("PhoneNumberSet") or []
        if str(body.get("SmsSdkAppId")) != self.sdk_app_id:
            return self._refuse(request, "InvalidParameterValue.SdkAppIdNotExist",
                                "SdkAppId不存在")
        if len(phones) > 200:
            return self._refuse(request, "LimitExceeded.PhoneNumberCountLimit",
                                "单次提交的手机号个数超过200个")
        if self.templates is not None and str(body.get("TemplateId")) not in self.templates:
            return self._refuse(request, "FailedOperation.TemplateIncorrectOrUnapproved",
                                "模板未审批或内容不匹配")
        if self.sign_names is not None and body.get("SignName") not in self.sign_names:
            return self._refuse(request, "FailedOperation.SignatureIncorrectOrUnapproved",
                                "签名未审批或格式错误")
        self.record(request, "OK")
        return Reply(200, {"Response": {"SendStatusSet": [self._send_one(p, body)
                                                          for p in phones],
                                        "RequestId": self.request_id()}})

    def _pull(self, request: RawRequest, action: str) -> Reply:
        """Receipts (回执) of delivered messages, as the Pull* calls return them: only messages
        whose carrier receipt came back. PullSmsSendStatusByPhoneNumber: one number, a
        BeginTime–EndTime window (unix seconds), Offset/Limit ≤ 100; PullSmsSendStatus: the
        receipts not pulled before (each is handed out once), Limit ≤ 100."""
        body = self._body(request)
        if str(body.get("SmsSdkAppId")) != self.sdk_app_id:
            return self._refuse(request, "InvalidParameterValue.SdkAppIdNotExist",
                                "SdkAppId不存在")
        limit = body.get("Limit")
        if not isinstance(limit, int) or not 0 < limit <= 100:
            return self._refuse(request, "InvalidParameterValue", "Limit must be 1-100")
        receipts = [(r, _receipt_record(self, r)) for r in self.sent]
        if action == "PullSmsSendStatus":
            fresh = [(r, x) for r, x in receipts if x is not None and not r.get("pulled")]
            page = fresh[:limit]
            for record, _ in page:
                record["pulled"] = True
        else:
            phone = str(body.get("PhoneNumber", ""))
            begin, end = body.get("BeginTime"), body.get("EndTime")
            offset = body.get("Offset")
            if not _E164_RE.match(phone) or not all(isinstance(v, int) for v in
                                                    (begin, end, offset)):
                return self._refuse(request, "InvalidParameterValue",
                                    "PhoneNumber/BeginTime/EndTime/Offset")
            window = [(r, x) for r, x in receipts if x is not None
                      and x["PhoneNumber"] == phone and begin <= r["at"] <= end]
            page = window[offset : offset + limit]
        self.record(request, "OK")
        return Reply(200, {"Response": {"PullSmsSendStatusSet": [x for _, x in page],
                                        "RequestId": self.request_id()}})

    def _send_one(self, phone: str, body: dict[str, Any]) -> dict[str, Any]:
        mainland = phone.removeprefix("+86")
        code = self.number_codes.get(mainland) or (
            None if _E164_RE.match(phone) else "InvalidParameterValue.IncorrectPhoneNumber")
        status: dict[str, Any] = {"PhoneNumber": phone, "SessionContext":
                                  body.get("SessionContext", ""), "IsoCode": "CN"}
        if code:
            return {**status, "SerialNo": "", "Fee": 0, "Code": code,
                    "Message": _MESSAGES.get(code, code)}
        self._serial += 1
        serial = f"2640:{int(self.clock())}{self._serial:06d}"
        self.deliver([mainland], serial, str(body.get("SessionContext", "")),
                     str(body.get("TemplateId", "")))
        return {**status, "SerialNo": serial, "Fee": 1, "Code": "Ok", "Message": "send success"}


def _receipt_record(fake: FakeTencentSms, record: dict[str, Any]) -> dict[str, Any] | None:
    receipt = fake.receipt(record)
    if receipt is None:
        return None
    reached, at = receipt
    return {"UserReceiveTime": int(at), "CountryCode": "86",
            "SubscriberNumber": record["phone"], "PhoneNumber": f"+86{record['phone']}",
            "SerialNo": record["ref"], "ReportStatus": "SUCCESS" if reached else "FAIL",
            "Description": "DELIVRD" if reached else "MK:0001",
            "SessionContext": record["out_id"]}
