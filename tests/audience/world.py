"""Synthetic customers and workspaces for the audience tests (never real numbers)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from privmigrate.workspace import Workspace

SEGMENTS = ["重要价值客户", "重要挽留客户", "一般发展客户"]

# ../shared/reference/ad-platforms.md §4
REF_PHONE = "13800138000"
REF_MD5 = "7945bd83237335e5376ff44d62e4f0ae"
REF_SHA256 = "a6942f9771d67f34034d2f1926988ed3fad3bf1b4e7cedb9a31f31398dea43bc"


def rows(phones: list[str]) -> np.ndarray:
    """11-digit phones as the (n, 11) uint8 rows the hashers take."""
    return np.frombuffer("".join(phones).encode(), dtype=np.uint8).reshape(len(phones), 11)


def phone(n: int) -> str:
    return str(13800000000 + n)


def customers(numbers: list[int], *, joined: set[int] = frozenset(),  # type: ignore[assignment]
              no_phone: set[int] = frozenset()) -> pd.DataFrame:  # type: ignore[assignment]
    """One customer per number; segment cycles through SEGMENTS by number."""
    rows = []
    for n in numbers:
        rows.append({
            "customer_id": f"C{n:016x}",
            "phone": None if n in no_phone else phone(n),
            "phone_status": "missing" if n in no_phone else "valid",
            "name": f"测试用户{n:03d}",
            "segment": "复购会员" if n % 5 == 0 else SEGMENTS[n % 3],
            "rfm_segment": SEGMENTS[n % 3],
            "in_private_domain": n in joined,
        })
    frame = pd.DataFrame(rows)
    frame["phone"] = frame["phone"].astype("string")
    return frame


def write_customers(ws: Workspace, frame: pd.DataFrame) -> None:
    ws.customers_path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(ws.customers_path, index=False)


def hashed(numbers: list[int] | set[int], algorithm: str = "md5") -> set[str]:
    return {hashlib.new(algorithm, phone(n).encode()).hexdigest() for n in numbers}


def write_config(ws: Workspace, text: str) -> Path:
    ws.config_path.write_text(text, encoding="utf-8")
    return ws.config_path


def tencent_config(base_url: str, account_id: str = "2001") -> str:
    return f"""
[audience]
poll_seconds = 0.5
poll_interval = 0.01

[audience.tencent]
base_url = "{base_url}"
account_id = "{account_id}"

[[audience.audiences]]
name = "lapsed"
platform = "tencent"
segments = ["重要挽留客户", "重要价值客户"]
id_type = "md5"
"""


def ocean_config(base_url: str, advertiser_id: str = "3001") -> str:
    return f"""
[audience]
poll_seconds = 0.5
poll_interval = 0.01

[audience.oceanengine]
base_url = "{base_url}"
advertiser_id = "{advertiser_id}"
push_to = ["3002", "3003"]

[audience.qianchuan]
base_url = "{base_url}"
advertiser_id = "{advertiser_id}"

[[audience.audiences]]
name = "lapsed-oe"
platform = "oceanengine"
segments = ["*"]
id_type = "sha256"
"""
