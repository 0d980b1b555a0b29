"""[segment] in privmigrate.toml."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from privmigrate.errors import ConfigError
from privmigrate.scoring.priority import PriorityWeights
from privmigrate.scoring.settings import SegmentSettings

SAMPLE = Path(__file__).parents[2] / "privmigrate" / "sample_config" / "20_segment.toml"


def settings(text: str) -> SegmentSettings:
    return SegmentSettings.from_config(tomllib.loads(text))


def test_defaults_without_a_section():
    s = SegmentSettings.from_config({})
    assert s.split == "mean" and s.rules == [] and s.weights == PriorityWeights()


def test_the_sample_section_parses():
    s = SegmentSettings.from_config(tomllib.loads(SAMPLE.read_text(encoding="utf-8")))
    assert s.split in ("mean", "median")
    assert [r.name for r in s.rules]  # the sample shows at least one rule


def test_rules_split_and_weights():
    s = settings("""
[segment]
split = "median"
[segment.priority]
order_value = 1
recency = 0
[[segment.rules]]
name = "高价值复购"
when = "orders >= 3 and total_amount >= 1000"
[[segment.rules]]
name = "沉睡"
when = "recency_days > 365"
""")
    assert s.split == "median"
    assert [r.name for r in s.rules] == ["高价值复购", "沉睡"]
    assert s.weights == PriorityWeights(order_value=1.0, repurchase=0.30, recency=0.0,
                                        reachable=0.10)


@pytest.mark.parametrize(("text", "problem"), [
    ('[segment]\nsplit = "mode"', "segment.split must be one of mean, median"),
    ('[segment]\nsplitt = "mean"', "segment.splitt is not a known key"),
    ('[[segment.rules]]\nname = "a"\nwhen = "ordres > 1"', "segment rule 'a'"),
    ('[[segment.rules]]\nwhen = "orders > 1"', "segment.rules[0].name is missing"),
    ('[[segment.rules]]\nname = "a"', "segment rule 'a' has no condition"),
    ('[[segment.rules]]\nname = "a"\nwhen = "orders > 1"\nif = "x"', "rules[0].if is not"),
    ('[[segment.rules]]\nname = "a"\nwhen = "orders > 1"\n[[segment.rules]]\nname = "a"\n'
     'when = "orders > 2"', "'a' is used by an earlier rule"),
    ("[segment.priority]\nrecency = -1", "segment.priority.recency must be between"),
    ("[segment.priority]\norder_value = 0\nrepurchase = 0\nrecency = 0\nreachable = 0",
     "all zero"),
    ('[segment.priority]\nfreshness = 1', "segment.priority.freshness is not a known key"),
])
def test_config_errors_name_the_key(text, problem):
    with pytest.raises(ConfigError) as err:
        settings(text)
    assert problem in str(err.value)
