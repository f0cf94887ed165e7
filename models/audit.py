"""The audit log: who did what, when, from where, to which case. Insert-only.

The primary key is the event's sequence number. A database trigger (see the
initial migration) refuses UPDATE and DELETE on both SQLite and PostgreSQL.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigIntPK, utcnow


class AuditEvent(Base):
    """One audited action. ``detail`` is JSON text and never holds names or numbers."""

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_case_occurred", "case_id", "occurred_at"),
        Index("ix_audit_event_occurred", "occurred_at"),
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
