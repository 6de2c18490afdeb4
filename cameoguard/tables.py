"""Imports every area's tables so that `Base.metadata` is complete (Alembic, tests)."""

from cameoguard.audit import tables as audit_tables
from cameoguard.auth import tables as auth_tables
from cameoguard.db import Base
from provenance import tables as provenance_tables

__all__ = ["Base", "audit_tables", "auth_tables", "provenance_tables"]
