"""The contact log: journal notes that are drafts until signed, then locked."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, UUIDPk, utcnow
from models.person import Person

contact_entry_member = Table(
    "contact_entry_member",
    Base.metadata,
    Column("entry_id", ForeignKey("contact_entry.id"), primary_key=True),
    Column("person_id", ForeignKey("person.id"), primary_key=True, index=True),
)


class ContactEntry(UUIDPk, Base):
    """One note in the contact log.

    A draft is visible only to its author. Once ``signed_at`` is set the note
    is locked (services refuse changes, and a database trigger refuses them
    too); a correction is a new signed note whose ``corrects_id`` points at
    the note it corrects.
    """

    __tablename__ = "contact_entry"
    __table_args__ = (
        CheckConstraint("corrects_id IS NULL OR corrects_id <> id", name="not_self"),
        # A case's notes in time order, and its latest note's follow-up date read from the
        # index alone (the follow-up list and the dashboard ask it of every open case).
        Index(
            "ix_contact_entry_case_latest",
            "case_id",
            "occurred_at",
            "created_at",
            "follow_up_on",
            "id",
        ),
        Index("ix_contact_entry_follow_up", "follow_up_on"),
    )

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("fs_case.id"))
    occurred_at: Mapped[datetime] = mapped_column()
    agency_code: Mapped[str] = mapped_column(ForeignKey("agency.code"), index=True)
    method_code: Mapped[str] = mapped_column(ForeignKey("contact_method.code"))
    counterpart: Mapped[str] = mapped_column(String(200), default="")
    text: Mapped[str] = mapped_column(Text)
    follow_up_on: Mapped[date | None] = mapped_column()
    child_perspective: Mapped[bool] = mapped_column(default=False)
    author_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("app_user.id"), index=True)
    author_name: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    signed_at: Mapped[datetime | None] = mapped_column()
    corrects_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("contact_entry.id"), index=True
    )
    version: Mapped[int] = mapped_column(default=1)

    members: Mapped[list[Person]] = relationship(secondary=contact_entry_member)

    __mapper_args__ = {"version_id_col": version}

    @property
    def is_signed(self) -> bool:
        return self.signed_at is not None
