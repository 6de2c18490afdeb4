"""Imports every area's tables so that `Base.metadata` is complete (Alembic, tests)."""

from cameoguard import events as event_tables
from cameoguard import heartbeats as heartbeat_tables
from cameoguard.audit import tables as audit_tables
from cameoguard.auth import tables as auth_tables
from cameoguard.db import Base
from consumers import tables as feed_tables
from generator import tables as generator_tables
from provenance import tables as provenance_tables
from rights import tables as rights_tables
from safety.consent import tables as consent_tables
from safety.policy import named_people as policy_tables
from safety.review import tables as review_tables
from wellbeing import tables as wellbeing_tables

__all__ = [
    "Base",
    "audit_tables",
    "auth_tables",
    "consent_tables",
    "event_tables",
    "feed_tables",
    "generator_tables",
    "heartbeat_tables",
    "policy_tables",
    "provenance_tables",
    "review_tables",
    "rights_tables",
    "wellbeing_tables",
]
