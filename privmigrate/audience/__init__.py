"""Hashed custom-audience packages for ad platforms, and keeping them in sync.

Pure parts: ``digests`` (vectorised MD5/SHA-256), ``ids`` (normalise, classify, dedupe,
hash), ``selection`` (who is in an audience), ``dmp`` (Ocean Engine DmpData lines),
``packages`` (each platform's files), ``diff`` (member sets). Edges: ``build`` and ``run``
(library entry points), ``sync`` / ``steps`` (the push engine), ``state`` (ledger tables).
See docs/audience.md.
"""
