"""The customer table's columns, in order, with the kind a segment rule may compare them as."""

from __future__ import annotations

# name → kind: number, string, bool, datetime, list (rules check literals against these)
CUSTOMER_COLUMNS: dict[str, str] = {
    "customer_id": "string",
    "phone": "string",
    "phone_status": "string",
    "name": "string",
    "sources": "list",
    "first_paid_at": "datetime",
    "last_paid_at": "datetime",
    "orders": "number",
    "total_amount": "number",
    "avg_amount": "number",
    "recency_days": "number",
    "tenure_days": "number",
    "r_score": "number",
    "f_score": "number",
    "m_score": "number",
    "rfm_segment": "string",
    "segment": "string",
    "priority": "number",
    "reachable_by_sms": "bool",
    "in_private_domain": "bool",
    "last_product": "string",
    "province": "string",
    "city": "string",
}

# What a rule may name: everything but its own output.
RULE_COLUMNS: dict[str, str] = {k: v for k, v in CUSTOMER_COLUMNS.items() if k != "segment"}
