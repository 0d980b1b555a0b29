"""A local fake of the Tencent Ads Marketing API v3.0 customer-file audience calls, and the
loopback server base the Ocean Engine fake shares.

The fake keeps each audience's member set and applies an uploaded file (APPEND / REDUCE)
when it finishes processing it (after ``process_polls`` reads), as the platform does
asynchronously. It checks what the real API checks that matters here: access_token,
timestamp skew, nonce reuse, multipart fields, id types and the zip.

Faults (``FaultPlan``): per request, by seeded chance or scripted per path:
- ``rate_limit`` / ``busy``: the platform's throttling / system-busy code (nothing applied);
- ``http_502``: a bare gateway error before anything is applied;
- ``http_500_after``: applied, then an HTTP 500;
- ``slow``: applied, then answers after ``slow_seconds`` (the client has timed out);
- ``drop_mid_upload``: reads half the body, then closes the connection (nothing applied);
- ``drop_after``: applied, then closes the connection without an answer.
File processing can fail (``error_rate``): the file ends ``ERROR`` and changes nothing.
``applied`` lists (content md5, operation) of every file that changed membership, so tests
can assert that no diff was applied twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import random
import socket
import threading
import time
import zipfile
from collections import deque
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

FAULTS = ("rate_limit", "busy", "http_502", "http_500_after", "slow", "drop_mid_upload",
          "drop_after")
WRITE_ONLY = {"http_500_after", "slow", "drop_mid_upload", "drop_after"}


@dataclass
class FaultPlan:
    """Which fault (or ``ok``) the next request to a path gets."""

    seed: int | None = None
    rates: dict[str, float] = field(default_factory=dict)
    scripted: dict[str, deque[str]] = field(default_factory=dict)
    enabled: bool = True
    injected: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def script(self, path: str, *faults: str) -> None:
        self.scripted.setdefault(path, deque()).extend(faults)

    def next(self, path: str, write: bool) -> str:
        queue = self.scripted.get(path)
        if queue:
            fault = queue.popleft()
        elif not self.enabled or not self.rates:
            fault = "ok"
        else:
            fault = "ok"
            roll = self._random.random()
            for name, rate in self.rates.items():
                if roll < rate:
                    fault = name
                    break
                roll -= rate
        if fault in WRITE_ONLY and not write:
            fault = "ok"
        if fault != "ok":
            self.injected.append((path, fault))
        return fault


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"{}")

    def form(self) -> tuple[dict[str, str], dict[str, tuple[str, bytes]]]:
        """multipart/form-data → (fields, files {name: (filename, bytes)})."""
        ctype = self.headers.get("content-type", "")
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + self.body)
        fields: dict[str, str] = {}
        files: dict[str, tuple[str, bytes]] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True) or b""
            filename = part.get_filename()
            if filename is not None:
                files[name] = (filename, payload)
            else:
                fields[name] = payload.decode()
        return fields, files


class FakeAdServer:
    """A loopback HTTP server in a thread; subclasses implement ``dispatch``."""

    write_paths: frozenset[str] = frozenset()

    def __init__(self, faults: FaultPlan | None = None, slow_seconds: float = 0.6) -> None:
        self.faults = faults or FaultPlan()
        self.slow_seconds = slow_seconds
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None

    # subclasses -----------------------------------------------------------------------
    def dispatch(self, request: Request) -> tuple[int, Any]:
        raise NotImplementedError

    def fault_body(self, fault: str) -> Any:
        raise NotImplementedError

    # server ---------------------------------------------------------------------------
    def start(self) -> str:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> FakeAdServer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(handler.path)
        path = parts.path
        write = method == "POST" and path in self.write_paths
        fault = self.faults.next(path, write)
        headers = {k.lower(): v for k, v in handler.headers.items()}
        if fault == "drop_mid_upload":
            length = int(headers.get("content-length") or 0)
            handler.rfile.read(max(1, length // 2))
            _drop(handler)
            return
        body = _read_body(handler, headers)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        with self.lock:
            self.requests.append((method, path))
        if fault in ("rate_limit", "busy"):
            _reply(handler, 200, self.fault_body(fault))
            return
        if fault == "http_502":
            _reply(handler, 502, "<html>502 Bad Gateway</html>")
            return
        with self.lock:
            status, payload = self.dispatch(Request(method, path, query, headers, body))
        if fault == "slow":
            time.sleep(self.slow_seconds)
        elif fault == "drop_after":
            _drop(handler)
            return
        elif fault == "http_500_after":
            status, payload = 500, "<html>500 Internal Server Error</html>"
        with contextlib.suppress(OSError):  # the client may have given up already
            _reply(handler, status, payload)


def _read_body(handler: BaseHTTPRequestHandler, headers: dict[str, str]) -> bytes:
    if headers.get("transfer-encoding", "").lower() == "chunked":
        out = io.BytesIO()
        while True:
            size = int(handler.rfile.readline().strip().split(b";")[0], 16)
            if size == 0:
                handler.rfile.readline()
                return out.getvalue()
            out.write(handler.rfile.read(size))
            handler.rfile.readline()
    return handler.rfile.read(int(headers.get("content-length") or 0))


def _drop(handler: BaseHTTPRequestHandler) -> None:
    handler.close_connection = True
    with contextlib.suppress(OSError):
        handler.connection.shutdown(socket.SHUT_RDWR)


def _reply(handler: BaseHTTPRequestHandler, status: int, payload: Any) -> None:
    raw = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "text/html" if isinstance(payload, str)
                        else "application/json")
    handler.send_header("Content-Length", str(len(raw)))
    handler.send_header("X-TSA-Trace-Id", "fake-trace")
    handler.end_headers()
    handler.wfile.write(raw)


def matched(member: str) -> bool:
    """Which ids the fake 'matches' to users: about 69 %, decided by the id itself."""
    return member[0] in "0123456789a"


def zip_lines(data: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        lines: list[str] = []
        for name in archive.namelist():
            lines += archive.read(name).decode().splitlines()
    return [line.strip() for line in lines if line.strip()]


class FakeTencentAds(FakeAdServer):
    """custom_audiences/add|get, custom_audience_files/add|get for one account."""

    write_paths = frozenset({"/custom_audiences/add", "/custom_audience_files/add"})
    ID_LENGTH: ClassVar[dict[str, int]] = {"HASH_MOBILE_PHONE": 32, "SHA256_MOBILE_PHONE": 64}
    MAX_ZIP = 100 * 1024 * 1024

    def __init__(self, *, token: str = "tencent-test-token", account_id: str = "2001",
                 faults: FaultPlan | None = None, process_polls: int = 1,
                 error_rate: float = 0.0, seed: int = 0, slow_seconds: float = 0.6,
                 clock: Any = time.time) -> None:
        super().__init__(faults, slow_seconds)
        self.token = token
        self.account_id = account_id
        self.token_expired = False
        self.process_polls = process_polls
        self.error_rate = error_rate
        self._random = random.Random(seed)
        self.clock = clock
        self.nonces: set[str] = set()
        self.audiences: dict[str, dict[str, Any]] = {}
        self.files: dict[str, dict[str, Any]] = {}
        self.applied: list[tuple[str, str]] = []
        self.auth_failures: list[str] = []
        self._next_id = 7000

    def members(self, audience_id: str) -> set[str]:
        return set(self.audiences[str(audience_id)]["members"])

    def audience_by_name(self, name: str) -> dict[str, Any] | None:
        return next((a for a in self.audiences.values() if a["name"] == name), None)

    def settle(self) -> None:
        """Finish processing every pending file now."""
        with self.lock:
            for record in self.files.values():
                record["polls_left"] = 0
                self._process(record)

    def fault_body(self, fault: str) -> Any:
        if fault == "rate_limit":
            return {"code": 11017, "message": "request too frequent per minute",
                    "message_cn": "接口调用频率超过每分钟限制"}
        return {"code": 10000, "message": "system busy", "message_cn": "系统繁忙，请稍后重试"}

    def _id(self) -> str:
        self._next_id += 1
        return str(self._next_id)

    def _error(self, code: int, message: str) -> tuple[int, Any]:
        return 200, {"code": code, "message": message, "message_cn": message}

    def _ok(self, data: Any) -> tuple[int, Any]:
        return 200, {"code": 0, "message": "", "message_cn": "", "data": data}

    def dispatch(self, request: Request) -> tuple[int, Any]:
        q = request.query
        if q.get("access_token") != self.token:
            self.auth_failures.append("token")
            return self._error(11002, "access_token is invalid")
        if self.token_expired:
            return self._error(11000, "access_token has expired")
        try:
            skew = abs(int(q.get("timestamp", "0")) - self.clock())
        except ValueError:
            skew = 1e9
        if skew > 300:
            self.auth_failures.append("timestamp")
            return self._error(11003, "timestamp is out of range")
        nonce = q.get("nonce", "")
        if not nonce or len(nonce) > 32 or nonce in self.nonces:
            self.auth_failures.append("nonce")
            return self._error(11009, "nonce is invalid or was used before")
        self.nonces.add(nonce)
        route = {
            ("POST", "/custom_audiences/add"): self._add_audience,
            ("GET", "/custom_audiences/get"): self._get_audiences,
            ("POST", "/custom_audience_files/add"): self._add_file,
            ("GET", "/custom_audience_files/get"): self._get_files,
        }.get((request.method, request.path))
        if route is None:
            return 404, {"code": 404, "message": "no such interface"}
        return route(request)

    def _add_audience(self, request: Request) -> tuple[int, Any]:
        body = request.json()
        if str(body.get("account_id")) != self.account_id:
            return self._error(11101, "account_id has no permission")
        if body.get("type") != "CUSTOMER_FILE":
            return self._error(31001, "type must be CUSTOMER_FILE")
        name = body.get("name") or ""
        if not name or self.audience_by_name(name):
            return self._error(31002, "audience name already exists")
        audience_id = self._id()
        self.audiences[audience_id] = {"audience_id": int(audience_id), "name": name,
                                       "type": "CUSTOMER_FILE", "members": set(),
                                       "created_time": int(self.clock())}
        return self._ok({"audience_id": int(audience_id)})

    def _page(self, items: list[dict[str, Any]], q: dict[str, str]) -> tuple[int, Any]:
        page, size = int(q.get("page", 1)), int(q.get("page_size", 10))
        total = len(items)
        chunk = items[(page - 1) * size : page * size]
        return self._ok({"list": chunk, "page_info": {
            "page": page, "page_size": size, "total_number": total,
            "total_page": max(1, -(-total // size))}})

    def _get_audiences(self, request: Request) -> tuple[int, Any]:
        q = request.query
        wanted = q.get("audience_id")
        items = []
        for audience in self.audiences.values():
            if wanted and str(audience["audience_id"]) != wanted:
                continue
            files = [f for f in self.files.values()
                     if f["audience_id"] == str(audience["audience_id"])]
            for f in files:
                self._advance(f)
            busy = any(f["process_status"] in ("PENDING", "PROCESSING") for f in files)
            items.append({
                "audience_id": audience["audience_id"], "name": audience["name"],
                "type": "CUSTOMER_FILE", "status": "PROCESSING" if busy else "SUCCESS",
                "online_status": "ONLINE",
                "user_count": sum(1 for m in audience["members"] if matched(m)),
                "created_time": audience["created_time"]})
        return self._page(items, q)

    def _add_file(self, request: Request) -> tuple[int, Any]:
        fields, files = request.form()
        if fields.get("account_id") != self.account_id:
            return self._error(11101, "account_id has no permission")
        audience_id = fields.get("audience_id", "")
        if audience_id not in self.audiences:
            return self._error(31003, "audience does not exist")
        id_type = fields.get("user_id_type", "")
        if id_type not in self.ID_LENGTH:
            return self._error(31004, "user_id_type is not supported")
        operation = fields.get("operation_type", "APPEND")
        if operation not in ("APPEND", "REDUCE"):
            return self._error(31005, "operation_type must be APPEND or REDUCE")
        if "file" not in files:
            return self._error(31006, "file is required")
        filename, data = files["file"]
        if len(data) > self.MAX_ZIP:
            return self._error(31007, "file is larger than 100M")
        try:
            lines = zip_lines(data)
        except zipfile.BadZipFile:
            return self._error(31008, "file is not a zip")
        width = self.ID_LENGTH[id_type]
        valid = {line.lower() for line in lines
                 if len(line) == width and all(c in "0123456789abcdefABCDEF" for c in line)}
        file_id = self._id()
        self.files[file_id] = {
            "custom_audience_file_id": int(file_id), "audience_id": audience_id,
            "name": filename, "user_id_type": id_type, "operation_type": operation,
            "process_status": "PENDING", "process_code": 0, "error_message": "",
            "line_count": len(lines), "valid_line_count": len(valid), "user_count": 0,
            "size": len(data), "created_time": int(self.clock()),
            "polls_left": self.process_polls, "ids": valid,
            "content_md5": hashlib.md5("\n".join(sorted(valid)).encode()).hexdigest(),
        }
        return self._ok({"custom_audience_file_id": int(file_id)})

    def _advance(self, record: dict[str, Any]) -> None:
        if record["process_status"] not in ("PENDING", "PROCESSING"):
            return
        record["polls_left"] -= 1
        record["process_status"] = "PROCESSING"
        if record["polls_left"] <= 0:
            self._process(record)

    def _process(self, record: dict[str, Any]) -> None:
        if record["process_status"] not in ("PENDING", "PROCESSING"):
            return
        if self._random.random() < self.error_rate:
            record.update(process_status="ERROR", process_code=31100,
                          error_message="文件处理失败")
            return
        members = self.audiences[record["audience_id"]]["members"]
        if record["operation_type"] == "APPEND":
            members |= record["ids"]
        else:
            members -= record["ids"]
        record.update(process_status="SUCCESS",
                      user_count=sum(1 for m in record["ids"] if matched(m)))
        self.applied.append((record["content_md5"], record["operation_type"]))

    def _get_files(self, request: Request) -> tuple[int, Any]:
        q = request.query
        items = []
        for record in self.files.values():
            if q.get("audience_id") and record["audience_id"] != q["audience_id"]:
                continue
            if q.get("custom_audience_file_id") and str(
                    record["custom_audience_file_id"]) != q["custom_audience_file_id"]:
                continue
            self._advance(record)
            items.append({k: v for k, v in record.items()
                          if k not in ("ids", "polls_left", "content_md5")})
        return self._page(items, q)
