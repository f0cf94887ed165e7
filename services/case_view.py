"""Everything the read-only case window shows, read in one transaction.

Opening a case is itself audited (``case_opened``): every read of a case is
logged, in the same transaction as the read. The DTOs carry labels ready to
show, never the mental ill-health flag (health data stays out of views that
do not ask for it), and no address when anyone in the household has
skyddade personuppgifter.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from models import (
    Agency,
    AuditEvent,
    Case,
    ContactEntry,
    ContactMethod,
    HouseholdMember,
    SupportMonth,
    User,
)
from models.codes import (
    DIRECTION_LABELS,
    MEMBER_ROLE_LABELS,
    STATUS_LABELS,
    CaseStatus,
    Direction,
    MemberRole,
)
from services.audit import ACTION_LABELS, LOCAL_TZ, Actor, record_case_opened
from services.db import Database
from services.errors import NotFoundError
from services.personal_id import format_personal_id
from services.validation import age_on


@dataclass(frozen=True)
class MemberDetail:
    """One household membership as the Hushåll tab shows it."""

    name: str
    personal_id: str  # YYYYMMDD-NNNN, or "" when the person has no number
    age: int
    role_label: str
    valid_from: date
    valid_to: date | None
    protected: bool


@dataclass(frozen=True)
class NoteDetail:
    """A signed note, or one of the actor's own drafts; times in Swedish local time."""

    id: uuid.UUID
    occurred_at: datetime
    agency_label: str
    method_label: str
    counterpart: str
    text: str
    signed: bool
    author: str
    corrects_id: uuid.UUID | None


@dataclass(frozen=True)
class MonthDetail:
    month: date
    amount_ore: int


@dataclass(frozen=True)
class HistoryDetail:
    """An audit event on the case: when, who, what (no detail JSON)."""

    occurred_at: datetime
    actor: str
    action_label: str


@dataclass(frozen=True)
class CaseDetail:
    """The whole case as the case window shows it."""

    id: uuid.UUID
    case_number: str
    status_label: str
    opened_on: date
    closed_on: date | None
    caseworker_name: str
    direction_label: str
    is_focus: bool
    summary: str
    protected: bool  # someone in the household has skyddade personuppgifter
    address: str | None  # None (and postcode, town too) when protected
    postcode: str | None
    town: str | None
    housing_cost_ore: int | None
    members: tuple[MemberDetail, ...]
    notes: tuple[NoteDetail, ...]
    months: tuple[MonthDetail, ...]
    history: tuple[HistoryDetail, ...]


def _members(session: Session, case_id: uuid.UUID, today: date) -> list[MemberDetail]:
    rows = session.scalars(
        select(HouseholdMember)
        .where(HouseholdMember.case_id == case_id)
        .options(selectinload(HouseholdMember.person))
        .order_by(HouseholdMember.valid_from, HouseholdMember.created_at)
    )
    out = []
    for m in rows:
        p = m.person
        out.append(
            MemberDetail(
                name=p.full_name,
                personal_id=format_personal_id(p.personal_id) if p.personal_id else "",
                age=age_on(p.birth_date, today),
                role_label=MEMBER_ROLE_LABELS.get(MemberRole(m.role), m.role),
                valid_from=m.valid_from,
                valid_to=m.valid_to,
                protected=p.is_protected,
            )
        )
    return out


def _notes(session: Session, actor: Actor, case_id: uuid.UUID) -> list[NoteDetail]:
    stmt = (
        select(ContactEntry, Agency.label, ContactMethod.label)
        .join(Agency, Agency.code == ContactEntry.agency_code)
        .join(ContactMethod, ContactMethod.code == ContactEntry.method_code)
        .where(
            ContactEntry.case_id == case_id,
            or_(ContactEntry.signed_at.is_not(None), ContactEntry.author_name == actor.username),
        )
        .order_by(ContactEntry.occurred_at, ContactEntry.created_at)
    )
    return [
        NoteDetail(
            id=e.id,
            occurred_at=e.occurred_at.astimezone(LOCAL_TZ),
            agency_label=agency,
            method_label=method,
            counterpart=e.counterpart,
            text=e.text,
            signed=e.signed_at is not None,
            author=e.author_name,
            corrects_id=e.corrects_id,
        )
        for e, agency, method in session.execute(stmt)
    ]


def load_case_in(session: Session, actor: Actor, case_id: uuid.UUID, *, today: date) -> CaseDetail:
    """Read one case for ``actor`` and audit the read."""
    case = session.get(Case, case_id)
    if case is None:
        raise NotFoundError("ärendet finns inte")
    caseworker = (
        session.scalar(select(User.full_name).where(User.id == case.caseworker_id))
        if case.caseworker_id is not None
        else None
    )
    members = _members(session, case_id, today)
    protected = any(m.protected for m in members)
    months = session.execute(
        select(SupportMonth.month, SupportMonth.amount_ore)
        .where(SupportMonth.case_id == case_id)
        .order_by(SupportMonth.month)
    )
    history = session.execute(
        select(AuditEvent.occurred_at, AuditEvent.actor, AuditEvent.action)
        .where(AuditEvent.case_id == case_id)
        .order_by(AuditEvent.id)
    )
    detail = CaseDetail(
        id=case.id,
        case_number=case.case_number,
        status_label=STATUS_LABELS.get(CaseStatus(case.status), case.status),
        opened_on=case.opened_on,
        closed_on=case.closed_on,
        caseworker_name=caseworker or "",
        direction_label=DIRECTION_LABELS.get(Direction(case.direction), case.direction),
        is_focus=case.is_focus,
        summary=case.summary,
        protected=protected,
        address=None if protected else case.address,
        postcode=None if protected else case.postcode,
        town=None if protected else case.town,
        housing_cost_ore=case.housing_cost_ore,
        members=tuple(members),
        notes=tuple(_notes(session, actor, case_id)),
        months=tuple(MonthDetail(m, a) for m, a in months),
        history=tuple(
            HistoryDetail(t.astimezone(LOCAL_TZ), who, ACTION_LABELS.get(action, action))
            for t, who, action in history
        ),
    )
    record_case_opened(session, actor, case_id)
    return detail


class CaseViewService:
    """Reads a case for the case window: one transaction per opening.

    Safe to call from a worker thread: it keeps no session between calls.
    """

    def __init__(
        self, *, db: Database, actor: Actor, today: Callable[[], date] = date.today
    ) -> None:
        self._db = db
        self._actor = actor
        self._today = today

    def load(self, case_id: uuid.UUID) -> CaseDetail:
        with self._db.begin() as s:
            return load_case_in(s, self._actor, case_id, today=self._today())
