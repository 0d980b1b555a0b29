"""Customers, RFM, segments and priority: pure pandas over the order table."""

from privmigrate.scoring.customers import build_customers
from privmigrate.scoring.summary import segment_summary

__all__ = ["build_customers", "segment_summary"]
