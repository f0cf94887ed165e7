"""The case (ärende): one household's matter, its members, months and plans."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, Timestamps, UUIDPk, utcnow
from models.codes import (
    CaseStatus,
    Direction,
    MemberRole,
    MonthSource,
    OtherBenefit,
    Outcome,
    SicknessGrade,
    check_in,
)
from models.person import Person

CASE_PREFIX = "FS"


class CaseNumberCounter(Base):
    """Last used sequence number per year, locked row-wise when a case is numbered."""

    __tablename__ = "case_number_counter"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(default=0)


class _OutcomeColumns:
    """Outcome (also the closing reason) with the details some outcomes carry."""

    outcome: Mapped[str | None] = mapped_column(String(30))
    outcome_grade: Mapped[str | None] = mapped_column(String(3))
    outcome_permanent: Mapped[bool | None] = mapped_column()
    outcome_benefit: Mapped[str | None] = mapped_column(String(30))


def _outcome_checks() -> tuple[CheckConstraint, ...]:
    return (
        CheckConstraint(f"outcome IS NULL OR {check_in('outcome', Outcome)}", name="outcome"),
        CheckConstraint(
            f"outcome_grade IS NULL OR {check_in('outcome_grade', SicknessGrade)}",
            name="outcome_grade",
        ),
        CheckConstraint(
            f"outcome_benefit IS NULL OR {check_in('outcome_benefit', OtherBenefit)}",
            name="outcome_benefit",
        ),
    )


class Case(UUIDPk, Timestamps, _OutcomeColumns, Base):
    """An ärende: the household, its caseworker, status and direction."""

    __tablename__ = "fs_case"
    __table_args__ = (
        CheckConstraint(check_in("status", CaseStatus), name="status"),
        CheckConstraint(check_in("direction", Direction), name="direction"),
        CheckConstraint("closed_on IS NULL OR closed_on >= opened_on", name="closed_after_opened"),
        CheckConstraint("housing_cost_ore IS NULL OR housing_cost_ore >= 0", name="housing_cost"),
        *_outcome_checks(),
        UniqueConstraint("number_year", "number_seq"),
        Index("ix_fs_case_number_seq", "number_seq"),
        # With is_focus, caseload counts (open and focus cases per caseworker) are one
        # ordered pass over this index (migration 0011).
        Index("ix_fs_case_status_caseworker", "status", "caseworker_id", "is_focus"),
        # The closed cases of a period with their outcome, from the index alone (the
        # outcomes of a year in stats and the dashboard; migration 0010).
        Index(
            "ix_fs_case_closed_outcome",
            "closed_on",
            "id",
            "outcome",
            "outcome_grade",
            "outcome_permanent",
            sqlite_where=sql_text("status = 'closed'"),
            postgresql_where=sql_text("status = 'closed'"),
        ),
    )

    case_number: Mapped[str] = mapped_column(String(32), unique=True)
    number_year: Mapped[int] = mapped_column()
    number_seq: Mapped[int] = mapped_column()
    unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("unit.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    opened_on: Mapped[date] = mapped_column()
    closed_on: Mapped[date | None] = mapped_column()
    caseworker_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("app_user.id"), index=True)
    is_focus: Mapped[bool] = mapped_column(default=False, index=True)
    direction: Mapped[str] = mapped_column(String(30), default=Direction.UNDECIDED.value)
    summary: Mapped[str] = mapped_column(Text, default="")
    address: Mapped[str | None] = mapped_column(String(200))
    postcode: Mapped[str | None] = mapped_column(String(6))
    town: Mapped[str | None] = mapped_column(String(100))
    housing_type: Mapped[str | None] = mapped_column(String(60))
    housing_cost_ore: Mapped[int | None] = mapped_column(BigInteger)
    # Key from the file a case was imported from (the `ärende` column), for re-runs.
    import_key: Mapped[str | None] = mapped_column(String(60), index=True)
    version: Mapped[int] = mapped_column(default=1)

    members: Mapped[list[HouseholdMember]] = relationship(
        back_populates="case", order_by="HouseholdMember.valid_from"
    )

    __mapper_args__ = {"version_id_col": version}


class HouseholdMember(UUIDPk, Base):
    """A person's membership of a case's household for a period."""

    __tablename__ = "household_member"
    __table_args__ = (
        CheckConstraint(check_in("role", MemberRole), name="role"),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="period"),
        Index("ix_household_member_person_case", "person_id", "case_id"),
    )

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("fs_case.id"), index=True)
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("person.id"))
    role: Mapped[str] = mapped_column(String(20))
    valid_from: Mapped[date] = mapped_column()
    valid_to: Mapped[date | None] = mapped_column()
    # For a child aged 18–20: belongs to the household only while in school.
    studying: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    case: Mapped[Case] = relationship(back_populates="members")
    person: Mapped[Person] = relationship()

    __mapper_args__ = {"version_id_col": version}


class SupportReason(UUIDPk, Base):
    """A försörjningshinder for one adult in a case, for a period."""

    __tablename__ = "support_reason"
    __table_args__ = (CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="period"),)

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("fs_case.id"), index=True)
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("person.id"), index=True)
    reason_code: Mapped[str] = mapped_column(ForeignKey("support_reason_kind.code"))
    valid_from: Mapped[date] = mapped_column()
    valid_to: Mapped[date | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(80))


class SupportMonth(UUIDPk, Base):
    """A month for which the household received paid support, and the amount."""

    __tablename__ = "support_month"
    __table_args__ = (
        UniqueConstraint("case_id", "month"),
        CheckConstraint("amount_ore >= 0", name="amount"),
        CheckConstraint(check_in("source", MonthSource), name="source"),
        Index("ix_support_month_month", "month"),
    )

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("fs_case.id"))
    # First day of the month the support is for.
    month: Mapped[date] = mapped_column()
    amount_ore: Mapped[int] = mapped_column(BigInteger)
    source: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(80))


class Consent(UUIDPk, Base):
    """A person's samtycke to share information with an agency."""

    __tablename__ = "consent"
    __table_args__ = (
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="period"),
        Index("ix_consent_person_agency", "person_id", "agency_code"),
    )

    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("person.id"))
    case_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("fs_case.id"), index=True)
    agency_code: Mapped[str] = mapped_column(ForeignKey("agency.code"))
    scope: Mapped[str] = mapped_column(Text)
    valid_from: Mapped[date] = mapped_column()
    valid_to: Mapped[date | None] = mapped_column()
    withdrawn_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(80))
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class PlanGoal(UUIDPk, Timestamps, Base):
    """A goal in the case plan, for the household or one person."""

    __tablename__ = "plan_goal"
    __table_args__ = (CheckConstraint(check_in("direction", Direction), name="direction"),)

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("fs_case.id"), index=True)
    person_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("person.id"), index=True)
    direction: Mapped[str] = mapped_column(String(30), default=Direction.UNDECIDED.value)
    text: Mapped[str] = mapped_column(Text)
    target_date: Mapped[date | None] = mapped_column()
    achieved_on: Mapped[date | None] = mapped_column()
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class PersonOutcome(UUIDPk, _OutcomeColumns, Base):
    """The outcome for one person of a case, where it differs from the case's."""

    __tablename__ = "person_outcome"
    __table_args__ = (*_outcome_checks(), UniqueConstraint("case_id", "person_id"))

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("fs_case.id"))
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("person.id"), index=True)
    recorded_on: Mapped[date] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(80))


# Covering indexes for the time-on-support queries (services/longterm.py, revision 0002):
# a range of months read without touching the table, and each person's memberships in
# person order, so a person's months are found without sorting the joined rows.
Index("ix_support_month_month_case", SupportMonth.month, SupportMonth.case_id)
Index(
    "ix_household_member_person_period",
    HouseholdMember.person_id,
    HouseholdMember.case_id,
    HouseholdMember.valid_from,
    HouseholdMember.valid_to,
)
