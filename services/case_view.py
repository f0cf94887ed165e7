"""Everything the case window shows, read in one transaction.

Opening a case is itself audited (``case_opened``): every read of a case is
logged, in the same transaction as the read. The DTOs carry labels ready to
show, never the mental ill-health flag (health data stays out of views that
do not ask for it), and no address when anyone in the household has
skyddade personuppgifter.

The DTOs also carry what editing needs: ids and versions (every update names
the version it started from), codes beside labels, the members each note
concerns and, per note and person, whether the agency held a valid consent
when the contact happened. All of it comes from a fixed set of queries (one
per table, never one per note), so a case with 1,000 notes opens as fast as
one with ten.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from models import (
    Agency,
    AuditEvent,
    Case,
    Consent,
    ContactEntry,
    ContactMethod,
    HouseholdMember,
    Person,
    PersonDirection,
    PersonOutcome,
    PlanGoal,
    SupportMonth,
    SupportReason,
    SupportReasonKind,
    User,
)
from models.codes import (
    DIRECTION_LABELS,
    GRADE_LABELS,
    MEMBER_ROLE_LABELS,
    OTHER_BENEFIT_LABELS,
    OUTCOME_LABELS,
    STATUS_LABELS,
    CaseStatus,
    Direction,
    MemberRole,
    OtherBenefit,
    Outcome,
    SicknessGrade,
)
from models.contact import contact_entry_member
from services.access import Purpose, require_case_access
from services.audit import ACTION_LABELS, LOCAL_TZ, Actor, record_case_opened
from services.db import Database
from services.errors import NotFoundError
from services.personal_id import format_personal_id
from services.validation import age_on

# Contacts with the client themself need no samtycke; every other agency does
# (healthcare, psychiatry, Försäkringskassan, … and other units: each
# member's secrecy is their own).
CONSENT_EXEMPT_AGENCIES = frozenset({"client"})


@dataclass(frozen=True)
class MemberDetail:
    """One household membership as the Hushåll tab shows and edits it."""

    name: str
    personal_id: str  # YYYYMMDD-NNNN, or "" when the person has no number
    age: int
    role_label: str
    valid_from: date
    valid_to: date | None
    protected: bool
    id: uuid.UUID = uuid.UUID(int=0)  # the membership
    version: int = 1  # the membership's version (ending it checks it)
    person_id: uuid.UUID = uuid.UUID(int=0)
    person_version: int = 1
    role: str = MemberRole.APPLICANT.value
    first_name: str = ""
    last_name: str = ""
    birth_date: date | None = None
    phone: str = ""
    email: str = ""
    studying: bool = False

    @property
    def current(self) -> bool:
        return self.valid_to is None

    @property
    def is_child(self) -> bool:
        return self.role == MemberRole.CHILD.value

    @property
    def is_adult(self) -> bool:
        return not self.is_child


@dataclass(frozen=True)
class ConsentCheck:
    """Whether ``agency`` held a valid samtycke from one person when a contact happened."""

    person_id: uuid.UUID
    name: str
    valid: bool


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
    version: int = 1
    agency_code: str = ""
    method_code: str = ""
    member_ids: tuple[uuid.UUID, ...] = ()
    follow_up_on: date | None = None
    child_perspective: bool = False
    consents: tuple[ConsentCheck, ...] = ()  # one per person concerned (exempt agencies: none)
    corrected_by: tuple[uuid.UUID, ...] = ()  # corrections written of this note

    @property
    def missing_consent(self) -> tuple[str, ...]:
        """Names of the persons concerned for whom the agency had no valid consent."""
        return tuple(c.name for c in self.consents if not c.valid)


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
class ConsentDetail:
    """A samtycke of one member: to whom, what, for how long, withdrawn or not."""

    id: uuid.UUID
    version: int
    person_id: uuid.UUID
    person_name: str
    agency_code: str
    agency_label: str
    scope: str
    valid_from: date
    valid_to: date | None
    withdrawn_on: date | None

    def valid_on(self, day: date) -> bool:
        return (
            self.valid_from <= day
            and (self.valid_to is None or self.valid_to >= day)
            and (self.withdrawn_on is None or self.withdrawn_on > day)
        )


@dataclass(frozen=True)
class ReasonDetail:
    """A försörjningshinder of one adult for a period."""

    id: uuid.UUID
    person_id: uuid.UUID
    person_name: str
    code: str
    label: str
    valid_from: date
    valid_to: date | None


@dataclass(frozen=True)
class DirectionDetail:
    """One person's direction for a period (a history: a new one ends the old one)."""

    id: uuid.UUID
    version: int
    person_id: uuid.UUID
    person_name: str
    direction: str
    label: str
    started_on: date
    ended_on: date | None
    goal: str
    goal_date: date | None


@dataclass(frozen=True)
class GoalDetail:
    """A goal in the plan: for one person, or the household when ``person_id`` is None."""

    id: uuid.UUID
    version: int
    person_id: uuid.UUID | None
    person_name: str  # "" for the household
    direction_label: str
    text: str
    target_date: date | None
    achieved_on: date | None


@dataclass(frozen=True)
class OutcomeDetail:
    """One person's recorded outcome (the case's own outcome is on :class:`CaseDetail`)."""

    person_id: uuid.UUID
    person_name: str
    recorded_on: date
    label: str


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
    version: int = 1
    status: str = CaseStatus.ACTUALISATION.value
    direction: str = Direction.UNDECIDED.value
    unit_id: uuid.UUID | None = None
    outcome_label: str = ""
    housing_type: str | None = None
    consents: tuple[ConsentDetail, ...] = ()
    reasons: tuple[ReasonDetail, ...] = ()
    directions: tuple[DirectionDetail, ...] = ()
    goals: tuple[GoalDetail, ...] = ()
    outcomes: tuple[OutcomeDetail, ...] = ()
    # Active reference codes for the forms, as (code, label) in their sort order.
    agencies: tuple[tuple[str, str], ...] = ()
    methods: tuple[tuple[str, str], ...] = ()
    reason_kinds: tuple[tuple[str, str], ...] = ()

    @property
    def is_closed(self) -> bool:
        return self.status == CaseStatus.CLOSED.value

    def member(self, person_id: uuid.UUID) -> MemberDetail | None:
        """The person's latest membership in this household."""
        found = [m for m in self.members if m.person_id == person_id]
        return found[-1] if found else None

    def children(self) -> tuple[MemberDetail, ...]:
        """Each child once (latest membership), in household order."""
        seen: dict[uuid.UUID, MemberDetail] = {}
        for m in self.members:
            if m.is_child:
                seen[m.person_id] = m
        return tuple(seen.values())

    def notes_about(self, person_id: uuid.UUID) -> tuple[NoteDetail, ...]:
        return tuple(n for n in self.notes if person_id in n.member_ids)


def outcome_label(
    outcome: str | None, grade: str | None, permanent: bool | None, benefit: str | None
) -> str:
    """ "sjukersättning ½, varaktig", "annan ersättning (a-kassa)", "arbete"; "" for none."""
    if outcome is None:
        return ""
    text = OUTCOME_LABELS.get(Outcome(outcome), outcome)
    if grade is not None:
        text += f" {GRADE_LABELS.get(SicknessGrade(grade), grade)}"
    if permanent is not None:
        text += ", varaktig" if permanent else ", tidsbegränsad"
    if benefit is not None:
        text += f" ({OTHER_BENEFIT_LABELS.get(OtherBenefit(benefit), benefit)})"
    return text


def _members(session: Session, case_id: uuid.UUID, today: date) -> list[MemberDetail]:
    rows = session.execute(
        select(HouseholdMember, Person)
        .join(Person, Person.id == HouseholdMember.person_id)
        .where(HouseholdMember.case_id == case_id)
        .order_by(HouseholdMember.valid_from, HouseholdMember.created_at)
    )
    out = []
    for m, p in rows:
        out.append(
            MemberDetail(
                name=p.full_name,
                personal_id=format_personal_id(p.personal_id) if p.personal_id else "",
                age=age_on(p.birth_date, today),
                role_label=MEMBER_ROLE_LABELS.get(MemberRole(m.role), m.role),
                valid_from=m.valid_from,
                valid_to=m.valid_to,
                protected=p.is_protected,
                id=m.id,
                version=m.version,
                person_id=p.id,
                person_version=p.version,
                role=m.role,
                first_name=p.first_name,
                last_name=p.last_name,
                birth_date=p.birth_date,
                phone=p.phone or "",
                email=p.email or "",
                studying=m.studying,
            )
        )
    return out


def _consents(
    session: Session, person_ids: list[uuid.UUID], names: dict[uuid.UUID, str]
) -> list[ConsentDetail]:
    if not person_ids:
        return []
    rows = session.execute(
        select(Consent, Agency.label)
        .join(Agency, Agency.code == Consent.agency_code)
        .where(Consent.person_id.in_(person_ids))
        .order_by(Consent.valid_from, Consent.created_at)
    )
    return [
        ConsentDetail(
            id=c.id,
            version=c.version,
            person_id=c.person_id,
            person_name=names.get(c.person_id, ""),
            agency_code=c.agency_code,
            agency_label=label,
            scope=c.scope,
            valid_from=c.valid_from,
            valid_to=c.valid_to,
            withdrawn_on=c.withdrawn_at.astimezone(LOCAL_TZ).date() if c.withdrawn_at else None,
        )
        for c, label in rows
    ]


def _notes(
    session: Session,
    actor: Actor,
    case_id: uuid.UUID,
    names: dict[uuid.UUID, str],
    consents: list[ConsentDetail],
) -> list[NoteDetail]:
    visible = (
        ContactEntry.case_id == case_id,
        or_(ContactEntry.signed_at.is_not(None), ContactEntry.author_name == actor.username),
    )
    stmt = (
        select(ContactEntry, Agency.label, ContactMethod.label)
        .join(Agency, Agency.code == ContactEntry.agency_code)
        .join(ContactMethod, ContactMethod.code == ContactEntry.method_code)
        .where(*visible)
        .order_by(ContactEntry.occurred_at, ContactEntry.created_at)
    )
    links: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for entry_id, person_id in session.execute(
        select(contact_entry_member.c.entry_id, contact_entry_member.c.person_id)
        .join(ContactEntry, ContactEntry.id == contact_entry_member.c.entry_id)
        .where(*visible)
    ):
        links[entry_id].append(person_id)
    by_person_agency: dict[tuple[uuid.UUID, str], list[ConsentDetail]] = defaultdict(list)
    for c in consents:
        by_person_agency[(c.person_id, c.agency_code)].append(c)
    rows = session.execute(stmt).all()
    corrected_by: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for e, _agency, _method in rows:
        if e.corrects_id is not None:
            corrected_by[e.corrects_id].append(e.id)
    order = {pid: i for i, pid in enumerate(names)}
    out = []
    for e, agency, method in rows:
        occurred = e.occurred_at.astimezone(LOCAL_TZ)
        members = tuple(sorted(links.get(e.id, ()), key=lambda p: order.get(p, len(order))))
        checks: tuple[ConsentCheck, ...] = ()
        if e.agency_code not in CONSENT_EXEMPT_AGENCIES:
            day = occurred.date()
            checks = tuple(
                ConsentCheck(
                    p,
                    names.get(p, ""),
                    any(c.valid_on(day) for c in by_person_agency.get((p, e.agency_code), ())),
                )
                for p in members
            )
        out.append(
            NoteDetail(
                id=e.id,
                occurred_at=occurred,
                agency_label=agency,
                method_label=method,
                counterpart=e.counterpart,
                text=e.text,
                signed=e.signed_at is not None,
                author=e.author_name,
                corrects_id=e.corrects_id,
                version=e.version,
                agency_code=e.agency_code,
                method_code=e.method_code,
                member_ids=members,
                follow_up_on=e.follow_up_on,
                child_perspective=e.child_perspective,
                consents=checks,
                corrected_by=tuple(corrected_by.get(e.id, ())),
            )
        )
    return out


def _plan(
    session: Session, case_id: uuid.UUID, names: dict[uuid.UUID, str]
) -> tuple[list[ReasonDetail], list[DirectionDetail], list[GoalDetail], list[OutcomeDetail]]:
    reasons = [
        ReasonDetail(
            r.id,
            r.person_id,
            names.get(r.person_id, ""),
            r.reason_code,
            label,
            r.valid_from,
            r.valid_to,
        )
        for r, label in session.execute(
            select(SupportReason, SupportReasonKind.label)
            .join(SupportReasonKind, SupportReasonKind.code == SupportReason.reason_code)
            .where(SupportReason.case_id == case_id)
            .order_by(SupportReason.valid_from, SupportReason.created_at)
        )
    ]
    directions = [
        DirectionDetail(
            d.id,
            d.version,
            d.person_id,
            names.get(d.person_id, ""),
            d.direction,
            DIRECTION_LABELS.get(Direction(d.direction), d.direction),
            d.started_on,
            d.ended_on,
            d.goal,
            d.goal_date,
        )
        for d in session.scalars(
            select(PersonDirection)
            .where(PersonDirection.case_id == case_id)
            .order_by(PersonDirection.started_on, PersonDirection.created_at)
        )
    ]
    goals = [
        GoalDetail(
            g.id,
            g.version,
            g.person_id,
            names.get(g.person_id, "") if g.person_id else "",
            DIRECTION_LABELS.get(Direction(g.direction), g.direction),
            g.text,
            g.target_date,
            g.achieved_on,
        )
        for g in session.scalars(
            select(PlanGoal).where(PlanGoal.case_id == case_id).order_by(PlanGoal.created_at)
        )
    ]
    outcomes = [
        OutcomeDetail(
            o.person_id,
            names.get(o.person_id, ""),
            o.recorded_on,
            outcome_label(o.outcome, o.outcome_grade, o.outcome_permanent, o.outcome_benefit),
        )
        for o in session.scalars(
            select(PersonOutcome)
            .where(PersonOutcome.case_id == case_id, PersonOutcome.outcome.is_not(None))
            .order_by(PersonOutcome.recorded_on)
        )
    ]
    return reasons, directions, goals, outcomes


def _codes(
    session: Session, model: type[Agency | ContactMethod | SupportReasonKind]
) -> tuple[tuple[str, str], ...]:
    rows = session.execute(
        select(model.code, model.label).where(model.active).order_by(model.sort_order, model.label)
    )
    return tuple((code, label) for code, label in rows)


def load_case_in(
    session: Session, actor: Actor, case_id: uuid.UUID, *, today: date, audit: bool = True
) -> CaseDetail:
    """Read one case for ``actor`` and audit the read (unless ``audit`` is False)."""
    require_case_access(session, actor, case_id, Purpose.READ)
    case = session.get(Case, case_id)
    if case is None:
        raise NotFoundError("ärendet finns inte")
    caseworker = (
        session.scalar(select(User.full_name).where(User.id == case.caseworker_id))
        if case.caseworker_id is not None
        else None
    )
    members = _members(session, case_id, today)
    names = {m.person_id: m.name for m in members}
    protected = any(m.protected for m in members)
    consents = _consents(session, list(names), names)
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
    reasons, directions, goals, outcomes = _plan(session, case_id, names)
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
        notes=tuple(_notes(session, actor, case_id, names, consents)),
        months=tuple(MonthDetail(m, a) for m, a in months),
        history=tuple(
            HistoryDetail(t.astimezone(LOCAL_TZ), who, ACTION_LABELS.get(action, action))
            for t, who, action in history
        ),
        version=case.version,
        status=case.status,
        direction=case.direction,
        unit_id=case.unit_id,
        outcome_label=outcome_label(
            case.outcome, case.outcome_grade, case.outcome_permanent, case.outcome_benefit
        ),
        housing_type=case.housing_type,
        consents=tuple(consents),
        reasons=tuple(reasons),
        directions=tuple(directions),
        goals=tuple(goals),
        outcomes=tuple(outcomes),
        agencies=_codes(session, Agency),
        methods=_codes(session, ContactMethod),
        reason_kinds=_codes(session, SupportReasonKind),
    )
    if audit:
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
        """Open a case: read it and audit the read."""
        with self._db.begin() as s:
            return load_case_in(s, self._actor, case_id, today=self._today())

    def refresh(self, case_id: uuid.UUID) -> CaseDetail:
        """Read an open window's case again after the user's own (audited) change.

        Not a new opening: the window's opening was audited, and so was the
        write that made the refresh necessary.
        """
        with self._db.begin() as s:
            return load_case_in(s, self._actor, case_id, today=self._today(), audit=False)
