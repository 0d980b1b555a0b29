"""The ``[load]`` section of privmigrate.toml: saved mappings and extra status words.

```toml
[load]
encoding = "gb18030"            # optional: force an encoding for every CSV

[[load.mappings]]               # applied to files whose name matches `files`
files = "crm_*.csv"
source = "generic"              # optional profile name
map = { buyer_id = "客户编号", paid_at = "日期", amount = "金额" }

[load.status_words]             # words the built-in vocabulary does not know
paid = ["已审核待发货"]
refunded = ["售后完成"]
```
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from privmigrate.config import Section
from privmigrate.ingest.formats import MAPPABLE, REGISTRY
from privmigrate.tables import ORDER_STATUSES


@dataclass(frozen=True)
class SavedMapping:
    files: str
    source: str | None
    mapping: dict[str, str]

    def matches(self, path: Path) -> bool:
        return fnmatch.fnmatch(path.name, self.files) or fnmatch.fnmatch(str(path), self.files)


@dataclass(frozen=True)
class LoadSettings:
    encoding: str | None = None
    mappings: tuple[SavedMapping, ...] = ()
    status_words: dict[str, str] = field(default_factory=dict)

    def mapping_for(self, path: Path) -> SavedMapping | None:
        return next((m for m in self.mappings if m.matches(path)), None)

    @classmethod
    def from_config(cls, raw: dict[str, Any]) -> LoadSettings:
        section = Section.of(raw, "load")
        section.unknown_keys(["encoding", "mappings", "status_words"])
        encoding = section.get("encoding", str, "") or None
        mappings = []
        for entry in section.tables("mappings"):
            entry.unknown_keys(["files", "source", "map"])
            files = entry.get("files", str, "")
            if not files:
                raise entry.fail("files", 'is required: a file-name pattern such as "crm_*.csv"')
            source = entry.get("source", str, "") or None
            if source and source not in REGISTRY:
                raise entry.fail("source", f"must be one of {', '.join(REGISTRY)}")
            mapping = entry.get("map", dict, {})
            for key, column in mapping.items():
                if key not in MAPPABLE:
                    raise entry.fail(f"map.{key}", f"is not a field; fields: {', '.join(MAPPABLE)}")
                if not isinstance(column, str):
                    raise entry.fail(f"map.{key}", "must be a column name in quotes")
            mappings.append(SavedMapping(files, source, dict(mapping)))
        words: dict[str, str] = {}
        status = section.table("status_words")
        for cls_name, values in status.data.items():
            if cls_name not in ORDER_STATUSES:
                raise status.fail(cls_name, f"must be one of {', '.join(ORDER_STATUSES)}")
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise status.fail(cls_name, 'must be a list of words, e.g. ["已审核"]')
            words.update({v: cls_name for v in values})
        return cls(encoding, tuple(mappings), words)
