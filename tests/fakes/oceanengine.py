"""A local fake of the Ocean Engine DMP data-source API and the 巨量千川 audience-file API.

It decodes every uploaded line with its own protobuf wire-format reader (independent of the
``protobuf`` package and of privmigrate's encoder), checks the file MD5 signature, applies
data-source updates (1 add, 2 delete, 3 reset) when it finishes processing them (after
``process_polls`` reads), and enforces publish-at-most-once-per-24-hours with its own clock.
Faults come from the same ``FaultPlan`` as the Tencent fake (rate limit 40100, busy 50000).
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import zipfile
from datetime import datetime
from typing import Any

from tests.fakes.tencent_ads import FakeAdServer, FaultPlan, Request, matched

DMP = "/open_api/2/dmp"
QC = "/open_api/v1.0/qianchuan"


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def decode_dmp_data(data: bytes) -> list[dict[str, Any]]:
    """DmpData wire bytes → [{"dataType": int, "id": str, "timestamp"?: int, "tags": []}]."""
    items: list[dict[str, Any]] = []
    pos = 0
    while pos < len(data):
        key, pos = read_varint(data, pos)
        if key != (1 << 3 | 2):
            raise ValueError(f"unexpected DmpData field key {key}")
        length, pos = read_varint(data, pos)
        items.append(_decode_item(data[pos : pos + length]))
        pos += length
    return items


def _decode_item(data: bytes) -> dict[str, Any]:
    item: dict[str, Any] = {"tags": []}
    pos = 0
    while pos < len(data):
        key, pos = read_varint(data, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = read_varint(data, pos)
            item["timestamp" if field == 1 else "dataType"] = value
        elif wire == 2:
            length, pos = read_varint(data, pos)
            text = data[pos : pos + length].decode()
            pos += length
            if field == 3:
                item["id"] = text
            else:
                item["tags"].append(text)
        else:
            raise ValueError(f"unexpected wire type {wire}")
    if "dataType" not in item or "id" not in item:
        raise ValueError("IdItem misses a required field")
    return item


def dmp_zip_ids(data: bytes) -> tuple[list[str], int]:
    """Every id in a DmpData zip (validated as type 6 lower-case hex), and the line count."""
    ids: list[str] = []
    lines = 0
    with zipfile.ZipFile(__import__("io").BytesIO(data)) as archive:
        for name in archive.namelist():
            for line in archive.read(name).splitlines():
                if not line.strip():
                    continue
                lines += 1
                items = decode_dmp_data(base64.b64decode(line.strip(), validate=True))
                if len(items) > 10_000:
                    raise ValueError("more than 10000 ids on one line")
                for item in items:
                    value = item["id"]
                    if item["dataType"] != 6 or len(value) != 64 or value != value.lower():
                        raise ValueError("not a lower-case MOBILE_HASH_SHA256 id")
                    int(value, 16)
                    ids.append(value)
    return ids, lines


class FakeOceanEngine(FakeAdServer):
    """DMP data sources, custom audiences (publish, push_v2) and 千川 audience files."""

    write_paths = frozenset({
        f"{DMP}/data_source/file/upload/", f"{DMP}/data_source/create/",
        f"{DMP}/data_source/update/", f"{DMP}/custom_audience/publish/",
        f"{DMP}/custom_audience/push_v2/", f"{QC}/audience_file/upload/",
        f"{QC}/audience_file/part_upload/", f"{QC}/audience/create_by_file/"})
    MAX_ZIP = 50 * 1024 * 1024

    def __init__(self, *, token: str = "ocean-test-token", advertiser_id: str = "3001",
                 faults: FaultPlan | None = None, process_polls: int = 1,
                 slow_seconds: float = 0.6, clock: Any = time.time) -> None:
        super().__init__(faults, slow_seconds)
        self.token = token
        self.advertiser_id = advertiser_id
        self.token_expired = False
        self.process_polls = process_polls
        self.clock = clock
        self.uploads: dict[str, dict[str, Any]] = {}
        self.sources: dict[str, dict[str, Any]] = {}
        self.applied: list[tuple[str, int]] = []  # (content md5, operation) per file applied
        self.publishes: list[tuple[str, float]] = []
        self.pushed: dict[str, set[str]] = {}
        self.qc_files: dict[str, bytes] = {}
        self.qc_audiences: dict[str, dict[str, Any]] = {}
        self._next = 90000

    # helpers for tests --------------------------------------------------------------------
    def source_by_name(self, name: str) -> dict[str, Any] | None:
        return next((s for s in self.sources.values() if s["name"] == name), None)

    def settle(self) -> None:
        with self.lock:
            for source in self.sources.values():
                for log in source["change_logs"]:
                    log["polls_left"] = 0
                self._advance(source)

    def fault_body(self, fault: str) -> Any:
        if fault == "rate_limit":
            return {"code": 40100, "message": "请求过于频繁", "request_id": "fake"}
        return {"code": 50000, "message": "系统错误", "request_id": "fake"}

    def _id(self) -> str:
        self._next += 1
        return str(self._next)

    def _ok(self, data: Any) -> tuple[int, Any]:
        return 200, {"code": 0, "message": "OK", "request_id": "fake-req", "data": data}

    def _error(self, code: int, message: str) -> tuple[int, Any]:
        return 200, {"code": code, "message": message, "request_id": "fake-req"}

    def dispatch(self, request: Request) -> tuple[int, Any]:
        if request.headers.get("access-token") != self.token:
            return self._error(40105, "access token 错误")
        if self.token_expired:
            return self._error(40102, "access token 过期")
        route = {
            ("POST", f"{DMP}/data_source/file/upload/"): self._upload,
            ("POST", f"{DMP}/data_source/create/"): self._create,
            ("POST", f"{DMP}/data_source/update/"): self._update,
            ("GET", f"{DMP}/data_source/read/"): self._read,
            ("POST", f"{DMP}/custom_audience/publish/"): self._publish,
            ("POST", f"{DMP}/custom_audience/push_v2/"): self._push,
            ("POST", f"{QC}/audience_file/upload/"): self._qc_upload,
            ("POST", f"{QC}/audience_file/part_upload/"): self._qc_part,
            ("POST", f"{QC}/audience/create_by_file/"): self._qc_create,
        }.get((request.method, request.path))
        if route is None:
            return 404, {"code": 404, "message": "not found"}
        return route(request)

    # DMP --------------------------------------------------------------------------------
    def _upload(self, request: Request) -> tuple[int, Any]:
        fields, files = request.form()
        if fields.get("advertiser_id") != self.advertiser_id:
            return self._error(40002, "没有权限")
        if "file" not in files:
            return self._error(40001, "参数错误: file")
        _, data = files["file"]
        if hashlib.md5(data).hexdigest() != fields.get("file_signature"):
            return self._error(40900, "文件签名错误")
        if len(data) > self.MAX_ZIP:
            return self._error(40001, "文件超过50M")
        try:
            ids, lines = dmp_zip_ids(data)
        except (ValueError, zipfile.BadZipFile) as exc:
            return self._error(40001, f"文件格式错误: {exc}")
        path = f"dmp/{self._id()}.zip"
        self.uploads[path] = {"ids": set(ids), "lines": lines, "content_md5": hashlib.md5(
            "\n".join(sorted(set(ids))).encode()).hexdigest()}
        return self._ok({"file_path": path})

    def _check_paths(self, paths: list[str]) -> str | None:
        if not paths or len(paths) > 1000:
            return "file_paths must hold 1 to 1000 paths"
        missing = [p for p in paths if p not in self.uploads]
        return f"unknown file_path {missing[0]}" if missing else None

    def _create(self, request: Request) -> tuple[int, Any]:
        body = request.json()
        if str(body.get("advertiser_id")) != self.advertiser_id:
            return self._error(40002, "没有权限")
        name = body.get("data_source_name") or ""
        if not name or len(name) > 30:
            return self._error(40001, "data_source_name 长度为1-30")
        problem = self._check_paths(body.get("file_paths") or [])
        if problem:
            return self._error(40001, problem)
        source_id = self._id()
        self.sources[source_id] = {
            "data_source_id": source_id, "name": name, "members": set(), "status": 1,
            "change_logs": [], "custom_audience_id": None, "published": None,
            "last_publish": None}
        self._log(self.sources[source_id], 1, body["file_paths"])
        return self._ok({"data_source_id": source_id})

    def _log(self, source: dict[str, Any], operation: int, paths: list[str]) -> None:
        source["change_logs"].append({"change_log_id": int(self._id()), "action": operation,
                                      "status": 1, "file_paths": list(paths),
                                      "polls_left": self.process_polls})
        source["status"] = 1

    def _update(self, request: Request) -> tuple[int, Any]:
        body = request.json()
        source = self.sources.get(str(body.get("data_source_id")))
        if source is None or str(body.get("advertiser_id")) != self.advertiser_id:
            return self._error(40001, "数据源不存在")
        if body.get("operation_type") not in (1, 2, 3):
            return self._error(40001, "operation_type 只能是 1, 2, 3")
        problem = self._check_paths(body.get("file_paths") or [])
        if problem:
            return self._error(40001, problem)
        self._log(source, body["operation_type"], body["file_paths"])
        return self._ok({"data_source_id": source["data_source_id"]})

    def _advance(self, source: dict[str, Any]) -> None:
        for log in source["change_logs"]:
            if log["status"] != 1:
                continue
            log["polls_left"] -= 1
            if log["polls_left"] > 0:
                continue
            ids: set[str] = set()
            for path in log["file_paths"]:
                ids |= self.uploads[path]["ids"]
                self.applied.append((self.uploads[path]["content_md5"], log["action"]))
            if log["action"] == 1:
                source["members"] |= ids
            elif log["action"] == 2:
                source["members"] -= ids
            else:
                source["members"] = set(ids)
            log["status"] = 2
        if all(log["status"] != 1 for log in source["change_logs"]):
            source["status"] = 2
            if source["custom_audience_id"] is None:
                source["custom_audience_id"] = int(self._id())

    def _read(self, request: Request) -> tuple[int, Any]:
        q = request.query
        if q.get("advertiser_id") != self.advertiser_id:
            return self._error(40002, "没有权限")
        wanted = json.loads(q.get("data_source_id_list") or "[]")
        out = []
        for source_id in wanted:
            source = self.sources.get(str(source_id))
            if source is None:
                continue
            self._advance(source)
            members = source["members"]
            published = (datetime.fromtimestamp(source["last_publish"]).strftime(
                "%Y-%m-%d %H:%M:%S") if source["last_publish"] else None)
            default = None
            if source["custom_audience_id"] is not None:
                default = {"custom_audience_id": source["custom_audience_id"],
                           "status": 1, "delivery_status": "CUSTOM_AUDIENCE_DELIVERY_STATUS_"
                           + ("AVAILABLE" if source["published"] is not None else "UNAVAILABLE"),
                           "upload_num": len(members),
                           "cover_num": sum(1 for m in members if matched(m))}
            out.append({
                "data_source_id": source["data_source_id"], "name": source["name"],
                "status": source["status"], "upload_num": len(members),
                "cover_num": sum(1 for m in members if matched(m)),
                "change_logs": [{k: v for k, v in log.items() if k != "polls_left"}
                                for log in source["change_logs"]],
                "lastest_published_time": published,
                "default_audience": default})
        return self._ok({"data_list": out})

    def _audience(self, custom_id: Any) -> dict[str, Any] | None:
        return next((s for s in self.sources.values()
                     if s["custom_audience_id"] is not None
                     and str(s["custom_audience_id"]) == str(custom_id)), None)

    def _publish(self, request: Request) -> tuple[int, Any]:
        body = request.json()
        source = self._audience(body.get("custom_audience_id"))
        if source is None:
            return self._error(40001, "人群不存在")
        now = self.clock()
        if source["last_publish"] is not None and now - source["last_publish"] < 24 * 3600:
            return self._error(40001, "人群包24小时内只能发布一次")
        source["last_publish"] = now
        source["published"] = set(source["members"])
        self.publishes.append((str(body["custom_audience_id"]), now))
        return self._ok({})

    def _push(self, request: Request) -> tuple[int, Any]:
        body = request.json()
        source = self._audience(body.get("custom_audience_id"))
        targets = body.get("target_advertiser_ids") or []
        if source is None or not targets or len(targets) > 100:
            return self._error(40001, "参数错误")
        self.pushed.setdefault(str(body["custom_audience_id"]), set()).update(
            str(t) for t in targets)
        return self._ok({"success_advertiser_ids": targets})

    # 千川 ----------------------------------------------------------------------------------
    def _qc_upload(self, request: Request) -> tuple[int, Any]:
        fields, files = request.form()
        if fields.get("advertiser_id") != self.advertiser_id or "file" not in files:
            return self._error(40001, "参数错误")
        _, data = files["file"]
        if len(data) > 25 * 1024 * 1024:
            return self._error(40001, "压缩包大小不得超过25M")
        key = f"qc-{self._id()}"
        self.qc_files[key] = data
        return self._ok({"file_key": key, "file_md5": hashlib.md5(data).hexdigest()})

    def _qc_part(self, request: Request) -> tuple[int, Any]:
        fields, files = request.form()
        key = fields.get("file_key") or f"qc-{self._id()}"
        self.qc_files[key] = self.qc_files.get(key, b"") + files["file"][1]
        return self._ok({"file_key": key})

    def _qc_create(self, request: Request) -> tuple[int, Any]:
        body = request.json()
        data = self.qc_files.get(body.get("file_key", ""))
        if data is None:
            return self._error(40001, "file_key 不存在")
        width = {14: 64, 17: 32}.get(body.get("data_type"))
        if width is None:
            return self._error(40001, "data_type 不支持")
        name = body.get("audience_name") or ""
        if not name or len(name) > 30:
            return self._error(40001, "audience_name 长度为1-30")
        from tests.fakes.tencent_ads import zip_lines

        ids = {line for line in zip_lines(data) if len(line) == width}
        audience_id = self._id()
        self.qc_audiences[audience_id] = {"name": name, "members": ids,
                                          "data_type": body["data_type"]}
        return self._ok({"audience_id": int(audience_id)})
