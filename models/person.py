"""Persons and the history of their identity numbers.

The number is never the key: a samordningsnummer is later replaced by a
personnummer and the person stays the same; some people have no number at
all (then a birth date and an optional reservnummer).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, FoldedText, Timestamps, UUIDPk, utcnow
from models.codes import IdKind, Protection, check_in


class Person(UUIDPk, Timestamps, Base):
    """One human being, wherever they appear in households."""

    __tablename__ = "person"
    __table_args__ = (
        CheckConstraint(
            "(personal_id IS NULL AND id_kind IS NULL) OR "
            "(personal_id IS NOT NULL AND id_kind IS NOT NULL)",
            name="id_kind_with_id",
        ),
        CheckConstraint(f"id_kind IS NULL OR {check_in('id_kind', IdKind)}", name="id_kind"),
        CheckConstraint(
            f"protection IS NULL OR {check_in('protection', Protection)}", name="protection"
        ),
        Index("ix_person_search_full", "search_full"),
        Index("ix_person_search_full_rev", "search_full_rev"),
        Index("ix_person_search_first", "search_first"),
        Index("ix_person_sort_key", "sort_key"),
        # The few persons with skyddade personuppgifter: every scoped register query
        # asks which cases hold one (services.access); without this it scans all persons.
        Index(
            "ix_person_protected",
            "id",
            sqlite_where=text("protection IS NOT NULL"),
            postgresql_where=text("protection IS NOT NULL"),
        ),
    )

    # Current identity number, 12 digits (YYYYMMDDNNNC), unique when present.
    personal_id: Mapped[str | None] = mapped_column(String(12), unique=True)
    # The same without century, for searches typed as YYMMDD-NNNN.
    personal_id_short: Mapped[str | None] = mapped_column(String(10), index=True)
    id_kind: Mapped[str | None] = mapped_column(String(20))
    birth_date: Mapped[date] = mapped_column()
    reserve_number: Mapped[str | None] = mapped_column(String(40))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    # Case-folded search forms ("öberg") and a Swedish sort key; binary collation.
    search_first: Mapped[str] = mapped_column(FoldedText)
    search_last: Mapped[str] = mapped_column(FoldedText, index=True)
    search_full: Mapped[str] = mapped_column(FoldedText)
    search_full_rev: Mapped[str] = mapped_column(FoldedText)
    sort_key: Mapped[str] = mapped_column(FoldedText)
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(254))
    language: Mapped[str | None] = mapped_column(String(60))
    needs_interpreter: Mapped[bool] = mapped_column(default=False)
    protection: Mapped[str | None] = mapped_column(String(30))
    # Health data (GDPR art. 9): never shown in lists or printed unless asked for.
    mental_ill_health: Mapped[bool] = mapped_column(default=False)
    version: Mapped[int] = mapped_column(default=1)

    identifiers: Mapped[list[PersonIdentifier]] = relationship(
        back_populates="person", order_by="PersonIdentifier.recorded_at"
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def is_protected(self) -> bool:
        """True for skyddade personuppgifter of either kind."""
        return self.protection is not None

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class PersonIdentifier(UUIDPk, Base):
    """Every identity number a person has had, so old numbers still find them."""

    __tablename__ = "person_identifier"
    __table_args__ = (CheckConstraint(check_in("id_kind", IdKind), name="id_kind"),)

    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("person.id"), index=True)
    personal_id: Mapped[str] = mapped_column(String(12), index=True)
    id_kind: Mapped[str] = mapped_column(String(20))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    replaced_at: Mapped[datetime | None] = mapped_column()
    recorded_by: Mapped[str] = mapped_column(String(80))

    person: Mapped[Person] = relationship(back_populates="identifiers")
