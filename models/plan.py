"""Directions per person and the unit's outcome targets.

A household's case has one ``direction``, but the rules and the unit's
targets count *persons*: in the same household one adult may be heading for
work while the other is being helped toward sjukersättning through
Försäkringskassan. :class:`PersonDirection` keeps that per person and over
time (a new direction ends the previous one instead of overwriting it, so the
follow-up can show how long each phase took).

A :class:`Target` is what an arbetsledare promises for a period, e.g. the
Helsingborg focus posts' "35 persons: 15 to work, studies or part-time
sjukersättning and 20 to varaktig sjukersättning". Its groups and the
outcomes that count toward each are rows, not code, so a unit can define its
own targets without a new release.
"""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, Timestamps, UUIDPk
from models.codes import Direction, Outcome, SicknessGrade, check_in


class PersonDirection(UUIDPk, Timestamps, Base):
    """One person's direction in a case for a period, with its goal."""

    __tablename__ = "person_direction"
    __table_args__ = (
        CheckConstraint(check_in("direction", Direction), name="direction"),
        CheckConstraint("ended_on IS NULL OR ended_on >= started_on", name="period"),
        Index("ix_person_direction_case_person", "case_id", "person_id"),
    )

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("fs_case.id"))
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("person.id"), index=True)
    direction: Mapped[str] = mapped_column(String(30))
    started_on: Mapped[date] = mapped_column()
    ended_on: Mapped[date | None] = mapped_column()
    # What the direction aims at ("anställning inom lager", "ansökan om sjukersättning").
    goal: Mapped[str] = mapped_column(Text, default="")
    goal_date: Mapped[date | None] = mapped_column()
    note: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class Target(UUIDPk, Timestamps, Base):
    """A unit's target for a period: persons leaving support, in groups of outcomes."""

    __tablename__ = "outcome_target"
    __table_args__ = (
        CheckConstraint("period_to >= period_from", name="period"),
        Index("ix_outcome_target_unit_period", "unit_id", "period_from"),
    )

    unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("unit.id"))
    name: Mapped[str] = mapped_column(String(120))
    period_from: Mapped[date] = mapped_column()
    period_to: Mapped[date] = mapped_column()
    # Count only persons in focus cases (the focus posts' own target).
    focus_only: Mapped[bool] = mapped_column(default=False)
    version: Mapped[int] = mapped_column(default=1)

    groups: Mapped[list[TargetGroup]] = relationship(
        back_populates="target", order_by="TargetGroup.position", cascade="all, delete-orphan"
    )

    __mapper_args__ = {"version_id_col": version}


class TargetGroup(UUIDPk, Base):
    """One group of a target ("arbete, studier eller sjukersättning på deltid": 15)."""

    __tablename__ = "outcome_target_group"
    __table_args__ = (
        UniqueConstraint("target_id", "position"),
        CheckConstraint("count_target >= 0", name="count_target"),
    )

    target_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("outcome_target.id"))
    # Order of the groups; a person whose outcome fits several groups counts in the first.
    position: Mapped[int] = mapped_column()
    label: Mapped[str] = mapped_column(String(120))
    count_target: Mapped[int] = mapped_column()

    target: Mapped[Target] = relationship(back_populates="groups")
    rules: Mapped[list[TargetRule]] = relationship(
        back_populates="group", cascade="all, delete-orphan"
    )


class TargetRule(UUIDPk, Base):
    """An outcome that counts toward a group; NULL grade/permanent match any value."""

    __tablename__ = "outcome_target_rule"
    __table_args__ = (
        CheckConstraint(check_in("outcome", Outcome), name="outcome"),
        CheckConstraint(f"grade IS NULL OR {check_in('grade', SicknessGrade)}", name="grade"),
    )

    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("outcome_target_group.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(30))
    grade: Mapped[str | None] = mapped_column(String(3))
    permanent: Mapped[bool | None] = mapped_column()

    group: Mapped[TargetGroup] = relationship(back_populates="rules")
