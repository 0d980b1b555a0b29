"""The ``[invite]`` section of privmigrate.toml, parsed and checked once.

Everything a night's plan depends on lives here, so planning stays a pure function of
(customers, ledger history, settings, night). Templates are checked for compliance when the
config is read: a template that cannot comply is a config error, not a runtime surprise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from privmigrate.config import Section
from privmigrate.errors import ConfigError

CHANNELS = ("sms", "call", "wecom_add")
VARIABLES = ("name", "product", "offer", "staff")
# WeCom limits a staff account's customers (reference §4.5: 5,000 at first, expandable to
# 20,000; third-party sources, conflicting). No official daily proactive-add limit was found:
# DEFAULT_DAILY_ADD_BUDGET is our assumption, configurable per account (UNCONFIRMED).
DEFAULT_MAX_CUSTOMERS = 5_000
DEFAULT_DAILY_ADD_BUDGET = 20
REMARK_MAX_CHARS = 20  # externalcontact/remark: 备注 最多20个字符 (document/path/96317)
REMARK_VARIABLES = ("name", "phone_tail", "segment", "last_order_date", "staff")
UNSUBSCRIBE = "拒收请回复R"
RFM_SEGMENTS = (
    "重要价值客户", "重要保持客户", "重要发展客户", "重要挽留客户",
    "一般价值客户", "一般保持客户", "一般发展客户", "一般挽留客户",
)
WINDOW_FLOOR = time(8, 0)
WINDOW_CEILING = time(21, 0)
SIGNATURE_RE = re.compile(r"^[\u4e00-\u9fffA-Za-z0-9]{2,12}$")
_VAR_RE = re.compile(r"\{([^{}]*)\}")
_CAMPAIGN_RE = re.compile(r"[A-Za-z0-9_.\-]{1,32}")


@dataclass(frozen=True)
class Template:
    """One provider-approved template (sms) or call script (call)."""

    id: str
    channel: str
    code: str  # the provider's approved template code (sms); free label for calls
    text: str
    segments: tuple[str, ...]
    variant: str
    weight: float
    customer_channel: str  # 获客助手 customer_channel carried by the template's fixed link

    @property
    def variables(self) -> tuple[str, ...]:
        """Variables in order of first appearance (the order positional providers need)."""
        seen: list[str] = []
        for name in _VAR_RE.findall(self.text):
            if name not in seen:
                seen.append(name)
        return tuple(seen)


@dataclass(frozen=True)
class Offer:
    """What a segment is offered: fixed text, or a coupon value derived from avg_amount."""

    segments: tuple[str, ...]
    text: str  # may contain {value}
    value: float | None
    percent_of_avg: float | None
    min_value: float
    max_value: float
    step: float


@dataclass(frozen=True)
class Staff:
    """A WeCom account that takes new friends, and the agent who works it.

    ``daily_capacity``: SMS/call invitees routed to the account a night (they add it);
    ``daily_add_budget``: buyers the member adds by phone a night (wecom_add);
    ``max_customers``: the account's customer ceiling — nothing is routed to a full account.
    """

    id: str
    name: str
    daily_capacity: int
    max_customers: int = DEFAULT_MAX_CUSTOMERS
    daily_add_budget: int = DEFAULT_DAILY_ADD_BUDGET
    agent: str = ""  # who works the account (several accounts may share one agent)

    @property
    def owner(self) -> str:
        """The agent, or the account's own name when no agent is configured."""
        return self.agent or self.name


@dataclass(frozen=True)
class WecomAdd:
    """``[invite.wecom_add]``: how staff add buyers by phone (channel ``wecom_add``)."""

    remark: str  # suggested 备注, from REMARK_VARIABLES, ≤ REMARK_MAX_CHARS once rendered
    greeting_max_chars: int  # 申请语 length limit (UNCONFIRMED; configurable)
    expire_days: int  # not added within this many days → expired
    notify: bool  # send each member a WeCom application message with the night's count
    agent_id: int | None  # the 自建应用 AgentId that sends it
    sheet_url: str  # link in the text card ({night}, {staff_id} filled); "" → text message
    benchmark_add_rate: float | None = None  # the 客服绩效 sheet's target add rate (0–1)


@dataclass(frozen=True)
class Window:
    start: time
    end: time
    timezone: str


@dataclass(frozen=True)
class InviteSettings:
    campaign: str
    segments: tuple[str, ...]
    channel_order: tuple[str, ...]
    daily_limit: int
    budgets: dict[str, int]
    cooldown_days: int
    holdout_percent: float
    sign_name: str
    salutation: str
    honorific_suffix: str
    product_fallback: str
    offer_fallback: str
    name_max_chars: int
    product_max_chars: int
    max_parts: int
    call_state_prefix: str
    unsubscribe_keywords: tuple[str, ...]
    templates: tuple[Template, ...]
    offers: tuple[Offer, ...]
    staff: tuple[Staff, ...]
    window: Window
    wecom_add: WecomAdd = field(default_factory=lambda: WecomAdd(
        "{name}{phone_tail}", 50, 7, False, None, "", None))

    @classmethod
    def from_config(cls, raw: dict[str, Any]) -> InviteSettings:
        return parse_settings(raw)

    def agent_accounts(self) -> dict[str, tuple[str, ...]]:
        """Agent → the staff ids (WeCom userids) of the accounts that agent works."""
        out: dict[str, list[str]] = {}
        for st in self.staff:
            out.setdefault(st.owner, []).append(st.id)
        return {agent: tuple(ids) for agent, ids in out.items()}

    def templates_for(self, channel: str) -> tuple[Template, ...]:
        return tuple(t for t in self.templates if t.channel == channel)

    def template(self, template_id: str) -> Template:
        for t in self.templates:
            if t.id == template_id:
                return t
        raise ConfigError(
            f"privmigrate.toml: template {template_id!r} was used by a stored plan but is no "
            "longer in [[invite.templates]]; restore it or plan another night"
        )


DEFAULT_UNSUBSCRIBE_KEYWORDS = ("R", "TD", "T", "退订", "拒收")

_KNOWN = (
    "campaign", "segments", "channels", "daily_limit", "budgets", "cooldown_days",
    "holdout_percent", "sign_name", "salutation", "honorific_suffix",
    "product_fallback", "offer_fallback", "name_max_chars", "product_max_chars", "max_parts",
    "call_state_prefix", "unsubscribe_keywords", "templates", "offers", "staff", "window", "sms",
    "wecom_add",
)


def parse_settings(raw: dict[str, Any]) -> InviteSettings:
    """Parse and validate ``[invite]``; every error names its dotted key."""
    sec = Section.of(raw, "invite")
    sec.unknown_keys(_KNOWN)
    campaign = sec.get("campaign", str, "wecom-invite")
    if not _CAMPAIGN_RE.fullmatch(campaign):
        raise sec.fail("campaign", "must be 1–32 letters, digits, '.', '-' or '_'")
    segments = tuple(_str_list(sec, "segments", list(RFM_SEGMENTS[:4])))
    if not segments:
        raise sec.fail("segments", "must list at least one segment to invite")
    order = tuple(_str_list(sec, "channels", ["call", "sms"]))
    for ch in order:
        if ch not in CHANNELS:
            raise sec.fail("channels", f"has {ch!r}; use sms, call and/or wecom_add")
    budgets_sec = sec.table("budgets")
    budgets_sec.unknown_keys(CHANNELS)
    budgets = {ch: int(budgets_sec.number(ch, 1_000_000, lo=0)) for ch in CHANNELS}
    sign_name = sec.get("sign_name", str, "")
    if "sms" in order and not SIGNATURE_RE.match(sign_name):
        raise sec.fail(
            "sign_name",
            "must be the approved SMS signature: 2–12 Chinese characters, letters or digits, "
            "without 【】 (the provider adds them)",
        )
    settings = InviteSettings(
        campaign=campaign,
        segments=segments,
        channel_order=order,
        daily_limit=int(sec.number("daily_limit", 2000, lo=0)),
        budgets=budgets,
        cooldown_days=int(sec.number("cooldown_days", 30, lo=0, hi=3650)),
        holdout_percent=sec.number("holdout_percent", 10.0, lo=0, hi=90),
        sign_name=sign_name,
        salutation=_clean_text(sec, "salutation", "尊敬的顾客"),
        honorific_suffix=_clean_text(sec, "honorific_suffix", "客户"),
        product_fallback=_clean_text(sec, "product_fallback", "心仪好物"),
        offer_fallback=_clean_text(sec, "offer_fallback", "老客专属福利"),
        name_max_chars=int(sec.number("name_max_chars", 8, lo=1, hi=35)),
        product_max_chars=int(sec.number("product_max_chars", 12, lo=1, hi=35)),
        max_parts=int(sec.number("max_parts", 2, lo=1, hi=8)),
        call_state_prefix=sec.get("call_state_prefix", str, "pm"),
        unsubscribe_keywords=tuple(
            _str_list(sec, "unsubscribe_keywords", list(DEFAULT_UNSUBSCRIBE_KEYWORDS))
        ),
        templates=tuple(_templates(sec, segments)),
        offers=tuple(_offers(sec)),
        staff=tuple(_staff(sec)),
        window=_window(sec.table("window")),
        wecom_add=_wecom_add(sec.table("wecom_add")),
    )
    if not re.fullmatch(r"[A-Za-z0-9]{0,5}", settings.call_state_prefix):
        raise sec.fail("call_state_prefix", "must be 0–5 letters or digits (联系我 state ≤ 30)")
    _check_coverage(sec, settings)
    from privmigrate.invite.render import check_templates  # render depends on this module

    check_templates(settings)
    return settings


def unsubscribe_keywords(raw: dict[str, Any]) -> tuple[str, ...]:
    """Only ``invite.unsubscribe_keywords``: importing replies must not need a sendable config."""
    sec = Section.of(raw, "invite")
    return tuple(_str_list(sec, "unsubscribe_keywords", list(DEFAULT_UNSUBSCRIBE_KEYWORDS)))


def _str_list(sec: Section, key: str, default: list[str]) -> list[str]:
    value = sec.get(key, list, default)
    if not all(isinstance(v, str) and v.strip() for v in value):
        raise sec.fail(key, "must be a list of non-empty strings")
    return [v.strip() for v in value]


def _clean_text(sec: Section, key: str, default: str) -> str:
    value = sec.get(key, str, default).strip()
    if not value or any(c in value for c in "【】{}") or _looks_like_link(value):
        raise sec.fail(key, "must be non-empty plain text without 【】, braces or links")
    return value


def _looks_like_link(text: str) -> bool:
    return bool(re.search(r"(?i)https?://|www\.|\.(?:cn|com|net|top|cc)\b", text))


def _templates(sec: Section, segments: tuple[str, ...]) -> list[Template]:
    out: list[Template] = []
    for t in sec.tables("templates"):
        t.unknown_keys(("id", "channel", "code", "text", "segments", "variant", "weight",
                        "customer_channel"))
        tid = t.get("id", str, "")
        if not re.fullmatch(r"[A-Za-z0-9_\-]{1,32}", tid):
            raise t.fail("id", "must be 1–32 letters, digits, - or _")
        if any(o.id == tid for o in out):
            raise t.fail("id", f"{tid!r} is used by two templates; ids must be unique")
        channel = t.choice("channel", CHANNELS, "sms")
        code = t.get("code", str, tid if channel != "sms" else "")
        if channel == "sms" and not code.strip():
            raise t.fail("code", "must be the provider's approved template code (e.g. SMS_1234)")
        segs = tuple(_str_list(t, "segments", list(segments)))
        unknown = [s for s in segs if s not in segments]
        if unknown:
            raise t.fail("segments", f"has {unknown[0]!r}, which is not in invite.segments")
        cc = t.get("customer_channel", str, tid)
        if len(cc.encode()) > 64 or not cc:
            raise t.fail("customer_channel", "must be 1–64 bytes (获客助手 customer_channel)")
        template = Template(
            id=tid, channel=channel, code=code.strip(), text=t.get("text", str, "").strip(),
            segments=segs, variant=t.get("variant", str, "A"),
            weight=t.number("weight", 1.0, lo=0), customer_channel=cc,
        )
        _check_text(t, template)
        out.append(template)
    return out


def _check_text(t: Section, template: Template) -> None:
    text = template.text
    if not text:
        raise t.fail("text", "must not be empty")
    for name in _VAR_RE.findall(text):
        if name not in VARIABLES:
            raise t.fail("text", f"uses {{{name}}}; the variables are {{name}} {{product}} "
                                 "{offer} {staff}")
    if re.search(r"\}\s*\{", text):
        raise t.fail("text", "has two adjacent variables; providers reject that, put text between")
    if not _VAR_RE.sub("", text).strip():
        raise t.fail("text", "is only variables; providers reject all-variable templates")
    if template.channel != "sms":
        return
    if any(c in text for c in "【】"):
        raise t.fail("text", "must not contain 【】; the provider adds the signature")
    if not text.endswith(UNSUBSCRIBE):
        raise t.fail("text", f"must end with {UNSUBSCRIBE} (marketing SMS rule)")
    counts = {v: len(re.findall(r"\{" + v + r"\}", text)) for v in VARIABLES}
    twice = [v for v, n in counts.items() if n > 1]
    if twice:
        raise t.fail("text", f"uses {{{twice[0]}}} more than once; a variable may appear once")


def _offers(sec: Section) -> list[Offer]:
    out: list[Offer] = []
    for o in sec.tables("offers"):
        o.unknown_keys(("segments", "text", "value", "percent_of_avg", "min_value", "max_value",
                        "step"))
        text = o.get("text", str, "{value}元券")
        if any(c in text for c in "【】") or _looks_like_link(text):
            raise o.fail("text", "must be plain text without 【】 or links")
        value = o.get("value", (int, float), None)  # type: ignore[arg-type]
        pct = o.get("percent_of_avg", (int, float), None)  # type: ignore[arg-type]
        if "{value}" in text and value is None and pct is None:
            raise o.fail("text", "uses {value}; set value or percent_of_avg")
        out.append(Offer(
            segments=tuple(_str_list(o, "segments", [])),
            text=text,
            value=None if value is None else float(value),
            percent_of_avg=None if pct is None else float(pct),
            min_value=o.number("min_value", 0.0, lo=0),
            max_value=o.number("max_value", 1_000.0, lo=0),
            step=o.number("step", 1.0, lo=0.01),
        ))
    return out


def _staff(sec: Section) -> list[Staff]:
    out: list[Staff] = []
    for s in sec.tables("staff"):
        s.unknown_keys(("id", "name", "daily_capacity", "max_customers", "daily_add_budget",
                        "agent"))
        sid = s.get("id", str, "")
        if not sid:
            raise s.fail("id", "must be the WeCom userid of the staff account")
        name = s.get("name", str, sid)
        if any(c in name for c in "【】{}[]:*?/\\") or len(name) > 12:
            raise s.fail("name", "must be ≤ 12 characters without 【】{}[]:*?/\\")
        if any(o.id == sid or o.name == name for o in out):
            raise s.fail("id", f"{sid!r}/{name!r} is listed twice")
        agent = s.get("agent", str, "").strip()
        if any(c in agent for c in "【】{}[]:*?/\\") or len(agent) > 32:
            raise s.fail("agent", "must be ≤ 32 characters without 【】{}[]:*?/\\")
        out.append(Staff(
            sid, name, int(s.number("daily_capacity", 100, lo=0)),
            max_customers=int(s.number("max_customers", DEFAULT_MAX_CUSTOMERS, lo=0,
                                       hi=1_000_000)),
            daily_add_budget=int(s.number("daily_add_budget", DEFAULT_DAILY_ADD_BUDGET, lo=0,
                                          hi=100_000)),
            agent=agent,
        ))
    if not out:
        out.append(Staff("default", "顾问", 100))
    return out


def _wecom_add(sec: Section) -> WecomAdd:
    sec.unknown_keys(("remark", "greeting_max_chars", "expire_days", "notify", "agent_id",
                      "sheet_url", "benchmark_add_rate"))
    remark = sec.get("remark", str, "{name}{phone_tail}").strip()
    names = _VAR_RE.findall(remark)
    bad = [n for n in names if n not in REMARK_VARIABLES]
    if bad or not remark:
        raise sec.fail("remark", f"uses {{{bad[0] if bad else ''}}}; the variables are "
                                 + " ".join(f"{{{v}}}" for v in REMARK_VARIABLES))
    fixed = len(_VAR_RE.sub("", remark))
    if fixed > REMARK_MAX_CHARS:
        raise sec.fail("remark", f"has {fixed} fixed characters; WeCom's 备注 holds at most "
                                 f"{REMARK_MAX_CHARS}")
    agent_id = sec.get("agent_id", int, None)  # type: ignore[arg-type]
    notify = sec.get("notify", bool, False)
    if notify and agent_id is None:
        raise sec.fail("agent_id", "must be the 自建应用 AgentId when notify = true "
                                   "(应用管理 → the app → AgentId)")
    url = sec.get("sheet_url", str, "").strip()
    if url and not re.match(r"https?://", url):
        raise sec.fail("sheet_url", "must start with http:// or https:// (WeCom text cards)")
    return WecomAdd(
        remark=remark,
        greeting_max_chars=int(sec.number("greeting_max_chars", 50, lo=5, hi=200)),
        expire_days=int(sec.number("expire_days", 7, lo=1, hi=90)),
        notify=notify, agent_id=agent_id, sheet_url=url,
        benchmark_add_rate=None if sec.get("benchmark_add_rate", (int, float), None) is None
        else sec.number("benchmark_add_rate", 0.0, lo=0, hi=1),
    )


def _parse_hhmm(sec: Section, key: str, default: str) -> time:
    value = sec.get(key, str, default)
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", value)
    if not m or int(m[1]) > 23 or int(m[2]) > 59:
        raise sec.fail(key, f"must be HH:MM, got {value!r}")
    return time(int(m[1]), int(m[2]))


def _window(sec: Section) -> Window:
    sec.unknown_keys(("start", "end", "timezone"))
    start = _parse_hhmm(sec, "start", "09:00")
    end = _parse_hhmm(sec, "end", "20:00")
    if start < WINDOW_FLOOR or end > WINDOW_CEILING or start >= end:
        raise sec.fail("start", "and end must satisfy 08:00 ≤ start < end ≤ 21:00 "
                                "(marketing SMS hours)")
    timezone = sec.get("timezone", str, "Asia/Shanghai")
    try:
        ZoneInfo(timezone)
    except (ValueError, ZoneInfoNotFoundError):
        raise sec.fail("timezone", f"is not a known time zone: {timezone!r}; use an IANA name "
                                   "such as \"Asia/Shanghai\"") from None
    return Window(start, end, timezone)


def _check_coverage(sec: Section, s: InviteSettings) -> None:
    """Every invited segment needs a template on at least one enabled channel."""
    for ch in s.channel_order:
        if not s.templates_for(ch):
            raise sec.fail("templates", f"has no template with channel = {ch!r}; add one or "
                                        f"remove {ch!r} from invite.channels")
        for seg in s.segments:
            group = [t for t in s.templates_for(ch) if seg in t.segments]
            if group and sum(t.weight for t in group) <= 0:
                raise sec.fail("templates", f"weights for {ch}/{seg} sum to 0")
