"""A small synthetic workspace for the report (no real people or numbers).

Customers and orders follow the canonical tables; the ledger is created by the real
migrations (privmigrate.ledger.MIGRATIONS) and filled with plain INSERTs.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from privmigrate.ledger import open_ledger, transaction
from privmigrate.tables import AMOUNT_TYPE, ORDERS_SCHEMA
from privmigrate.workspace import Workspace

AS_OF = datetime(2026, 11, 20)
SEGMENTS = ["重要价值客户", "重要发展客户", "重要保持客户", "重要挽留客户",
            "一般价值客户", "一般发展客户", "一般保持客户", "一般挽留客户"]
# Text a buyer could type as a name or product that a spreadsheet might take for a formula.
EVIL = ["=HYPERLINK(\"http://example.invalid\",\"x\")", "+1+1", "-2+3", "@SUM(A1)", "\tTAB"]



def phone(n: int) -> str:
    return str(13800000000 + n)


def customers_table(n: int) -> pa.Table:
    if n == 0:  # typed like a real, empty customers.parquet
        return customers_table(1).slice(0, 0)
    ids = [f"C{i:016x}" for i in range(n)]
    last = [AS_OF - timedelta(days=3 * i % 700) for i in range(n)]
    orders = [1 + i % 7 for i in range(n)]
    totals = [Decimal(f"{(i % 50) * 37 + 99}.{i % 100:02d}") for i in range(n)]
    names = [EVIL[(i // 10) % len(EVIL)] if i % 10 == 3 else f"测试用户{i:03d}" for i in range(n)]
    if n > 1:
        names[1] = f"测试用户001 {phone(1)}"  # buyers type their mobile into the name field
    return pa.table({
        "customer_id": ids,
        "phone": [None if i % 9 == 8 else phone(i) for i in range(n)],
        "phone_status": ["missing" if i % 9 == 8 else "valid" for i in range(n)],
        "name": names,
        "sources": [["taobao", "jd"] if i % 2 else ["youzan"] for i in range(n)],
        "first_paid_at": pa.array([d - timedelta(days=400) for d in last], pa.timestamp("us")),
        "last_paid_at": pa.array(last, pa.timestamp("us")),
        "orders": pa.array(orders, pa.int64()),
        "total_amount": pa.array(totals, AMOUNT_TYPE),
        "avg_amount": [float(t) / o for t, o in zip(totals, orders, strict=True)],
        "recency_days": pa.array([3 * i % 700 for i in range(n)], pa.int64()),
        "tenure_days": pa.array([3 * i % 700 + 400 for i in range(n)], pa.int64()),
        "r_score": pa.array([1 + i % 5 for i in range(n)], pa.int8()),
        "f_score": pa.array([1 + (i // 5) % 5 for i in range(n)], pa.int8()),
        "m_score": pa.array([1 + (i // 2) % 5 for i in range(n)], pa.int8()),
        "rfm_segment": [SEGMENTS[i % 8] for i in range(n)],
        "segment": [SEGMENTS[i % 8] for i in range(n)],
        "priority": [1.0 - i / max(n, 1) for i in range(n)],
        "reachable_by_sms": [i % 9 != 8 for i in range(n)],
        "in_private_domain": [i % 6 == 0 for i in range(n)],
        "last_product": ["保温杯 500ml" if i % 4 else "-买一送一装" for i in range(n)],
        "province": ["浙江省" if i % 2 else "广东省" for i in range(n)],
        "city": ["杭州市" if i % 2 else "广州市" for i in range(n)],
    })


def orders_table(n: int) -> pa.Table:
    if n == 0:
        return ORDERS_SCHEMA.empty_table()
    statuses = ["valid", "valid", "masked", "virtual", "missing"]
    rows = {name: [] for name in ORDERS_SCHEMA.names}
    for i in range(n):
        values = {
            "source": ["taobao", "jd", "youzan"][i % 3], "order_id": f"O{i:06d}",
            "customer_id": f"C{i % max(n // 2, 1):016x}", "buyer_id": None,
            "name": f"测试用户{i:03d}", "phone": phone(i), "phone_status": statuses[i % 5],
            "ordered_at": AS_OF - timedelta(days=i % 30 + 1),
            "paid_at": AS_OF - timedelta(days=i % 30 + 1), "amount": Decimal("99.00"),
            "status": "paid", "product": "保温杯", "province": "浙江省", "city": "杭州市",
            "order_count": 1, "wecom_friend": None, "platform_order_id": None,
            "duplicate_of": None,
        }
        for key, value in values.items():
            rows[key].append(value)
    return pa.table(rows, schema=ORDERS_SCHEMA)


def fill_ledger(path: Path, customers: int) -> None:
    with open_ledger(path) as conn, transaction(conn):
        conn.executemany(
            "INSERT INTO loaded_files VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [("a" * 64, "/inbox/淘宝订单.csv", "taobao", 120, 117, 3, 0, "2026-11-19 08:00:00"),
             ("b" * 64, "/inbox/jd.xlsx", "jd", 80, 80, 0, 2, "2026-11-19 08:01:00")])
        invited = [i for i in range(customers) if i % 3 == 0]
        rows = []
        for k, i in enumerate(invited):
            status = ["accepted", "accepted", "failed", "unknown", "called"][k % 5]
            if k % 10 == 3:
                status = "sending"  # a send cut short: counted as unknown
            night = "2026-11-18" if k % 2 else "2026-11-19"
            rows.append((f"I{k:05d}", night, "B1", "winback", f"C{i:016x}",
                         "call" if status == "called" else "sms", f"T{k % 2 + 1}",
                         "AB"[k % 2], None, "员工甲" if status == "called" else None,
                         f"s{k}", f"{night} 19:00:00", status, f"{night} 20:00:00"))
        conn.executemany(f"INSERT INTO invitations ({INV_COLUMNS}) VALUES "
                         f"({', '.join('?' * 14)})", rows)
        conn.executemany(
            "INSERT INTO holdouts VALUES (?, ?, ?, ?)",
            [("2026-11-19", "winback", f"C{i:016x}", SEGMENTS[i % 8])
             for i in range(customers) if i % 3 == 1])
        _conversions(conn, rows)
        conn.executemany(
            "INSERT INTO audiences (audience_key, platform, name, id_type, definition, "
            "held_count, last_sync_at, processing, uploaded_count, matched_count, updated_at) "
            "VALUES (?, ?, ?, 'md5', '{}', ?, ?, ?, ?, ?, ?)",
            [("tencent_ads:召回", "tencent_ads", "重要价值客户-召回", 1200,
              "2026-11-19 03:00:00", "done", 1000, 780, "2026-11-19 03:00:00"),
             ("oceanengine:x", "oceanengine", "=cmd|' /C calc'!A0", 900, "2026-11-18 03:00:00",
              "processing", None, None, "2026-11-18 03:00:00")])


INV_COLUMNS = ("invitation_id, night, batch_id, campaign, customer_id, channel, template_id, "
               "variant, offer, staff, state, planned_at, status, sent_at")


def _conversions(conn: sqlite3.Connection, invitations: list[tuple]) -> None:
    """Every other accepted invitation converted the next morning (attributed)."""
    cols = {row[1] for row in conn.execute("PRAGMA table_info(conversions)")}
    for k, inv in enumerate(invitations):
        if inv[12] not in ("accepted", "called") or k % 2:
            continue
        values = {"customer_id": inv[4], "external_userid": f"wm{k}", "staff": "员工甲",
                  "added_at": f"{inv[1]} 21:00:00", "state": inv[10], "source": "api",
                  "match_method": "state", "invitation_id": inv[0], "attributed": 1,
                  "reason": "attributed", "recorded_at": "2026-11-20 01:00:00"}
        keys = [key for key in values if key in cols]
        conn.execute(f"INSERT INTO conversions ({', '.join(keys)}) VALUES "
                     f"({', '.join('?' * len(keys))})", [values[key] for key in keys])


def build_workspace(root: Path, customers: int = 60, orders: int = 120,
                    ledger: bool = True) -> Workspace:
    """A workspace with customers, orders, rejects and (optionally) a filled ledger."""
    ws = Workspace.at(root)
    ws.data_dir.mkdir(parents=True, exist_ok=True)
    pq.write_table(customers_table(customers), ws.customers_path)
    pq.write_table(orders_table(orders), ws.orders_path)
    ws.rejects_path.write_text(
        "file,row,column,reason\n"
        "淘宝订单.csv,17,实付金额,\"'12,3x' is not an amount\"\n"
        "淘宝订单.csv,18,实付金额,\"'13800000017' is not an amount\"\n"
        "淘宝订单.csv,40,订单编号,missing order id 13800000018\n", encoding="utf-8")
    if ledger:
        fill_ledger(ws.state_db, customers)
    return ws
