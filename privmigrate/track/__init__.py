"""WeCom read-back: which invited buyers became WeCom friends, and did inviting them help.

- ``sources``     contacts from export files (admin-console export, simple CSV) — I/O
- ``api_source``  contacts from the WeCom API (through ``channels.wecom``) — I/O
- ``attribution`` pure: contacts × customers × invitations → conversions
- ``lift``        pure: conversion of invited vs holdout with confidence intervals
- ``settings``    the ``[track]`` config section
- ``store``       ledger access (invitations, holdouts, conversions, contacts, token cache)
- ``run``         ``run_track`` — the library entry the CLI and the nightly pipeline call
"""
