"""Export files → the canonical order table (readers, formats, phones, orders, identity)."""
