"""The audit log: who did what, when, from where, to which case. Insert-only, hash-chained.

The primary key is the event's sequence number (löpnummer). A database
trigger (see the initial migration) refuses UPDATE and DELETE on both SQLite
and PostgreSQL. That stops honest mistakes, not a database owner: so every
event also carries its place in a hash chain (``chain_seq``, gap-free) and a
SHA-256 over its own fields and the previous event's hash. Changing or
removing any event breaks the chain from that event on, which
``services.audit.verify_chain`` finds; ``docs/audit.md`` explains the design.

The id sequence may have gaps (a transaction that fails after taking its ids
leaves them unused); the chain position may not, which is why both exist.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime

from sqlalchemy import BigInteger, CheckConstraint, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigIntPK, utcnow

#: The ``chain_prev`` of the first event in the chain.
GENESIS_HASH = "0" * 64

#: Tag hashed into every event. The hash format is a stored contract: events
#: written years ago must still verify, so never change :func:`event_hash`;
#: a new format needs a new tag and a verifier that knows both.
CHAIN_FORMAT = "fokus-audit-1"


class AuditEvent(Base):
    """One audited action. ``detail`` is JSON text and never holds names or numbers.

    ``chain_seq``, ``chain_prev`` and ``chain_hash`` are NULL only for a row
    that did not come through :func:`services.audit.record` (a hand-written
    INSERT); the verifier reports such a row instead of the database refusing
    it, so that an insert behind Fokus's back is visible, not just blocked.
    """

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_case_occurred", "case_id", "occurred_at"),
        Index("ix_audit_event_occurred", "occurred_at"),
        # An index, not a UNIQUE constraint: SQLite adds it without rebuilding
        # the table (which would drop the insert-only triggers with it).
        Index("ix_audit_event_chain_seq", "chain_seq", unique=True),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    event_uuid: Mapped[uuid.UUID] = mapped_column(unique=True, default=uuid.uuid4)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(80))
    user_id: Mapped[uuid.UUID | None] = mapped_column()
    workstation: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(40))
    # No foreign key: the trail outlives the case (gallring).
    case_id: Mapped[uuid.UUID | None] = mapped_column()
    detail: Mapped[str] = mapped_column(Text, default="{}")
    chain_seq: Mapped[int | None] = mapped_column(BigInteger)
    chain_prev: Mapped[str | None] = mapped_column(String(64))
    chain_hash: Mapped[str | None] = mapped_column(String(64))


class AuditChainHead(Base):
    """The one row holding the chain's last position and hash.

    Its row lock is what serialises appends to the chain on PostgreSQL (and
    the write it takes does the same on SQLite): an appending transaction
    reserves positions with ``UPDATE … RETURNING`` and keeps the lock until it
    commits, so the next one sees its hash. It also lets the verifier notice
    events removed from the end of the log. It is a convenience, not the
    anchor: whoever can write here can also rewrite it, which is why
    ``audit head`` is meant to be copied outside the database.
    """

    __tablename__ = "audit_chain_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    chain_seq: Mapped[int] = mapped_column(BigInteger)
    chain_hash: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[int | None] = mapped_column(BigInteger)


def _canonical_time(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("naive datetime in an audit event")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _canonical_uuid(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)


def event_hash(
    *,
    chain_seq: int,
    event_id: int,
    event_uuid: uuid.UUID,
    occurred_at: datetime,
    actor: str,
    user_id: uuid.UUID | None,
    workstation: str,
    action: str,
    case_id: uuid.UUID | None,
    detail: str,
    chain_prev: str,
) -> str:
    """SHA-256 (hex) of one event's fields and the previous event's hash.

    The fields are a JSON array (fixed order, no whitespace, UTF-8), so no
    field can bleed into its neighbour; times are UTC with microseconds, as
    both backends store them. Frozen: see :data:`CHAIN_FORMAT`.
    """
    fields = [
        CHAIN_FORMAT,
        chain_seq,
        event_id,
        _canonical_uuid(event_uuid),
        _canonical_time(occurred_at),
        actor,
        _canonical_uuid(user_id),
        workstation,
        action,
        _canonical_uuid(case_id),
        detail,
        chain_prev,
    ]
    data = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(data.encode("utf-8")).hexdigest()
