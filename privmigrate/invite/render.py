"""Template rendering, offers and SMS billing length — pure functions over Series.

What a phone shows is ``【signature】`` + the rendered body, and that is what providers bill:
≤ 70 characters is one part, longer messages are billed in 67-character parts, 500 at most
(reference §3.2). Variable values are cleaned here so that no message can break a rule the
template itself obeys: no 【】, no links, 1–35 characters each, never empty.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd

from privmigrate.errors import ConfigError
from privmigrate.invite.settings import UNSUBSCRIBE, InviteSettings, Offer, Template

SINGLE_PART = 70
PART = 67
MAX_LENGTH = 500
MAX_VARIABLE = 35  # Aliyun: each variable value 1–35 characters
_VAR_SPLIT = re.compile(r"(\{(?:name|product|offer|staff)\})")
_CJK_NAME = r"^[\u4e00-\u9fff·]{2,%d}$"
_LATIN_NAME = r"^[A-Za-z][A-Za-z .]{1,%d}$"
_COMPOUND_SURNAMES = (
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文",
    "司徒", "夏侯", "轩辕", "令狐", "端木", "独孤", "南宫", "西门", "申屠",
)
_LINKS = r"(?i)https?://\S*|www\.\S*|\S+\.(?:cn|com|net|top|cc)\b\S*"


def billed_parts(length: pd.Series | np.ndarray) -> np.ndarray:
    """Billed SMS parts for full-message lengths (signature included)."""
    n = np.asarray(length, dtype=np.int64)
    return np.where(n <= SINGLE_PART, 1, -(-n // PART))


def signature(sign_name: str) -> str:
    return f"【{sign_name}】"


def display_names(names: pd.Series, max_chars: int) -> pd.Series:
    """Names fit to greet someone with, else NA: 2–max CJK or Latin letters, nothing masked."""
    s = names.astype("string").str.strip().str.replace(r"\s+", " ", regex=True)
    ok = s.str.match(_CJK_NAME % max_chars) | s.str.match(_LATIN_NAME % (max_chars - 1))
    return s.where(ok.fillna(False).astype(bool))


def surnames(names: pd.Series) -> pd.Series:
    """The surname when the name starts with a Chinese character (masked names too: 张**)."""
    s = names.astype("string").str.strip()
    first = s.str.slice(0, 1)
    two = s.str.slice(0, 2)
    compound = two.isin(_COMPOUND_SURNAMES) & s.str.len().ge(3)
    out = first.where(first.str.match(r"[\u4e00-\u9fff]").fillna(False).astype(bool))
    return out.mask(compound.fillna(False).astype(bool), two)


def honorifics(names: pd.Series, suffix: str, salutation: str) -> pd.Series:
    """张客户-style forms of address: surname + configured suffix (we rarely know gender)."""
    sur = surnames(names)
    return (sur + suffix).fillna(salutation).astype("string")


def clean_products(products: pd.Series, max_chars: int, fallback: str) -> pd.Series:
    """A short product name: no 【…】/[…] promotions, links or symbols, cut to max_chars."""
    s = products.astype("string")
    s = s.str.replace(r"【[^】]*】|\[[^\]]*\]|（[^）]*）|\([^)]*\)", " ", regex=True)
    s = s.str.replace(_LINKS, " ", regex=True)
    s = s.str.replace(r"[^\u4e00-\u9fffA-Za-z0-9 .+\-]", " ", regex=True)
    s = s.str.replace(r"\s+", " ", regex=True).str.strip()
    cut = s.str.slice(0, max_chars)
    # a cut inside a Latin/digit word ("120g" → "120") drops that partial word
    mid_word = (s.str.len().gt(max_chars) & cut.str.contains(r"\s", regex=True)
                & s.str.slice(max_chars - 1, max_chars + 1).str.fullmatch(r"[A-Za-z0-9.+\-]{2}"))
    cut = cut.mask(mid_word.fillna(False).astype(bool), cut.str.replace(r"\s+\S*$", "", regex=True))
    s = cut.str.strip()
    return s.mask(s.fillna("").str.len().lt(2), fallback).fillna(fallback).astype("string")


def _format_value(values: pd.Series) -> pd.Series:
    whole = values.round(2) == np.floor(values.round(2))
    as_int = values.round(0).astype("int64").astype("string")
    as_dec = values.round(2).map(lambda v: f"{v:.2f}").astype("string")
    return as_int.where(whole, as_dec)


def offer_values(offer: Offer, avg_amount: pd.Series) -> pd.Series:
    """The offer's number per customer: fixed, or a share of avg_amount rounded down to step."""
    if offer.value is not None:
        return pd.Series(offer.value, index=avg_amount.index, dtype="float64")
    pct = offer.percent_of_avg or 0.0
    raw = avg_amount.astype("float64").fillna(0.0) * pct / 100.0
    stepped = np.floor(raw / offer.step + 1e-9) * offer.step
    return stepped.clip(lower=offer.min_value, upper=offer.max_value)


def offer_texts(segments: pd.Series, avg_amount: pd.Series, offers: tuple[Offer, ...],
                fallback: str) -> pd.Series:
    """The offer text per customer: the first configured offer naming their segment."""
    out = pd.Series(pd.NA, index=segments.index, dtype="string")
    seg = segments.astype("string")
    for offer in offers:
        todo = out.isna() & seg.isin(offer.segments).fillna(False)
        if not todo.any():
            continue
        head, _, tail = offer.text.partition("{value}")
        if "{value}" in offer.text:
            values = _format_value(offer_values(offer, avg_amount[todo]))
            out[todo] = head + values + tail
        else:
            out[todo] = offer.text
    return out.fillna(fallback)


def render(text: str, values: dict[str, pd.Series], index: pd.Index) -> pd.Series:
    """Fill ``{name}``-style variables of ``text`` from per-row Series."""
    out = pd.Series("", index=index, dtype="string")
    for piece in _VAR_SPLIT.split(text):
        if not piece:
            continue
        if _VAR_SPLIT.fullmatch(piece):
            out = out + values[piece[1:-1]].astype("string")
        else:
            out = out + piece
    return out


def template_params(template: Template, values: dict[str, pd.Series],
                    index: pd.Index) -> pd.Series:
    """The provider's TemplateParam per row: a JSON object in the template's variable order.

    Positional providers (Tencent ``{1}{2}``) take the values in this order.
    """
    names = template.variables
    if not names:
        return pd.Series("{}", index=index, dtype="string")
    frame = pd.DataFrame({n: values[n].astype("string") for n in names}, index=index)
    return pd.Series(
        [json.dumps(dict(zip(names, row, strict=True)), ensure_ascii=False)
         for row in frame.itertuples(index=False, name=None)],
        index=index, dtype="string",
    )


def check_messages(full: pd.Series, template: Template, values: dict[str, pd.Series],
                   sign_name: str) -> None:
    """The compliance gate each rendered SMS passes before anything is written."""
    sig = signature(sign_name)
    body = full.str.slice(len(sig))
    problems = {
        "does not start with the signature": ~full.str.startswith(sig),
        f"does not end with {UNSUBSCRIBE}": ~body.str.endswith(UNSUBSCRIBE),
        "has 【】 in the body": body.str.contains("[【】]", regex=True),
        f"is longer than {MAX_LENGTH} characters": full.str.len().gt(MAX_LENGTH),
    }
    for name in template.variables:
        v = values[name].astype("string")
        problems[f"has an empty {{{name}}}"] = v.isna() | v.str.len().eq(0)
        problems[f"has {{{name}}} over {MAX_VARIABLE} characters"] = v.str.len().gt(MAX_VARIABLE)
        problems[f"has a link in {{{name}}}"] = v.str.contains(_LINKS, regex=True)
    for what, mask in problems.items():
        if bool(mask.fillna(True).any()):
            raise ConfigError(
                f"privmigrate.toml: template {template.id!r} renders a message that {what} "
                f"({int(mask.fillna(True).sum())} messages); fix the template or the "
                "invite fallbacks"
            )


def worst_case_length(template: Template, s: InviteSettings) -> int:
    """The longest message the template can render (SMS: with the signature)."""
    offer_max = max([_offer_max(o) for o in s.offers] + [len(s.offer_fallback)])
    worst = {
        "name": max(s.name_max_chars, len(s.salutation)),
        "product": max(s.product_max_chars, len(s.product_fallback)),
        "offer": offer_max,
        "staff": max(len(st.name) for st in s.staff),
    }
    fixed = len(_VAR_SPLIT.sub("", template.text))
    head = len(signature(s.sign_name)) if template.channel == "sms" else 0
    return head + fixed + sum(worst[v] for v in template.variables)


def _offer_max(offer: Offer) -> int:
    if "{value}" not in offer.text:
        return len(offer.text)
    top = offer.value if offer.value is not None else offer.max_value
    digits = len(f"{top:.2f}")
    return len(offer.text) - len("{value}") + digits


def check_templates(s: InviteSettings) -> None:
    """Config-time compliance: every SMS template fits in max_parts with any customer."""
    offer_max = max([_offer_max(o) for o in s.offers] + [len(s.offer_fallback)])
    if offer_max > MAX_VARIABLE:
        raise ConfigError(
            f"privmigrate.toml: an [[invite.offers]] text can reach {offer_max} characters; "
            f"providers accept at most {MAX_VARIABLE} per variable — shorten it"
        )
    for t in s.templates_for("sms"):
        worst = worst_case_length(t, s)
        parts = int(billed_parts(np.array([worst]))[0])
        if worst > MAX_LENGTH or parts > s.max_parts:
            raise ConfigError(
                f"privmigrate.toml: template {t.id!r} can reach {worst} billed characters "
                f"with the signature ({parts} parts; invite.max_parts = {s.max_parts}, "
                f"at most {MAX_LENGTH}); shorten the text or lower name_max_chars / "
                "product_max_chars"
            )
    for t in s.templates_for("wecom_add"):  # the 申请语 a member sends with the add request
        worst = worst_case_length(t, s)
        if worst > s.wecom_add.greeting_max_chars:
            raise ConfigError(
                f"privmigrate.toml: wecom_add template {t.id!r} (申请语) can reach {worst} "
                f"characters; invite.wecom_add.greeting_max_chars = "
                f"{s.wecom_add.greeting_max_chars}: shorten the text or lower name_max_chars / "
                "product_max_chars"
            )


def parts_for(length: int) -> int:
    return 1 if length <= SINGLE_PART else math.ceil(length / PART)
