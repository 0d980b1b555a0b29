"""What the Aliyun and Tencent SMS fakes share: a loopback HTTP server in a thread, a
delivery counter that can persist across processes, and scripted faults.

Faults are queued and consumed one per request (after the signature check):
- ``fail_next(code)``: answer with the provider's error ``code`` (nothing delivered);
- ``http_error_next(status)``: a bare HTTP error page (nothing delivered);
- ``slow_next(seconds)``: deliver, then answer only after ``seconds`` (client times out);
- ``drop_next()``: deliver (unless ``after_delivery=False``), then close without answering;
- ``garble_next(body)``: deliver, then answer HTTP 200 with a body that is not the
  provider's JSON (``"xml"``, ``"empty"``, ``"html"``: what a proxy or a gateway fallback
  serves) — the outcome is unknown to the client although the messages went out;
- ``pass_next()``: no fault for that call (so a fault can hit the second call of a send).
Per-number outcomes: ``number_codes[phone] = code`` makes that number fail with ``code``.

Every accepted message is kept in ``sent`` (phone, provider id, OutId / SessionContext,
send time by ``record_clock``, template) so the providers' query APIs can answer from it;
``undeliverable`` holds numbers whose carrier receipt says the message never reached them,
``receipt_delay`` is how long (by ``record_clock``) a receipt takes to come back.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass
class Fault:
    kind: str  # pass | code | http | slow | drop | garble
    code: str = ""
    message: str = ""
    status: int = 200
    seconds: float = 0.0
    after_delivery: bool = True


@dataclass
class RawRequest:
    method: str
    path: str  # without the query
    query: str  # raw query string
    headers: dict[str, str]  # lower-case names
    body: bytes


@dataclass
class Reply:
    status: int
    body: dict[str, Any] | str
    headers: dict[str, str] = field(default_factory=dict)


GARBLED = {
    "xml": Reply(200, '<?xml version="1.0" encoding="UTF-8"?><Response><Code>OK</Code>'
                      "</Response>", {"Content-Type": "text/xml;charset=utf-8"}),
    "empty": Reply(200, "", {"Content-Type": "application/json;charset=utf-8"}),
    "html": Reply(200, "<html><body>502 Bad Gateway (cached)</body></html>"),
}


def read_sent(path: Path) -> list[dict[str, Any]]:
    """The accepted-message records of a delivery file (written by ``deliver``)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def read_delivered(path: Path) -> Counter[str]:
    """phone → accepted count recorded in a delivery file (any process, any fake instance)."""
    counts: Counter[str] = Counter()
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                counts[json.loads(line)["phone"]] += 1
    return counts


class FakeSmsServer:
    """Base class; subclasses implement ``authenticate`` and ``process``."""

    provider = "fake"

    def __init__(self, *, ledger_path: Path | None = None) -> None:
        self.ledger_path = Path(ledger_path) if ledger_path else None
        self.delivered: Counter[str] = (read_delivered(self.ledger_path) if self.ledger_path
                                        else Counter())
        self.requests: list[dict[str, Any]] = []  # every authenticated call, in order
        self.rejected_auth: list[str] = []  # error codes of calls refused at the signature check
        self.number_codes: dict[str, str] = {}
        self.sent: list[dict[str, Any]] = (read_sent(self.ledger_path) if self.ledger_path
                                           else [])
        self.undeliverable: set[str] = set()
        self.receipt_delay = 0.0
        self.record_clock: Any = time.time
        self.faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- scripting ------------------------------------------------------------------------
    def pass_next(self, *, times: int = 1) -> None:
        """Let the next ``times`` calls through untouched (to fault a later call)."""
        self.faults.extend(Fault("pass") for _ in range(times))

    def fail_next(self, code: str, message: str = "", *, times: int = 1, status: int = 200
                  ) -> None:
        self.faults.extend(Fault("code", code, message or code, status) for _ in range(times))

    def http_error_next(self, status: int, *, times: int = 1) -> None:
        self.faults.extend(Fault("http", status=status) for _ in range(times))

    def slow_next(self, seconds: float, *, times: int = 1) -> None:
        self.faults.extend(Fault("slow", seconds=seconds) for _ in range(times))

    def drop_next(self, *, times: int = 1, after_delivery: bool = True) -> None:
        self.faults.extend(Fault("drop", after_delivery=after_delivery) for _ in range(times))

    def garble_next(self, body: str = "xml", *, times: int = 1) -> None:
        self.faults.extend(Fault("garble", code=body) for _ in range(times))

    def wait_delivered(self, total: int, timeout: float = 5.0) -> int:
        """Block until ``total`` messages were accepted (a slow reply may still be in flight)."""
        deadline = time.monotonic() + timeout
        while sum(self.delivered.values()) < total and time.monotonic() < deadline:
            time.sleep(0.01)
        return sum(self.delivered.values())

    # -- lifecycle ------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        assert self._server is not None, "use the fake as a context manager"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeSmsServer:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,),
                                        daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # -- used by subclasses ---------------------------------------------------------------
    def deliver(self, phones: list[str], ref: str, out_id: str = "", template: str = ""
                ) -> None:
        with self._lock:
            self.delivered.update(phones)
            at = float(self.record_clock())
            records = [{"provider": self.provider, "phone": phone, "ref": ref,
                        "out_id": out_id, "at": at, "template": template} for phone in phones]
            self.sent.extend(records)
            if self.ledger_path is not None:
                with self.ledger_path.open("a") as fh:
                    for record in records:
                        fh.write(json.dumps(record) + "\n")

    def receipt(self, record: dict[str, Any]) -> tuple[bool, float] | None:
        """(reached the phone?, receipt time) once the carrier answered, else None."""
        if float(self.record_clock()) < record["at"] + self.receipt_delay:
            return None
        return record["phone"] not in self.undeliverable, record["at"] + self.receipt_delay

    @staticmethod
    def request_id() -> str:
        return str(uuid.uuid4()).upper()

    def authenticate(self, request: RawRequest) -> Reply | None:
        raise NotImplementedError

    def process(self, request: RawRequest) -> Reply:
        raise NotImplementedError

    def error_reply(self, code: str, message: str, status: int = 200) -> Reply:
        raise NotImplementedError

    # -- request flow ---------------------------------------------------------------------
    def handle(self, request: RawRequest) -> Reply | None:
        """The reply to send, or None to drop the connection."""
        denied = self.authenticate(request)
        if denied is not None:
            with self._lock:
                self.rejected_auth.append(str(denied.body))
            return denied
        with self._lock:
            fault = self.faults.popleft() if self.faults else None
        if fault and fault.kind == "code":
            self._log(request, fault.code)
            return self.error_reply(fault.code, fault.message, fault.status)
        if fault and fault.kind == "http":
            self._log(request, f"HTTP {fault.status}")
            return Reply(fault.status, "<html><body>upstream error</body></html>")
        if fault and fault.kind == "drop" and not fault.after_delivery:
            self._log(request, "dropped")
            return None
        reply = self.process(request)
        if fault and fault.kind == "drop":
            return None
        if fault and fault.kind == "garble":
            return GARBLED[fault.code]
        if fault and fault.kind == "slow":
            self._closing.wait(fault.seconds)
        return reply

    def describe(self, request: RawRequest) -> dict[str, Any]:
        """``action`` and ``phones`` of a request, for ``requests``."""
        raise NotImplementedError

    def record(self, request: RawRequest, outcome: str) -> None:
        entry = {**self.describe(request), "outcome": outcome,
                 "accept": request.headers.get("accept", "")}
        with self._lock:
            self.requests.append(entry)

    _log = record


def _handler_for(fake: FakeSmsServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # one request per connection, like a plain gateway

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path, _, query = self.path.partition("?")
            request = RawRequest("POST", path, query,
                                 {k.lower(): v for k, v in self.headers.items()}, body)
            reply = fake.handle(request)
            if reply is None:
                self.close_connection = True
                return
            data = (json.dumps(reply.body, ensure_ascii=False) if isinstance(reply.body, dict)
                    else reply.body).encode()
            try:
                self.send_response(reply.status)
                ctype = "application/json" if isinstance(reply.body, dict) else "text/html"
                if not any(n.lower() == "content-type" for n in reply.headers):
                    self.send_header("Content-Type", f"{ctype};charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the client gave up (timeout test)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean (and free of numbers)

    return Handler
