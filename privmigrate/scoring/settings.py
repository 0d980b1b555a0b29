"""The ``[segment]`` section of privmigrate.toml (sample: sample_config/20_segment.toml)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from privmigrate.config import Section
from privmigrate.errors import ConfigError
from privmigrate.scoring.priority import PriorityWeights
from privmigrate.scoring.rfm import SPLITS
from privmigrate.scoring.rules import Rule, parse_rule

SECTION_KEYS = ("split", "rules", "priority")
RULE_KEYS = ("name", "when")
WEIGHT_KEYS = ("order_value", "repurchase", "recency", "reachable")


@dataclass(frozen=True)
class SegmentSettings:
    split: str = "mean"
    rules: list[Rule] = field(default_factory=list)
    weights: PriorityWeights = field(default_factory=PriorityWeights)

    @classmethod
    def from_config(cls, raw: dict[str, Any], path: str = "privmigrate.toml") -> SegmentSettings:
        section = Section.of(raw, "segment", path)
        section.unknown_keys(SECTION_KEYS)
        return cls(
            split=section.choice("split", SPLITS, "mean"),
            rules=_rules(section),
            weights=_weights(section.table("priority")),
        )


def _rules(section: Section) -> list[Rule]:
    rules: list[Rule] = []
    seen: set[str] = set()
    for entry in section.tables("rules"):
        entry.unknown_keys(RULE_KEYS)
        name = entry.get("name", str, "").strip()
        if not name:
            raise entry.fail("name", "is missing; give every [[segment.rules]] a name")
        if name in seen:
            raise entry.fail("name", f"{name!r} is used by an earlier rule; names must differ")
        when = entry.get("when", str, "").strip()
        if not when:
            raise ConfigError(
                f"{entry.path}: {entry.key('when')}: segment rule {name!r} has no condition; "
                'write e.g. when = "orders >= 3"'
            )
        seen.add(name)
        rules.append(parse_rule(name, when, where=entry.name))
    return rules


def _weights(section: Section) -> PriorityWeights:
    section.unknown_keys(WEIGHT_KEYS)
    defaults = PriorityWeights()
    weights = PriorityWeights(**{
        key: section.number(key, getattr(defaults, key), lo=0, hi=100) for key in WEIGHT_KEYS
    })
    if weights.total <= 0:
        raise section.fail("order_value", "and the other priority weights are all zero; "
                                          "give at least one a positive weight")
    return weights
