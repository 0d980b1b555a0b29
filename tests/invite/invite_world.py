"""Synthetic customers and configs for the invite tests (no real names or numbers)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

SEGMENTS = ["重要价值客户", "重要保持客户", "重要发展客户", "一般挽留客户"]
INVITED_SEGMENTS = ["重要价值客户", "重要保持客户", "重要发展客户"]

BASE_CONFIG: dict[str, Any] = {
    "invite": {
        "campaign": "test-campaign",
        "segments": INVITED_SEGMENTS,
        "channels": ["call", "sms"],
        "daily_limit": 60,
        "cooldown_days": 30,
        "holdout_percent": 10,
        "sign_name": "测试旗舰店",
        "budgets": {"call": 10, "sms": 100},
        "staff": [
            {"id": "staff01", "name": "小美", "daily_capacity": 30},
            {"id": "staff02", "name": "小林", "daily_capacity": 30},
        ],
        "offers": [
            {"segments": ["重要价值客户"], "text": "{value}元无门槛券", "percent_of_avg": 10,
             "min_value": 10, "max_value": 50, "step": 5},
        ],
        "templates": [
            {"id": "sms_a", "channel": "sms", "code": "SMS_100001", "variant": "A", "weight": 1,
             "text": "{name}您好，感谢购买{product}，送您{offer}，加顾问{staff}领取 "
                     "work.weixin.qq.com/ca/testA 拒收请回复R"},
            {"id": "sms_b", "channel": "sms", "code": "SMS_100002", "variant": "B", "weight": 1,
             "text": "{name}您好，老客专享{offer}，顾问{staff}等您 work.weixin.qq.com/ca/testB "
                     "拒收请回复R"},
            {"id": "call_a", "channel": "call", "code": "call_a",
             "text": "您好，我是{staff}，感谢您购买{product}，为您准备了{offer}。"},
        ],
    }
}


def config(**overrides: Any) -> dict[str, Any]:
    """BASE_CONFIG with ``[invite]`` keys replaced."""
    raw = copy.deepcopy(BASE_CONFIG)
    raw["invite"].update(overrides)
    return raw


def phone(i: int) -> str:
    return str(13800000000 + i)


def customers(n: int = 200, seed: int = 7) -> pd.DataFrame:
    """n customers in the canonical shape; every 17th has a masked phone, every 13th is
    already a WeCom friend, every 4th segment is not targeted."""
    rng = np.random.default_rng(seed)
    idx = np.arange(n)
    status = np.where(idx % 17 == 5, "masked", "valid")
    phones = [phone(i) if s == "valid" else "138****" + f"{i:04d}"[-4:]
              for i, s in zip(idx, status, strict=True)]
    return pd.DataFrame({
        "customer_id": [f"C{i:016x}" for i in idx],
        "phone": phones,
        "phone_status": status,
        "name": [f"测试{'甲乙丙丁'[i % 4]}{'一二三'[i % 3]}" if i % 5 else "张**" for i in idx],
        "segment": [SEGMENTS[i % 4] for i in idx],
        "rfm_segment": [SEGMENTS[i % 4] for i in idx],
        "priority": rng.random(n),
        "reachable_by_sms": status == "valid",
        "in_private_domain": idx % 13 == 3,
        "avg_amount": rng.uniform(20, 800, n),
        "total_amount": rng.uniform(20, 2000, n),
        "orders": rng.integers(1, 6, n),
        "last_paid_at": pd.Timestamp("2026-09-01") + pd.to_timedelta(idx % 60, unit="D"),
        "last_product": ["【双11】测试保湿面霜 50ml 超值套装" if i % 2 else None for i in idx],
    })


def write_toml(raw: dict[str, Any], path: Path) -> None:
    path.write_text(_toml(raw), encoding="utf-8")


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    raise TypeError(v)


def _toml(raw: dict[str, Any], prefix: str = "") -> str:
    """A tiny TOML writer for these configs (tables, arrays of tables, scalars, lists)."""
    lines: list[str] = []
    scalars = {k: v for k, v in raw.items() if not isinstance(v, dict)
               and not (isinstance(v, list) and v and isinstance(v[0], dict))}
    for k, v in scalars.items():
        lines.append(f"{k} = {_value(v)}")
    out = "\n".join(lines) + ("\n" if lines else "")
    for k, v in raw.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            out += f"\n[{name}]\n" + _toml(v, name + ".")
        elif isinstance(v, list) and v and isinstance(v[0], dict):
            for item in v:
                out += f"\n[[{name}]]\n" + _toml(item, name + ".")
    return out


def workspace(root: Path, raw: dict[str, Any] | None = None,
              frame: pd.DataFrame | None = None) -> Path:
    """A workspace folder with privmigrate.toml and data/customers.parquet."""
    root.mkdir(parents=True, exist_ok=True)
    write_toml(raw or config(), root / "privmigrate.toml")
    (root / "data").mkdir(exist_ok=True)
    (frame if frame is not None else customers()).to_parquet(root / "data" / "customers.parquet")
    return root
