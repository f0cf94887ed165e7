"""Who may open which case, beyond the case's own caseworker (issue 6, items 1 and 3).

The access matrix itself lives in :mod:`services.access` (and, on PostgreSQL,
in row-level security policies that mirror it); these tables hold the
grants an arbetsledare makes and the emergency openings caseworkers make:

* :class:`StandIn` — an ersättare: user X works user Y's cases for a period.
* :class:`CaseShare` — one case shared with one user for a period.
* :class:`CaseNamedStaff` — the staff named on a case with skyddade
  personuppgifter; only they may open it.
* :class:`EmergencyAccess` — a nödåtkomst: a case opened outside one's scope,
  with the reason given, valid until ``expires_at``.

Grants are never deleted: revoking sets ``revoked_at``, so the access review
can see who could open what, and when.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UUIDPk, utcnow


class StandIn(UUIDPk, Base):
    """An ersättare: ``substitute_user_id`` works ``absent_user_id``'s cases for a period."""

    __tablename__ = "stand_in"
    __table_args__ = (
        CheckConstraint("valid_to >= valid_from", name="period"),
        CheckConstraint("substitute_user_id <> absent_user_id", name="not_self"),
        Index("ix_stand_in_substitute_period", "substitute_user_id", "valid_from", "valid_to"),
    )

    absent_user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id"), index=True)
    substitute_user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id"))
    valid_from: Mapped[date] = mapped_column()
    valid_to: Mapped[date] = mapped_column()
    granted_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()


class CaseShare(UUIDPk, Base):
    """One case shared with one user from ``valid_from`` to ``valid_to`` (both included)."""

    __tablename__ = "case_share"
    __table_args__ = (
        CheckConstraint("valid_to >= valid_from", name="period"),
        Index("ix_case_share_user_period", "user_id", "valid_from", "valid_to"),
    )

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("fs_case.id"), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id"))
    valid_from: Mapped[date] = mapped_column()
    valid_to: Mapped[date] = mapped_column()
    granted_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()


class CaseNamedStaff(Base):
    """A user named on a case with skyddade personuppgifter (kept by the arbetsledare)."""

    __tablename__ = "case_named_staff"

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("fs_case.id"), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("app_user.id"), primary_key=True, index=True
    )
    added_by: Mapped[str] = mapped_column(String(80))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class EmergencyAccess(UUIDPk, Base):
    """A nödåtkomst: ``user_id`` opened a case outside their scope, saying why.

    ``protected`` records that the case had skyddade personuppgifter at the
    time, so the arbetsledare's list can flag it.
    """

    __tablename__ = "emergency_access"
    __table_args__ = (
        CheckConstraint("expires_at > granted_at", name="period"),
        Index("ix_emergency_access_user_expires", "user_id", "expires_at"),
        Index("ix_emergency_access_granted", "granted_at"),
    )

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("fs_case.id"), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id"))
    reason: Mapped[str] = mapped_column(Text)
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    protected: Mapped[bool] = mapped_column(default=False)
