"""A fake Aliyun SMS endpoint (dysmsapi 2017-05-25 SendSms / SendBatchSms) on 127.0.0.1.

It checks the ACS3-HMAC-SHA256 signature the way the gateway does — recomputed from the
raw request it received with the known secret — and answers with Aliyun's documented
codes. ``batch_bad_number`` chooses what SendBatchSms does with a bad number in the batch:
``"reject"`` refuses the whole call with that number's code (what privmigrate assumes),
``"accept"`` takes the call and silently drops the bad number (it would fail in receipts).

    with FakeAliyunSms() as fake:
        monkeypatch.setenv(...fake.env())  # credentials
        SmsSettings(provider="aliyun", base_url=fake.base_url)
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
from urllib.parse import parse_qsl, quote
from zoneinfo import ZoneInfo

from tests.fakes.sms_server import FakeSmsServer, RawRequest, Reply

ACCESS_KEY_ID = "LTAIfakeAccessKeyId01"
ACCESS_KEY_SECRET = "fake-aliyun-secret-for-tests"
MANDATORY_SIGNED = {"host", "x-acs-action", "x-acs-content-sha256", "x-acs-date",
                    "x-acs-signature-nonce", "x-acs-version"}
_AUTH_RE = re.compile(r"^ACS3-HMAC-SHA256 Credential=([^,]+),SignedHeaders=([^,]+),"
                      r"Signature=([0-9a-f]{64})$")
_MOBILE_RE = re.compile(r"^(?:\+?86|0086)?(1[3-9]\d{9})$")


def _enc(value: str) -> str:
    return quote(value, safe="~")


class FakeAliyunSms(FakeSmsServer):
    provider = "aliyun"

    def __init__(self, *, ledger_path: Path | None = None, templates: set[str] | None = None,
                 sign_names: set[str] | None = None, batch_bad_number: str = "reject",
                 access_key_id: str = ACCESS_KEY_ID, access_key_secret: str = ACCESS_KEY_SECRET,
                 clock: Any = time.time) -> None:
        super().__init__(ledger_path=ledger_path)
        self.templates = templates  # None: any template code is approved
        self.sign_names = sign_names
        self.batch_bad_number = batch_bad_number
        self.access_key_id = access_key_id
        self.access_key_secret = access_key_secret
        self.clock = clock
        self._nonces: set[str] = set()

    def env(self) -> dict[str, str]:
        return {"PRIVMIGRATE_ALIYUN_ACCESS_KEY_ID": self.access_key_id,
                "PRIVMIGRATE_ALIYUN_ACCESS_KEY_SECRET": self.access_key_secret}

    def config(self) -> dict[str, Any]:
        """An ``[invite.sms]`` table pointing at this fake."""
        return {"provider": "aliyun", "endpoint": self.base_url, "timeout_seconds": 2}

    # -- replies --------------------------------------------------------------------------
    def error_reply(self, code: str, message: str, status: int = 200) -> Reply:
        body = {"RequestId": self.request_id(), "Code": code, "Message": message}
        if status != 200:
            body["HostId"] = "dysmsapi.aliyuncs.com"
        return Reply(status, body)

    def _ok(self, phones: list[str], params: dict[str, str]) -> Reply:
        biz_id = f"{int(self.clock() * 1000) % 10**12}^{len(self.requests)}"
        self.deliver(phones, biz_id, params.get("OutId", ""), params.get("TemplateCode", ""))
        return Reply(200, {"RequestId": self.request_id(), "Code": "OK", "Message": "OK",
                           "BizId": biz_id})

    # -- signature V3, as the gateway checks it ----------------------------------------------
    def authenticate(self, request: RawRequest) -> Reply | None:
        match = _AUTH_RE.match(request.headers.get("authorization", ""))
        if not match:
            return self.error_reply("IncompleteSignature", "The request signature does not "
                                    "conform to Aliyun standards.", 400)
        key_id, signed_list, signature = match.groups()
        if key_id != self.access_key_id:
            return self.error_reply("InvalidAccessKeyId.NotFound",
                                    "Specified access key is not found.", 404)
        signed = signed_list.split(";")
        if not set(signed) >= MANDATORY_SIGNED or signed != sorted(signed) or any(
                h not in request.headers for h in signed):
            return self.error_reply("IncompleteSignature", "SignedHeaders is incomplete.", 400)
        if hashlib.sha256(request.body).hexdigest() != request.headers["x-acs-content-sha256"]:
            return self.error_reply("SignatureDoesNotMatch", "x-acs-content-sha256 does not "
                                    "match the body.", 400)
        try:
            sent_at = datetime.strptime(request.headers["x-acs-date"], "%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            return self.error_reply("InvalidTimeStamp.Format", "x-acs-date is malformed.", 400)
        if abs(sent_at.replace(tzinfo=UTC).timestamp() - self.clock()) > 15 * 60:
            return self.error_reply("InvalidTimeStamp.Expired", "Specified time stamp or date "
                                    "value is expired.", 400)
        pairs = sorted((_enc(k), _enc(v)) for k, v in parse_qsl(request.query,
                                                               keep_blank_values=True))
        canonical = "\n".join([
            request.method, request.path or "/", "&".join(f"{k}={v}" for k, v in pairs),
            "".join(f"{h}:{request.headers[h].strip()}\n" for h in signed),
            signed_list, request.headers["x-acs-content-sha256"],
        ])
        to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical.encode()).hexdigest()
        expected = hmac.new(self.access_key_secret.encode(), to_sign.encode(),
                            hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            return self.error_reply("SignatureDoesNotMatch", "Specified signature does not "
                                    "match our calculation.", 400)
        nonce = request.headers["x-acs-signature-nonce"]
        if nonce in self._nonces:
            return self.error_reply("SignatureNonceUsed", "Specified signature nonce was used "
                                    "already.", 400)
        self._nonces.add(nonce)
        return None

    # -- the API --------------------------------------------------------------------------
    def _params(self, request: RawRequest) -> dict[str, str]:
        params = dict(parse_qsl(request.query, keep_blank_values=True))
        if request.body:
            params.update(parse_qsl(request.body.decode(), keep_blank_values=True))
        return params

    def describe(self, request: RawRequest) -> dict[str, Any]:
        params = self._params(request)
        if "PhoneNumberJson" in params:
            phones = json.loads(params["PhoneNumberJson"])
        else:
            phones = [p for p in params.get("PhoneNumbers", "").split(",") if p]
        return {"action": request.headers.get("x-acs-action"), "phones": phones,
                "params": params}

    def process(self, request: RawRequest) -> Reply:
        action = request.headers.get("x-acs-action")
        if request.headers.get("x-acs-version") != "2017-05-25":
            return self._refuse(request, "InvalidVersion", "Specified parameter Version is "
                                "not valid.", 400)
        params = self._params(request)
        if action == "SendSms":
            return self._send_sms(request, params)
        if action == "SendBatchSms":
            return self._send_batch(request, params)
        if action == "QuerySendDetails":
            return self._query_send_details(request, params)
        return self._refuse(request, "InvalidAction.NotFound", "Specified api is not found.", 404)

    def _refuse(self, request: RawRequest, code: str, message: str, status: int = 200) -> Reply:
        self.record(request, code)
        return self.error_reply(code, message, status)

    def _check_text(self, request: RawRequest, template: str, signs: list[str],
                    params: list[Any]) -> Reply | None:
        if not template:
            return self._refuse(request, "MissingTemplateCode", "TemplateCode is mandatory.", 400)
        if self.templates is not None and template not in self.templates:
            return self._refuse(request, "isv.SMS_TEMPLATE_ILLEGAL", "模板不合法(不存在或被拉黑)")
        if self.sign_names is not None and any(s not in self.sign_names for s in signs):
            return self._refuse(request, "isv.SMS_SIGNATURE_ILLEGAL", "签名不合法(不存在或被拉黑)")
        for values in params:
            if not isinstance(values, dict) or any(len(str(v)) > 35 for v in values.values()):
                return self._refuse(request, "isv.PARAM_LENGTH_LIMIT", "参数超出长度限制")
        return None

    def _number_code(self, phone: str) -> str | None:
        if not _MOBILE_RE.match(phone):
            return "isv.MOBILE_NUMBER_ILLEGAL"
        return self.number_codes.get(phone)

    def _send_sms(self, request: RawRequest, params: dict[str, str]) -> Reply:
        phones = [p for p in params.get("PhoneNumbers", "").split(",") if p]
        values = [json.loads(params["TemplateParam"])] if params.get("TemplateParam") else []
        refused = self._check_text(request, params.get("TemplateCode", ""),
                                   [params.get("SignName", "")], values)
        if refused:
            return refused
        if not phones or len(phones) > 1000:
            return self._refuse(request, "isv.MOBILE_COUNT_OVER_LIMIT", "手机号码数量超过限制")
        for phone in phones:
            code = self._number_code(phone)
            if code:
                return self._refuse(request, code, _MESSAGES.get(code, code))
        self.record(request, "OK")
        return self._ok([_MOBILE_RE.sub(r"\1", p) for p in phones], params)

    def _send_batch(self, request: RawRequest, params: dict[str, str]) -> Reply:
        try:
            phones = json.loads(params.get("PhoneNumberJson", "[]"))
            signs = json.loads(params.get("SignNameJson", "[]"))
            values = json.loads(params.get("TemplateParamJson", "[]") or "[]")
        except json.JSONDecodeError:
            return self._refuse(request, "isv.INVALID_JSON_PARAM", "JSON参数不合法")
        if not phones or len(phones) > 100:
            return self._refuse(request, "isv.MOBILE_COUNT_OVER_LIMIT", "手机号码数量超过限制")
        if len(signs) != len(phones) or (values and len(values) != len(phones)):
            return self._refuse(request, "isv.INVALID_PARAMETERS", "签名数量需与手机号码数量一致")
        refused = self._check_text(request, params.get("TemplateCode", ""), signs, values)
        if refused:
            return refused
        bad = {p: self._number_code(p) for p in phones if self._number_code(p)}
        if bad and self.batch_bad_number == "reject":
            code = next(iter(bad.values()))
            return self._refuse(request, code, _MESSAGES.get(code, code))
        self.record(request, "OK")
        return self._ok([_MOBILE_RE.sub(r"\1", p) for p in phones if p not in bad], params)


    def _query_send_details(self, request: RawRequest, params: dict[str, str]) -> Reply:
        """QuerySendDetails: one number's messages of one day (Beijing), newest first, in
        pages of ≤ 50; SendStatus 1 等待回执, 2 发送失败, 3 发送成功; ``OutId`` echoed."""
        phone, day = params.get("PhoneNumber", ""), params.get("SendDate", "")
        try:
            size, page = int(params.get("PageSize", "")), int(params.get("CurrentPage", ""))
        except ValueError:
            return self._refuse(request, "isv.INVALID_PARAMETERS", "PageSize/CurrentPage")
        if not _MOBILE_RE.match(phone) or not re.fullmatch(r"\d{8}", day):
            return self._refuse(request, "isv.INVALID_PARAMETERS", "PhoneNumber/SendDate")
        if not 1 <= size <= 50 or page < 1:
            return self._refuse(request, "isv.INVALID_PARAMETERS", "PageSize must be 1-50")
        mainland = _MOBILE_RE.sub(r"\1", phone)
        matched = [r for r in self.sent if r["phone"] == mainland
                   and _beijing(r["at"]).strftime("%Y%m%d") == day
                   and (not params.get("BizId") or r["ref"] == params["BizId"])]
        matched.sort(key=lambda r: r["at"], reverse=True)
        items = []
        for record in matched[(page - 1) * size : page * size]:
            receipt = self.receipt(record)
            item = {"PhoneNum": mainland, "TemplateCode": record["template"],
                    "Content": "【测试】…", "OutId": record["out_id"],
                    "SendDate": _beijing(record["at"]).strftime("%Y-%m-%d %H:%M:%S"),
                    "SendStatus": 1, "ErrCode": "", "ReceiveDate": ""}
            if receipt is not None:
                reached, at = receipt
                item.update(SendStatus=3 if reached else 2,
                            ErrCode="DELIVERED" if reached else "MK:0001",
                            ReceiveDate=_beijing(at).strftime("%Y-%m-%d %H:%M:%S"))
            items.append(item)
        self.record(request, "OK")
        return Reply(200, {"RequestId": self.request_id(), "Code": "OK", "Message": "OK",
                           "TotalCount": len(matched),
                           "SmsSendDetailDTOs": {"SmsSendDetailDTO": items}})


def _beijing(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, BEIJING)


BEIJING = ZoneInfo("Asia/Shanghai")

_MESSAGES = {
    "isv.MOBILE_NUMBER_ILLEGAL": "非法手机号",
    "isv.BUSINESS_LIMIT_CONTROL": "触发天级流控Permits:50",
    "isv.BLACK_KEY_CONTROL_LIMIT": "黑名单管控",
}
