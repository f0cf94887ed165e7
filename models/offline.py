"""Offline laptops: checkouts recorded centrally, and the laptop copy's own bookkeeping.

Both kinds of table are in every Fokus database, because the laptop file is
made by the same migrations as the central one (one schema, one test of it).
Only the central database fills :class:`OfflineCheckout` and
:class:`OfflineCheckoutCase`; only a laptop file fills the ``offline_local_*``
tables. ``docs/offline.md`` describes the design.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, UUIDPk, utcnow


class OfflineCheckout(UUIDPk, Base):
    """Central record: cases taken to one laptop by one user, until ``expires_at``.

    ``revoked_at`` is set by an arbetsledare; the laptop learns it at its next
    sync and deletes the cases. ``returned_at`` is set when a sync finds the
    checkout expired or revoked and the laptop has deleted its copy.
    """

    __tablename__ = "offline_checkout"
    __table_args__ = (Index("ix_offline_checkout_laptop", "laptop_id"),)

    laptop_id: Mapped[uuid.UUID] = mapped_column()
    laptop_code: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id"), index=True)
    username: Mapped[str] = mapped_column(String(64))
    workstation: Mapped[str] = mapped_column(String(120))
    checked_out_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
    revoked_by: Mapped[str | None] = mapped_column(String(80))
    last_synced_at: Mapped[datetime | None] = mapped_column()
    returned_at: Mapped[datetime | None] = mapped_column()

    cases: Mapped[list[OfflineCheckoutCase]] = relationship(
        back_populates="checkout", cascade="all, delete-orphan"
    )


class OfflineCheckoutCase(Base):
    """One case of a checkout (new cases made offline are added at sync)."""

    __tablename__ = "offline_checkout_case"

    checkout_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("offline_checkout.id"), primary_key=True
    )
    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("fs_case.id"), primary_key=True, index=True
    )

    checkout: Mapped[OfflineCheckout] = relationship(back_populates="cases")


class OfflineLocalState(Base):
    """Laptop file only: the one row saying whose copy this is and of which checkout."""

    __tablename__ = "offline_local_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    laptop_id: Mapped[uuid.UUID] = mapped_column()
    laptop_code: Mapped[str] = mapped_column(String(16))
    checkout_id: Mapped[uuid.UUID] = mapped_column()
    user_id: Mapped[uuid.UUID] = mapped_column()
    username: Mapped[str] = mapped_column(String(64))
    checked_out_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
    last_sync_at: Mapped[datetime | None] = mapped_column()
    # Last provisional number handed out (FS-YYYY-L<laptop>-NNNN), never reused.
    last_provisional: Mapped[int] = mapped_column(default=0)


class OfflineLocalBase(Base):
    """Laptop file only: a row's values as they were at checkout (or the last sync).

    The common ancestor of the three-way merge; ``row_key`` is the primary key
    as text (composite keys joined with ``|``) and ``data`` its columns as JSON.
    """

    __tablename__ = "offline_local_base"
    # Covering: the sync reads every key and stamp without touching the JSON pages.
    __table_args__ = (Index("ix_offline_local_base_stamp", "table_name", "row_key", "stamp"),)

    table_name: Mapped[str] = mapped_column(String(40), primary_key=True)
    row_key: Mapped[str] = mapped_column(String(80), primary_key=True)
    data: Mapped[str] = mapped_column(Text)
    # Central's change stamp of the row when ``data`` was last agreed (PostgreSQL:
    # its xmin; an SQLite central: md5 of its values); None = unknown, read it.
    stamp: Mapped[str | None] = mapped_column(String(32))


class OfflineLocalChange(Base):
    """Laptop file only: rows written on the laptop since the last sync (the change log).

    Filled by triggers the laptop file gets when it is opened
    (:func:`services.offline.install_change_log`), so every write counts,
    ORM or not; a sync compares only these rows (and those central changed)
    and then clears the entries it has read. ``table_name = '*'`` asks the
    next sync to compare every row (a file made before the change log).
    ``row_key`` is the key as the laptop stores it (hex UUIDs, ``|`` between
    the parts of a composite key).
    """

    __tablename__ = "offline_local_change"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    table_name: Mapped[str] = mapped_column(String(40))
    row_key: Mapped[str] = mapped_column(String(80))


class OfflineLocalConflict(UUIDPk, Base):
    """Laptop file only: a field changed differently on both sides since the checkout.

    Neither side is overwritten: central keeps ``theirs``, the laptop keeps
    ``yours`` until the user chooses; values are JSON.
    """

    __tablename__ = "offline_local_conflict"
    __table_args__ = (Index("ix_offline_local_conflict_row", "table_name", "row_key", "field"),)

    table_name: Mapped[str] = mapped_column(String(40))
    row_key: Mapped[str] = mapped_column(String(80))
    field: Mapped[str] = mapped_column(String(60))
    case_id: Mapped[uuid.UUID | None] = mapped_column()
    case_number: Mapped[str | None] = mapped_column(String(32))
    base_value: Mapped[str] = mapped_column(Text)
    theirs_value: Mapped[str] = mapped_column(Text)
    yours_value: Mapped[str] = mapped_column(Text)
    detected_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column()
    resolution: Mapped[str | None] = mapped_column(String(10))
