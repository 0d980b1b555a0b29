"""User segments: named rules over the customer columns, compiled to vectorised masks.

A rule's ``when`` is a small expression language, parsed here and never evaluated as Python:

    orders >= 3 and total_amount >= 1000
    rfm_segment in ["重要挽留客户", "重要保持客户"] and reachable_by_sms
    not in_private_domain and (province == "浙江省" or city contains "杭州")
    sources contains "taobao" and last_paid_at >= "2026-01-01"

Grammar: ``or``/``and``/``not`` and parentheses; comparisons ``== != < <= > >=`` between a
column and a number, a quoted string, ``true``/``false`` or another column of the same kind;
``column in [..]`` / ``column not in [..]``; ``column contains "text"`` (substring of a text
column, member of ``sources``); a bare true/false column. Dates compare with "YYYY-MM-DD"
strings. A comparison with an empty value is false. Every problem is a ConfigError that names
the rule.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from privmigrate.errors import ConfigError
from privmigrate.scoring.columns import RULE_COLUMNS

Mask = Callable[[pd.DataFrame], np.ndarray]

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<num>-?\d+(?:\.\d+)?)
    | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    | (?P<op>==|!=|<=|>=|<|>|=)
    | (?P<punct>[()\[\],])
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "in", "contains", "true", "false"}
_ORDERING = {"<", "<=", ">", ">="}
_OPS = {"==": np.equal, "!=": np.not_equal, "<": np.less, "<=": np.less_equal,
        ">": np.greater, ">=": np.greater_equal}


class RuleSyntaxError(Exception):
    """A problem in one rule's text (turned into a ConfigError naming the rule)."""


@dataclass(frozen=True)
class Token:
    kind: str  # num, str, op, punct, name, kw, end
    text: str
    pos: int


@dataclass(frozen=True)
class Operand:
    """A column reference or a literal."""

    column: str | None = None
    value: Any = None

    @property
    def kind(self) -> str:
        if self.column is not None:
            return RULE_COLUMNS[self.column]
        if isinstance(self.value, bool):
            return "bool"
        return "number" if isinstance(self.value, int | float) else "string"


@dataclass(frozen=True)
class Rule:
    """A named user segment: customers matching ``when`` (and no earlier rule) get ``name``."""

    name: str
    when: str
    mask: Mask

    def evaluate(self, customers: pd.DataFrame) -> np.ndarray:
        return self.mask(customers)


def parse_rule(name: str, when: str, where: str = "segment.rules") -> Rule:
    """Compile one rule; ConfigError naming the rule on any problem."""
    try:
        mask = _Parser(when).parse()
    except RuleSyntaxError as exc:
        raise ConfigError(
            f"privmigrate.toml: {where}: segment rule {name!r}: {exc} in `{when}`; "
            "see docs/segment.md for the rule language"
        ) from None
    return Rule(name=name, when=when, mask=mask)


def apply_rules(customers: pd.DataFrame, rules: list[Rule], fallback: pd.Series) -> pd.Categorical:
    """First matching rule wins; customers no rule matches keep ``fallback`` (rfm_segment)."""
    names = list(dict.fromkeys([r.name for r in rules] + list(fallback.cat.categories)))
    fallback_codes = pd.Categorical(fallback, categories=names).codes.astype(np.int16)
    codes = np.full(len(customers), -1, dtype=np.int16)
    for rule in rules:
        hit = rule.evaluate(customers) & (codes < 0)
        codes[hit] = names.index(rule.name)
    codes = np.where(codes < 0, fallback_codes, codes)
    return pd.Categorical.from_codes(codes, categories=names)


class _Parser:
    """Recursive descent over the token list, building closures (no eval anywhere)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0

    def parse(self) -> Mask:
        if self.tokens[0].kind == "end":
            raise RuleSyntaxError("the condition is empty")
        mask = self._or()
        tok = self._peek()
        if tok.kind != "end":
            raise RuleSyntaxError(f"unexpected {tok.text!r} at character {tok.pos + 1}")
        return mask

    # -- token helpers
    def _peek(self) -> Token:
        return self.tokens[self.i]

    def _next(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def _accept(self, kind: str, text: str | None = None) -> Token | None:
        tok = self._peek()
        if tok.kind == kind and (text is None or tok.text == text):
            self.i += 1
            return tok
        return None

    def _expect(self, kind: str, text: str, what: str) -> None:
        if self._accept(kind, text) is None:
            tok = self._peek()
            found = "the end" if tok.kind == "end" else repr(tok.text)
            raise RuleSyntaxError(f"expected {what} at character {tok.pos + 1}, found {found}")

    # -- grammar
    def _or(self) -> Mask:
        parts = [self._and()]
        while self._accept("kw", "or"):
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else _any(parts)

    def _and(self) -> Mask:
        parts = [self._not()]
        while self._accept("kw", "and"):
            parts.append(self._not())
        return parts[0] if len(parts) == 1 else _all(parts)

    def _not(self) -> Mask:
        if self._accept("kw", "not"):
            inner = self._not()
            return lambda df: ~inner(df)
        return self._condition()

    def _condition(self) -> Mask:
        if self._accept("punct", "("):
            inner = self._or()
            self._expect("punct", ")", "')'")
            return inner
        start = self._peek()
        left = self._operand()
        tok = self._peek()
        if tok.kind == "op":
            self._next()
            if tok.text == "=":
                raise RuleSyntaxError(f"use == to compare (character {tok.pos + 1})")
            return _compare(left, tok.text, self._operand())
        if tok.kind == "kw" and tok.text in ("in", "not"):
            negate = self._accept("kw", "not") is not None
            self._expect("kw", "in", "'in'")
            return _in_list(left, self._list(), negate, start)
        if tok.kind == "kw" and tok.text == "contains":
            self._next()
            return _contains(left, self._operand(), start)
        if left.kind != "bool":
            raise RuleSyntaxError(
                f"{_describe(left)} at character {start.pos + 1} is not a condition; "
                "compare it, e.g. `orders >= 2`"
            )
        return _truthy(left)

    def _operand(self) -> Operand:
        tok = self._next()
        if tok.kind == "num":
            return Operand(value=float(tok.text) if "." in tok.text else int(tok.text))
        if tok.kind == "str":
            return Operand(value=_unquote(tok.text))
        if tok.kind == "kw" and tok.text in ("true", "false"):
            return Operand(value=tok.text == "true")
        if tok.kind == "name":
            if tok.text not in RULE_COLUMNS:
                raise RuleSyntaxError(
                    f"unknown column {tok.text!r}; known columns: {', '.join(RULE_COLUMNS)}"
                )
            return Operand(column=tok.text)
        found = "the end" if tok.kind == "end" else repr(tok.text)
        raise RuleSyntaxError(
            f"expected a column, number or quoted text at character {tok.pos + 1}, found {found}"
        )

    def _list(self) -> list[Operand]:
        self._expect("punct", "[", "'[' starting a list")
        items: list[Operand] = []
        if self._accept("punct", "]"):
            return items
        while True:
            item = self._operand()
            if item.column is not None:
                raise RuleSyntaxError(f"a list holds values, not the column {item.column!r}")
            items.append(item)
            if self._accept("punct", "]"):
                return items
            self._expect("punct", ",", "',' or ']'")


def _tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            at = pos + len(text[pos:]) - len(text[pos:].lstrip())
            raise RuleSyntaxError(f"cannot read {text[at:at + 10]!r} at character {at + 1}")
        group = m.lastgroup or ""
        value = m.group(group)
        kind = "kw" if group == "name" and value in _KEYWORDS else group
        tokens.append(Token(kind, value, m.start(group)))
        pos = m.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])


def _describe(op: Operand) -> str:
    return f"column {op.column!r}" if op.column is not None else f"value {op.value!r}"


# -- compiled pieces -------------------------------------------------------------------


def _any(parts: list[Mask]) -> Mask:
    def mask(df: pd.DataFrame) -> np.ndarray:
        out = parts[0](df)
        for part in parts[1:]:
            out = out | part(df)
        return out
    return mask


def _all(parts: list[Mask]) -> Mask:
    def mask(df: pd.DataFrame) -> np.ndarray:
        out = parts[0](df)
        for part in parts[1:]:
            out = out & part(df)
        return out
    return mask


def _bool(result: Any, n: int) -> np.ndarray:
    """A boolean numpy mask; missing values (NA) are False."""
    if np.isscalar(result):
        return np.full(n, bool(result))
    if isinstance(result, pd.Series | pd.Index | pd.api.extensions.ExtensionArray):
        series = pd.Series(result)
        if series.dtype != bool:
            series = series.astype("boolean").fillna(False)
        return series.to_numpy(dtype=bool)
    return np.asarray(result, dtype=bool)


def _literal(op: Operand, kind: str) -> Any:
    """A literal converted for comparison with a column of ``kind``."""
    value = op.value
    if kind == "datetime":
        try:
            return pd.Timestamp(value)
        except (ValueError, TypeError):
            raise RuleSyntaxError(f"{value!r} is not a date; write \"YYYY-MM-DD\"") from None
    return value


def _check_kinds(left: Operand, op: str, right: Operand) -> str:
    if left.column is None and right.column is None:
        raise RuleSyntaxError(f"`{left.value!r} {op} {right.value!r}` compares no column")
    column = left if left.column is not None else right
    other = right if column is left else left
    kind = column.kind
    if kind == "list":
        raise RuleSyntaxError(f"column {column.column!r} is a list; use `contains`")
    if other.column is not None:
        if other.kind != kind:
            raise RuleSyntaxError(
                f"columns {left.column!r} and {right.column!r} are of different kinds"
            )
    elif kind == "datetime":
        if not isinstance(other.value, str):
            raise RuleSyntaxError(f"compare {column.column!r} with a date like \"2026-01-31\"")
        _literal(other, kind)
    elif other.kind != kind:
        want = {"number": "a number", "string": "quoted text", "bool": "true or false"}[kind]
        raise RuleSyntaxError(
            f"column {column.column!r} holds {want}, not {other.value!r}"
        )
    if kind == "bool" and op in _ORDERING:
        raise RuleSyntaxError(f"column {column.column!r} is true/false; use == or !=")
    return kind


def _values(op: Operand, kind: str, df: pd.DataFrame) -> Any:
    if op.column is None:
        return _literal(op, kind)
    series = df[op.column]
    if kind == "number":
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    if kind == "string" and isinstance(series.dtype, pd.CategoricalDtype):
        return series.astype("string[pyarrow]")
    return series


def _compare(left: Operand, op: str, right: Operand) -> Mask:
    kind = _check_kinds(left, op, right)
    func = _OPS[op]

    def mask(df: pd.DataFrame) -> np.ndarray:
        a, b = _values(left, kind, df), _values(right, kind, df)
        if kind == "number":
            with np.errstate(invalid="ignore"):
                return np.asarray(func(a, b), dtype=bool)
        return _bool(func(a, b), len(df))
    return mask


def _in_list(left: Operand, items: list[Operand], negate: bool, at: Token) -> Mask:
    if left.column is None:
        raise RuleSyntaxError(f"`in` needs a column on its left (character {at.pos + 1})")
    kind = left.kind
    if kind not in ("number", "string"):
        raise RuleSyntaxError(f"`in` works on number and text columns, not {left.column!r}")
    for item in items:
        _check_kinds(left, "in", item)
    values = [item.value for item in items]

    def mask(df: pd.DataFrame) -> np.ndarray:
        series = df[left.column]
        present = series.notna().to_numpy(dtype=bool)
        hit = _bool(series.isin(values), len(df)) & present
        return present & ~hit if negate else hit
    return mask


def _contains(left: Operand, right: Operand, at: Token) -> Mask:
    if left.column is None or left.kind not in ("string", "list"):
        raise RuleSyntaxError(
            f"`contains` needs a text column or sources on its left (character {at.pos + 1})"
        )
    if right.column is not None or not isinstance(right.value, str):
        raise RuleSyntaxError("`contains` needs quoted text on its right")
    needle = right.value

    def mask(df: pd.DataFrame) -> np.ndarray:
        series = df[left.column]
        if left.kind == "string":
            text = series.astype("string[pyarrow]")
            return _bool(text.str.contains(needle, regex=False), len(df))
        lists = pa.chunked_array([pa.array(series)]).combine_chunks() if len(df) else None
        if lists is None:
            return np.zeros(0, dtype=bool)
        flat = pc.list_flatten(lists)
        parents = pc.list_parent_indices(lists).to_numpy()
        hits = pc.fill_null(pc.equal(flat, needle), False).to_numpy(zero_copy_only=False)
        return np.bincount(parents[hits], minlength=len(df)) > 0
    return mask


def _truthy(op: Operand) -> Mask:
    if op.column is None:
        value = bool(op.value)
        return lambda df: np.full(len(df), value)
    column = op.column
    return lambda df: _bool(df[column], len(df))
