from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cameoguard.db import Base


class AuditEntry(Base):
    """One audit event. `hash` = HMAC(audit key, prev_hash || canonical row); see audit.log."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    at: Mapped[str] = mapped_column(String(32))  # ISO-8601 UTC, microseconds, 'Z'
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100), index=True)
    subject: Mapped[str] = mapped_column(String(300), index=True)
    reason: Mapped[str] = mapped_column(Text)
    details: Mapped[str] = mapped_column(Text)  # canonical JSON
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The single row holding the chain's last sequence number and hash.

    Appending updates this row first, which serialises writers on every database (a row lock on
    PostgreSQL, the write lock on SQLite), and lets `verify` detect a deleted tail.
    """

    __tablename__ = "audit_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(Base):
    """A point up to which the chain was verified: the entry's seq and hash, MACed under the
    audit key so that nobody without the secret can move it. A routine verification walks only
    the entries after the last checkpoint (and checks that entry still has its hash); a full one
    walks everything."""

    __tablename__ = "audit_checkpoints"

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    hash: Mapped[str] = mapped_column(String(64))
    verified_at: Mapped[str] = mapped_column(String(32))
    mac: Mapped[str] = mapped_column(String(64))
