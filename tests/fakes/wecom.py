"""A fake WeCom server API on 127.0.0.1: gettoken, customer read-back, 获客助手, message/send.

It follows the documented JSON shapes (developer.work.weixin.qq.com 96316, 42923, 97297) and
checks credentials and tokens the way WeCom does: a wrong corpid → 40013, wrong secret →
40001, unknown token → 40014, expired token → 42001. Pagination uses opaque cursors.

Faults are queued per path (or for any path with ``"*"``) and consumed one per request:
``errcode`` (e.g. -1 busy, 45009 frequency limit, 60011 no permission), ``http`` (a 5xx page),
``expire`` (expire every token now, so the request fails with 42001), ``slow`` (answer after
``seconds``), ``drop`` (close the connection without answering), ``lost`` (handle the
request, then close without answering — the write happened but the client cannot know).

``message/send`` (document/path/90236) checks the AgentId (40056), the recipients (unknown
members come back in ``invaliduser``; none valid → 81013) and the required fields, and
honours ``enable_duplicate_check``: an identical body within the interval is accepted but not
delivered again. ``delivered`` holds (userid, msgtype, content) per message a member got.

    with FakeWeCom(members={"s1": [...]}) as fake:
        monkeypatch.setenv(*fake.env())
        client = WeComClient(CORP_ID, SECRET, settings=WeComSettings(base_url=fake.base_url))
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

CORP_ID = "wwfakecorp0000000001"
SECRET = "fake-wecom-secret-for-tests"


@dataclass
class Relationship:
    """One (customer, member) follow relationship as WeCom stores it."""

    external_userid: str
    userid: str
    createtime: int
    state: str | None = None
    remark_mobiles: list[str] = field(default_factory=list)
    add_way: int = 1
    link_id: str | None = None  # added through this 获客链接 (its customer_channel is state)


@dataclass
class Fault:
    kind: str  # errcode | http | expire | slow | drop
    errcode: int = 0
    status: int = 500
    seconds: float = 0.0


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o{offset}".encode()).decode()


def _offset(cursor: str) -> int:
    if not cursor:
        return 0
    return int(base64.urlsafe_b64decode(cursor.encode()).decode()[1:])


class FakeWeCom:
    def __init__(self, relationships: list[Relationship] | None = None, *,
                 token_lifetime: int = 7200, follow_users: list[str] | None = None,
                 link_state_in_follow_info: bool = True, agent_ids: tuple[int, ...] = (1000002,),
                 members: tuple[str, ...] | None = None) -> None:
        self.relationships = list(relationships or [])
        self.token_lifetime = token_lifetime
        self.explicit_follow_users = follow_users
        # WeCom documents that a 获客链接's customer_channel comes back as follow_info.state;
        # False models an account where it does not, so only the link API carries it.
        self.link_state_in_follow_info = link_state_in_follow_info
        self.tokens: dict[str, float] = {}  # token → expires at (monotonic)
        self.faults: dict[str, deque[Fault]] = defaultdict(deque)
        self.calls: list[tuple[str, dict[str, Any]]] = []  # (path, body or query) in order
        self.token_issued = 0
        self.agent_ids = agent_ids
        self.members = members  # None: every userid seen in relationships, plus any "u*"
        self.delivered: list[tuple[str, str, dict[str, Any]]] = []
        self._recent: dict[str, float] = {}  # body digest → when it was last accepted
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- scripting ------------------------------------------------------------------------
    def fault(self, path: str, kind: str, **kwargs: Any) -> None:
        """Queue a fault for the next request to ``path`` ("*" = any API path)."""
        self.faults[path].append(Fault(kind, **kwargs))

    def env(self) -> dict[str, str]:
        return {"PRIVMIGRATE_WECOM_CORP_ID": CORP_ID, "PRIVMIGRATE_WECOM_SECRET": SECRET}

    def expire_tokens(self) -> None:
        with self._lock:
            for token in self.tokens:
                self.tokens[token] = 0.0

    def paths(self) -> list[str]:
        return [p for p, _ in self.calls]

    # -- lifecycle ------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeWeCom:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake._handle(self, None)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                fake._handle(self, raw)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    # -- protocol -------------------------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler, raw: bytes | None) -> None:
        url = urlsplit(h.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        path = url.path
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            return self._send(h, 200, {"errcode": 47001, "errmsg": "data format error"})
        with self._lock:
            self.calls.append((path, body if raw is not None else
                               {k: v for k, v in query.items() if k != "corpsecret"}))
            queue = self.faults.get(path) or (self.faults.get("*") if path != "/cgi-bin/gettoken"
                                              else None)
            fault = queue.popleft() if queue else None
        lost = fault is not None and fault.kind == "lost"
        if fault is not None and not lost:
            if fault.kind == "drop":
                h.close_connection = True
                h.connection.close()
                return None
            if fault.kind == "slow":
                time.sleep(fault.seconds)
            elif fault.kind == "http":
                return self._send(h, fault.status, "<html>502 Bad Gateway</html>")
            elif fault.kind == "errcode":
                return self._send(h, 200, {"errcode": fault.errcode,
                                           "errmsg": f"fake error {fault.errcode}, hint: [x]"})
            elif fault.kind == "expire":
                self.expire_tokens()
        if path == "/cgi-bin/gettoken":
            return self._send(h, 200, self._gettoken(query))
        auth = self._check_token(query.get("access_token", ""))
        if auth is not None:
            return self._send(h, 200, auth)
        routes = {
            "/cgi-bin/externalcontact/get_follow_user_list": self._follow_users,
            "/cgi-bin/externalcontact/batch/get_by_user": self._get_by_user,
            "/cgi-bin/externalcontact/customer_acquisition/list_link": self._list_link,
            "/cgi-bin/externalcontact/customer_acquisition/customer": self._acq_customer,
        }
        route = routes.get(path)
        if path == "/cgi-bin/message/send":
            route = self._message_send
        if route is None:
            return self._send(h, 404, "not found")
        answer = route(body)
        if lost:
            h.close_connection = True
            h.connection.close()
            return None
        return self._send(h, 200, answer)

    def _send(self, h: BaseHTTPRequestHandler, status: int, payload: dict[str, Any] | str) -> None:
        data = (json.dumps(payload, ensure_ascii=False) if isinstance(payload, dict)
                else payload).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json; charset=utf-8" if isinstance(
            payload, dict) else "text/html")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def _gettoken(self, query: dict[str, str]) -> dict[str, Any]:
        if query.get("corpid") != CORP_ID:
            return {"errcode": 40013, "errmsg": "invalid corpid"}
        if query.get("corpsecret") != SECRET:
            return {"errcode": 40001, "errmsg": "invalid credential"}
        token = secrets.token_urlsafe(24)
        with self._lock:
            self.tokens[token] = time.monotonic() + self.token_lifetime
            self.token_issued += 1
        return {"errcode": 0, "errmsg": "ok", "access_token": token,
                "expires_in": self.token_lifetime}

    def _check_token(self, token: str) -> dict[str, Any] | None:
        with self._lock:
            expires = self.tokens.get(token)
        if expires is None:
            return {"errcode": 40014, "errmsg": "invalid access_token"}
        if expires <= time.monotonic():
            return {"errcode": 42001, "errmsg": "access_token expired"}
        return None

    def _follow_users(self, _body: dict[str, Any]) -> dict[str, Any]:
        users = self.explicit_follow_users
        if users is None:
            users = sorted({r.userid for r in self.relationships})
        return {"errcode": 0, "errmsg": "ok", "follow_user": users}

    def _get_by_user(self, body: dict[str, Any]) -> dict[str, Any]:
        users = body.get("userid_list") or []
        if not users or len(users) > 100:
            return {"errcode": 40058, "errmsg": "userid_list must hold 1-100 userids"}
        limit = min(int(body.get("limit") or 50), 100)
        rows = [r for r in self.relationships if r.userid in set(users)]
        start = _offset(str(body.get("cursor") or ""))
        page = rows[start:start + limit]
        nxt = _cursor(start + limit) if start + limit < len(rows) else ""
        return {"errcode": 0, "errmsg": "ok", "next_cursor": nxt, "external_contact_list": [
            {"external_contact": {"external_userid": r.external_userid, "name": "测试客户",
                                  "type": 1, "gender": 0},
             "follow_info": {"userid": r.userid, "remark": "", "description": "",
                             "createtime": r.createtime, "tag_id": [],
                             "remark_mobiles": r.remark_mobiles, "add_way": r.add_way,
                             "oper_userid": r.external_userid,
                             **({"state": r.state} if self._shows_state(r) else {})}}
            for r in page]}

    def _is_member(self, userid: str) -> bool:
        if self.members is not None:
            return userid in self.members
        return userid in {r.userid for r in self.relationships} or userid.startswith("u")

    def _message_send(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("agentid") not in self.agent_ids:
            return {"errcode": 40056, "errmsg": "invalid agentid"}
        msgtype = body.get("msgtype")
        content = body.get(str(msgtype)) or {}
        required = {"text": ("content",), "textcard": ("title", "description", "url")}
        if msgtype not in required:
            return {"errcode": 40008, "errmsg": "invalid message type"}
        if any(not content.get(k) for k in required[str(msgtype)]):
            return {"errcode": 40058, "errmsg": "invalid parameter: a required field is empty"}
        users = [u for u in str(body.get("touser") or "").split("|") if u]
        valid = [u for u in users if self._is_member(u)]
        invalid = [u for u in users if not self._is_member(u)]
        if not valid:
            return {"errcode": 81013, "errmsg": "user & party & tag all invalid"}
        msgid = secrets.token_hex(8)
        digest = json.dumps(body, sort_keys=True, ensure_ascii=False)
        now = time.monotonic()
        interval = float(body.get("duplicate_check_interval") or 1800)
        with self._lock:
            seen = self._recent.get(digest)
            duplicate = bool(body.get("enable_duplicate_check")) and seen is not None \
                and now - seen < interval
            if not duplicate:
                self._recent[digest] = now
                self.delivered.extend((u, str(msgtype), dict(content)) for u in valid)
        return {"errcode": 0, "errmsg": "ok", "invaliduser": "|".join(invalid),
                "invalidparty": "", "invalidtag": "", "unlicenseduser": "", "msgid": msgid}

    def _shows_state(self, r: Relationship) -> bool:
        return bool(r.state) and (self.link_state_in_follow_info or not r.link_id)

    def _links(self) -> list[str]:
        return sorted({r.link_id for r in self.relationships if r.link_id})

    def _list_link(self, body: dict[str, Any]) -> dict[str, Any]:
        links = self._links()
        start = _offset(str(body.get("cursor") or ""))
        limit = min(int(body.get("limit") or 100), 100)
        nxt = _cursor(start + limit) if start + limit < len(links) else ""
        return {"errcode": 0, "errmsg": "ok", "link_id_list": links[start:start + limit],
                "next_cursor": nxt}

    def _acq_customer(self, body: dict[str, Any]) -> dict[str, Any]:
        link = body.get("link_id")
        if link not in self._links():
            return {"errcode": 41063, "errmsg": "invalid link_id"}
        rows = [r for r in self.relationships if r.link_id == link]
        limit = min(int(body.get("limit") or 1000), 1000)
        start = _offset(str(body.get("cursor") or ""))
        page = rows[start:start + limit]
        nxt = _cursor(start + limit) if start + limit < len(rows) else ""
        return {"errcode": 0, "errmsg": "ok", "next_cursor": nxt, "customer_list": [
            {"external_userid": r.external_userid, "userid": r.userid, "chat_status": 0,
             "state": r.state or ""} for r in page]}
