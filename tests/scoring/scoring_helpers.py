"""Small synthetic order tables in the shape of tables.read_orders (no real people)."""

from __future__ import annotations

from typing import Any

import pandas as pd

STRING = pd.StringDtype("pyarrow")
DEFAULTS: dict[str, Any] = {
    "source": "taobao", "buyer_id": None, "name": None, "phone": None, "phone_status": "missing",
    "ordered_at": None, "status": "paid", "product": None, "province": None, "city": None,
    "order_count": 1, "wecom_friend": None,
}


def cid(n: int) -> str:
    """A customer id shaped like load's: C + 16 hex."""
    return f"C{n:016x}"


def phone(n: int) -> str:
    return str(13800000000 + n)


def orders(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """rows need customer (int), paid_at (str) and yuan (number); the rest has defaults."""
    records = []
    for i, row in enumerate(rows):
        rec = {**DEFAULTS, **row}
        rec["order_id"] = rec.get("order_id", f"O{i:05d}")
        customer = rec.pop("customer")
        rec["customer_id"] = cid(customer) if customer is not None else None
        rec["amount_fen"] = round(rec.pop("yuan") * 100)
        if rec.get("phone") and "phone_status" not in row:
            rec["phone_status"] = "valid"
        records.append(rec)
    frame = pd.DataFrame(records)
    for col in ("source", "order_id", "customer_id", "buyer_id", "name", "phone", "phone_status",
                "status", "product", "province", "city"):
        frame[col] = frame[col].astype(STRING)
    for col in ("paid_at", "ordered_at"):
        frame[col] = pd.to_datetime(frame[col], format="ISO8601").astype("datetime64[us]")
    frame["order_count"] = frame["order_count"].astype("int32")
    frame["wecom_friend"] = frame["wecom_friend"].astype("boolean")
    return frame


def by_id(customers: pd.DataFrame) -> pd.DataFrame:
    return customers.set_index("customer_id")
