"""privmigrate.toml: reading it, and the helpers every section's parser uses.

Each feature owns its own section (``[load]``, ``[segment]``, ``[invite]``, ``[audience]``,
``[track]``, ``[report]``, ``[run]``) and parses it with the ``Section`` helper below, so that
every config error names the key and says what to write instead. Credentials never live in
this file: they come from environment variables (see ``env_secret``).
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from privmigrate.errors import ConfigError

T = TypeVar("T")

# Every top-level table privmigrate.toml may have (one per feature, see the module docstring).
SECTIONS = ("load", "segment", "invite", "audience", "track", "report", "run")


def read_config(path: Path) -> dict[str, Any]:
    """The parsed TOML at ``path``, or ``{}`` when there is none (every key has a default)."""
    if not path.exists():
        return {}
    try:
        with path.open("rb") as fh:
            raw = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the line it names") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from exc
    check_sections(raw, path.name)
    return raw


def check_sections(raw: dict[str, Any], path: str = "privmigrate.toml") -> None:
    """Reject a misspelt section (``[invte.window]``) instead of silently using defaults."""
    for name in raw:
        if name not in SECTIONS:
            close = difflib.get_close_matches(name, SECTIONS, n=1)
            hint = f"did you mean [{close[0]}]? " if close else ""
            raise ConfigError(
                f"{path}: [{name}] is not a known section; {hint}"
                f"known sections: {', '.join(sorted(SECTIONS))}"
            )


@dataclass
class Section:
    """A view of one ``[name]`` table that reports errors by their dotted key."""

    name: str
    data: dict[str, Any] = field(default_factory=dict)
    path: str = "privmigrate.toml"

    @classmethod
    def of(cls, raw: dict[str, Any], name: str, path: str = "privmigrate.toml") -> Section:
        node: Any = raw
        for part in name.split("."):
            node = node.get(part, {}) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            raise ConfigError(f"{path}: [{name}] must be a table")
        return cls(name, node, path)

    def key(self, key: str) -> str:
        return f"{self.name}.{key}"

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.path}: {self.key(key)} {problem}")

    def get(self, key: str, kind: type[T] | tuple[type, ...], default: T) -> T:
        """The value at ``key`` checked against ``kind``, or ``default`` when absent."""
        if key not in self.data:
            return default
        value = self.data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if isinstance(value, bool) and bool not in kinds:
            raise self.fail(key, f"must be {_kind_name(kinds)}, not a true/false value")
        if not isinstance(value, kinds):
            raise self.fail(key, f"must be {_kind_name(kinds)}, got {value!r}")
        return value  # type: ignore[return-value]

    def number(self, key: str, default: float, *, lo: float | None = None,
               hi: float | None = None) -> float:
        value = self.get(key, (int, float), default)
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            if hi is None:
                bounds = f"at least {_plain(lo)}"
            elif lo is None:
                bounds = f"at most {_plain(hi)}"
            else:
                bounds = f"between {_plain(lo)} and {_plain(hi)}"
            raise self.fail(key, f"must be {bounds}, got {_plain(value)}")
        return value

    def choice(self, key: str, choices: Iterable[str], default: str) -> str:
        options = list(choices)
        value = self.get(key, str, default)
        if value not in options:
            raise self.fail(key, f"must be one of {', '.join(options)}, got {value!r}")
        return value

    def table(self, key: str) -> Section:
        value = self.data.get(key, {})
        if not isinstance(value, dict):
            raise self.fail(key, "must be a table")
        return Section(self.key(key), value, self.path)

    def tables(self, key: str) -> list[Section]:
        """An array of tables (``[[name.key]]``)."""
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.fail(key, "must be an array of tables ([[...]] entries)")
        return [Section(f"{self.key(key)}[{i}]", v, self.path) for i, v in enumerate(value)]

    def unknown_keys(self, known: Iterable[str]) -> None:
        """Reject typos: a key this section does not know is an error naming the known ones."""
        allowed = set(known)
        for key in self.data:
            if key not in allowed:
                known_keys = ", ".join(sorted(allowed))
                raise self.fail(key, f"is not a known key; known keys: {known_keys}")


def _kind_name(kinds: tuple[type, ...]) -> str:
    if int in kinds and float in kinds:  # "a whole number or a number" reads oddly
        kinds = tuple(k for k in kinds if k is not int)
    names = {str: "a string", int: "a whole number", float: "a number", bool: "true or false",
             list: "a list", dict: "a table"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _plain(number: float | None) -> str:
    """10.0 → "10" in messages: the user wrote 10."""
    if isinstance(number, float) and number.is_integer():
        return str(int(number))
    return str(number)


def env_secret(name: str, purpose: str) -> str:
    """A credential from the environment; a clear error when it is missing."""
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigError(
            f"{purpose} needs the environment variable {name}; export it (never put it in "
            "privmigrate.toml or on the command line)"
        )
    return value


# init's example values (privmigrate/sample_config): a config that still holds one would send
# under another brand's signature, with an unapproved template or a dead link, or credit
# WeCom accounts nobody owns. `run`, `invite --send` and `audience push` refuse it.
EXAMPLE_SIGN_NAME = "示例旗舰店"
EXAMPLE_TEMPLATE_CODES = ("SMS_000000001", "SMS_000000002")
EXAMPLE_LINK = "work.weixin.qq.com/ca/demo"
EXAMPLE_STAFF = {"advisor01": "小美", "advisor02": "小林"}
# the ad account each pushing platform needs (达摩盘 packages are uploaded by hand)
ACCOUNT_KEYS = {"tencent": "account_id", "oceanengine": "advertiser_id",
                "qianchuan": "advertiser_id"}


def example_values(raw: dict[str, Any], sections: Iterable[str] = ("invite", "audience"),
                   platforms: Iterable[str] | None = None) -> list[str]:
    """Each key of ``sections`` that still holds init's example value, as ``key (value)``;
    ``platforms``: the ad platforms pushed to (default: those of [[audience.audiences]])."""
    found: list[str] = []
    wanted = set(sections)
    if "invite" in wanted:
        invite = raw.get("invite", {}) if isinstance(raw.get("invite"), dict) else {}
        if invite.get("sign_name") == EXAMPLE_SIGN_NAME:
            found.append(f"invite.sign_name ({EXAMPLE_SIGN_NAME})")
        for i, tpl in enumerate(_entries(invite, "templates")):
            if tpl.get("code") in EXAMPLE_TEMPLATE_CODES:
                found.append(f"invite.templates[{i}].code ({tpl['code']})")
            if EXAMPLE_LINK in str(tpl.get("text", "")):
                found.append(f"invite.templates[{i}].text (the example link {EXAMPLE_LINK}…)")
        for i, staff in enumerate(_entries(invite, "staff")):
            if EXAMPLE_STAFF.get(str(staff.get("id"))) == staff.get("name"):
                found.append(f"invite.staff[{i}] (id {staff['id']}, name {staff['name']})")
    if "audience" in wanted:
        audience = raw.get("audience", {}) if isinstance(raw.get("audience"), dict) else {}
        used = set(platforms) if platforms is not None else {
            str(a.get("platform", "tencent")) for a in _entries(audience, "audiences")}
        for platform in sorted(used & set(ACCOUNT_KEYS)):
            table = audience.get(platform, {}) if isinstance(audience.get(platform), dict) else {}
            key = ACCOUNT_KEYS[platform]
            if not str(table.get(key, table.get("account_id", "")) or "").strip():
                found.append(f"audience.{platform}.{key} (empty)")
    return found


def _entries(section: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = section.get(key, [])
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def check_example_values(path: Path, command: str, *, dry_run: bool = False,
                         sections: Iterable[str] = ("invite", "audience"),
                         platforms: Iterable[str] | None = None) -> list[str]:
    """Refuse (ConfigError) a config at ``path`` that still holds init's example values;
    with ``dry_run`` return the same message as a warning instead (empty: nothing found)."""
    found = example_values(read_config(path), sections, platforms)
    if not found:
        return []
    message = example_message(found, command, path.name)
    if dry_run:
        return [message]
    raise ConfigError(message)


def example_message(found: list[str], command: str, path: str = "privmigrate.toml") -> str:
    return (f"{path} still holds `privmigrate init`'s example values; `{command}` will not "
            f"run until you fill these keys with your own: {'; '.join(found)}")
