"""Ocean Engine (巨量引擎) DMP data-source client, and 巨量千川 audience files.

DMP: data_source/file/upload (multipart, file MD5 as file_signature) → data_source/create or
data_source/update (operation_type 1 add, 2 delete, 3 reset) → data_source/read →
custom_audience/publish (at most once per audience per 24 h) → custom_audience/push_v2.
千川: audience_file/upload (≤ 25 MB; larger zips go up in parts through part_upload) →
audience/create_by_file. The token goes in the ``Access-Token`` header. Responses are
``{code, message, request_id, data}``; code 0 is success. See docs/audience.md and
../shared/reference/ad-platforms.md §2.
"""

from __future__ import annotations

import json
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

# UNCONFIRMED codes (reference §2.6): change them here if the official 返回码 page differs.
RATE_LIMIT_CODES = frozenset({40100, 40110, 61002, 61003})
SYSTEM_CODES = frozenset({50000, 50001, 50002})
TOKEN_CODES = frozenset({40101, 40102, 40103, 40104, 40105, 40107})
DMP = "/open_api/2/dmp"
QIANCHUAN = "/open_api/v1.0/qianchuan"
QIANCHUAN_SINGLE_MAX = 25 * 1024 * 1024
QIANCHUAN_PART = 20 * 1024 * 1024
REFRESH_HELP = (
    "refresh it with POST {base}/open_api/oauth2/refresh_token/ {{app_id, secret, "
    "grant_type: refresh_token, refresh_token}} and export the new access_token as {env} "
    "(an expired refresh token, 40103, needs the advertiser to authorise the app again); "
    "see docs/audience.md \"Tokens\""
)


class OceanEngineClient(ClientOwner):
    """DMP data sources and 千川 audience files for one advertiser."""

    def __init__(
        self,
        base_url: str,
        token: str,
        advertiser_id: str,
        *,
        token_env: str = "PRIVMIGRATE_OCEANENGINE_TOKEN",
        transport: httpx.BaseTransport | None = None,
        timeout: float | httpx.Timeout = httpx.Timeout(120.0, connect=10.0),
        attempts: int = 5,
        sleep: Callable[[float], Any] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.advertiser_id = str(advertiser_id)
        self._token_env = token_env
        self._client = make_client(self.base_url, timeout=timeout, transport=transport,
                                   headers={"Access-Token": token})
        self._attempts = attempts
        self._sleep = sleep

    # --- DMP data sources ----------------------------------------------------------------

    def upload_file(self, path: Path, md5: str) -> str:
        """data_source/file/upload → file_path (valid 14 days). Uploading applies nothing."""
        data = self._call("POST", f"{DMP}/data_source/file/upload/", write=True,
                          data={"advertiser_id": self._advertiser(), "file_signature": md5},
                          files=_file(path))
        return str(data["file_path"])

    def create_data_source(self, name: str, file_paths: list[str], *, description: str = "",
                           data_source_type: str = "UID") -> str:
        data = self._call("POST", f"{DMP}/data_source/create/", write=True, json={
            "advertiser_id": int(self._advertiser()), "data_source_name": name,
            "description": description, "data_format": 0, "file_storage_type": 0,
            "file_paths": file_paths, "data_source_type": data_source_type,
        })
        return str(data["data_source_id"])

    def update_data_source(self, data_source_id: str, operation_type: int,
                           file_paths: list[str]) -> None:
        """operation_type 1 add, 2 delete, 3 reset."""
        self._call("POST", f"{DMP}/data_source/update/", write=True, json={
            "advertiser_id": int(self._advertiser()), "data_source_id": data_source_id,
            "operation_type": operation_type, "data_format": 0, "file_storage_type": 0,
            "file_paths": file_paths,
        })

    def read_data_source(self, data_source_id: str) -> dict[str, Any]:
        data = self._call("GET", f"{DMP}/data_source/read/", params={
            "advertiser_id": self._advertiser(),
            "data_source_id_list": json.dumps([data_source_id]),
        })
        items = data.get("data_list") or data.get("list") or []
        for item in items:
            if str(item.get("data_source_id")) == str(data_source_id):
                return item
        raise RemoteRefused(f"Ocean Engine has no data source {data_source_id} for advertiser "
                            f"{self.advertiser_id}; it may have been deleted")

    def publish(self, custom_audience_id: str) -> None:
        self._call("POST", f"{DMP}/custom_audience/publish/", write=True, json={
            "advertiser_id": int(self._advertiser()),
            "custom_audience_id": int(custom_audience_id)})

    def push(self, custom_audience_id: str, target_advertiser_ids: list[str]) -> None:
        """push_v2: share the audience with other advertisers of the same 主体 (≤ 100)."""
        self._call("POST", f"{DMP}/custom_audience/push_v2/", write=True, json={
            "advertiser_id": int(self._advertiser()),
            "custom_audience_id": int(custom_audience_id),
            "target_advertiser_ids": [int(v) for v in target_advertiser_ids]})

    # --- 千川 ----------------------------------------------------------------------------

    def qianchuan_upload(self, path: Path) -> str:
        """The zip's file_key (valid 15 days); in 20 MB parts when over 25 MB."""
        size = path.stat().st_size
        if size <= QIANCHUAN_SINGLE_MAX:
            data = self._call("POST", f"{QIANCHUAN}/audience_file/upload/", write=True,
                              data={"advertiser_id": self._advertiser()}, files=_file(path))
            return str(data["file_key"])
        file_key = ""
        parts = range(0, size, QIANCHUAN_PART)
        for number, offset in enumerate(parts):
            form = {"advertiser_id": self._advertiser(), "part_num": str(number),
                    "is_finished": "1" if offset + QIANCHUAN_PART >= size else "0"}
            if file_key:
                form["file_key"] = file_key
            data = self._call("POST", f"{QIANCHUAN}/audience_file/part_upload/", write=True,
                              data=form, files=_file_part(path, offset, QIANCHUAN_PART))
            file_key = str(data.get("file_key") or file_key)
        return file_key

    def qianchuan_create(self, name: str, data_type: int, file_key: str,
                         group: str = "privmigrate") -> str:
        data = self._call("POST", f"{QIANCHUAN}/audience/create_by_file/", write=True, json={
            "advertiser_id": int(self._advertiser()), "audience_name": name,
            "audience_group": group, "data_type": data_type, "match_type": "UID",
            "file_key": file_key})
        return str(data["audience_id"])

    # --- plumbing ------------------------------------------------------------------------

    def _advertiser(self) -> str:
        if not self.advertiser_id:
            raise RemoteRefused("the advertiser_id is not set; put it in [audience."
                                "oceanengine] (or [audience.qianchuan]) in privmigrate.toml")
        return self.advertiser_id

    def _call(self, method: str, path: str, *, write: bool = False,
              params: dict[str, Any] | None = None, json: Any = None,
              data: dict[str, str] | None = None,
              files: Callable[[], dict[str, Any]] | None = None) -> dict[str, Any]:
        def attempt() -> dict[str, Any]:
            response = request_once(self._client, "Ocean Engine", path, method, path,
                                    write=write, unknown=OutcomeUnknown, files=files,
                                    params=params, json=json, data=data)
            return self._parse(path, response, write)

        return retried_or_refused(attempt, f"Ocean Engine {path}", attempts=self._attempts,
                                  hint=PUSH_AGAIN, sleep=self._sleep)

    def _parse(self, path: str, response: httpx.Response, write: bool) -> dict[str, Any]:
        body = json_envelope(response, f"Ocean Engine {path}", write=write,
                             unknown=OutcomeUnknown,
                             hint="check base_url in [audience.oceanengine]")
        code = int(body.get("code", -1))
        if code == 0:
            return body.get("data") or {}
        message = body.get("message") or ""
        request_id = body.get("request_id") or ""
        if code in RATE_LIMIT_CODES or code in SYSTEM_CODES:
            raise TransientError(f"Ocean Engine {path}: code {code} {message}")
        if code in TOKEN_CODES:
            raise TokenError(
                f"Ocean Engine refused the access token (code {code}: {message}); "
                + REFRESH_HELP.format(base=self.base_url, env=self._token_env))
        raise RemoteRefused(
            f"Ocean Engine {path} refused the request: code {code} {message}"
            + (f" (request_id {request_id})" if request_id else ""), code=code)


def _file(path: Path) -> Callable[[], dict[str, Any]]:
    return lambda: {"file": (path.name, path.read_bytes(), "application/zip")}


def _file_part(path: Path, offset: int, size: int) -> Callable[[], dict[str, Any]]:
    def read() -> dict[str, Any]:
        with path.open("rb") as fh:
            fh.seek(offset)
            return {"file": (path.name, fh.read(size), "application/zip")}

    return read
