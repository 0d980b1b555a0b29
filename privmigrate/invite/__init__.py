"""Nightly invitation batches (SMS and call lists), their ledger, and SMS sending.

Library entry points for the nightly pipeline: ``run_invite`` (plan or reuse a night, write
its batch files, optionally send) and the pure ``plan_night``. See docs/invite.md.
"""

from privmigrate.invite.night import run_invite
from privmigrate.invite.plan import History, NightPlan, plan_night
from privmigrate.invite.settings import InviteSettings

__all__ = ["History", "InviteSettings", "NightPlan", "plan_night", "run_invite"]
