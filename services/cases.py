"""Cases and their households: create, update, assign, close, reopen.

Module-level ``*_in`` functions work inside the caller's session so that an
import can put many cases in one transaction; :class:`CaseService` opens one
transaction per user action. Every write adds an audit event; every update
checks the version the user started from.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from models import (
    CASE_PREFIX,
    Case,
    CaseNumberCounter,
    HouseholdMember,
    Person,
    PersonOutcome,
    SupportReason,
    SupportReasonKind,
    Unit,
    User,
)
from models.codes import (
    CaseStatus,
    Direction,
    MemberRole,
    OtherBenefit,
    Outcome,
    SicknessGrade,
)
from services.access import (
    Purpose,
    name_on_protected_case,
    require_case_access,
    require_case_creation,
    require_person_access,
)
from services.audit import Actor, record
from services.db import Database
from services.errors import (
    ConflictError,
    FieldError,
    NotFoundError,
    ValidationError,
)
from services.household import (
    Membership,
    child_error,
    hidden_open_case,
    open_case_elsewhere,
    role_conflict,
    stored_memberships,
)
from services.persons import (
    CleanPerson,
    PersonBrief,
    PersonInput,
    find_person_brief,
    new_person,
    person_brief,
    update_person_in,
    validate_person,
)
from services.validation import Checker

T = TypeVar("T")
SUMMARY_MAX = 20_000
_POSTCODE = re.compile(r"^(\d{3})\s?(\d{2})$")


@dataclass(frozen=True)
class MemberInput:
    """A household member to add: a new/known person by data, or an existing person id."""

    role: MemberRole
    person: PersonInput | None = None
    person_id: uuid.UUID | None = None
    valid_from: date | None = None
    studying: bool = False


@dataclass(frozen=True)
class CaseInput:
    """A new case with its household."""

    unit_id: uuid.UUID
    opened_on: date
    members: list[MemberInput]
    status: CaseStatus = CaseStatus.ACTUALISATION
    caseworker_id: uuid.UUID | None = None
    is_focus: bool = False
    direction: Direction = Direction.UNDECIDED
    summary: str = ""
    address: str | None = None
    postcode: str | None = None
    town: str | None = None
    housing_type: str | None = None
    housing_cost_ore: int | None = None
    import_key: str | None = None


@dataclass(frozen=True)
class CaseChanges:
    """Fields to change on a case; ``None`` leaves a field as it is."""

    status: CaseStatus | None = None
    direction: Direction | None = None
    is_focus: bool | None = None
    summary: str | None = None
    address: str | None = None
    postcode: str | None = None
    town: str | None = None
    housing_type: str | None = None
    housing_cost_ore: int | None = None


@dataclass(frozen=True)
class OutcomeInput:
    """An outcome, also the reason a case is closed."""

    outcome: Outcome
    grade: SicknessGrade | None = None
    permanent: bool | None = None
    benefit: OtherBenefit | None = None


@dataclass(frozen=True)
class CaseRef:
    """What a caller needs to go on editing a case."""

    id: uuid.UUID
    case_number: str
    version: int


@dataclass(frozen=True)
class Changes:
    """What a service call changed, for views to refresh just that."""

    case_ids: frozenset[uuid.UUID] = field(default_factory=frozenset)
    parts: frozenset[str] = field(default_factory=frozenset)


def format_case_number(year: int, seq: int) -> str:
    return f"{CASE_PREFIX}-{year}-{seq:05d}"


def allocate_case_numbers(session: Session, year: int, count: int = 1) -> list[int]:
    """Reserve ``count`` consecutive sequence numbers for ``year`` (row-locked upsert)."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = (
        insert(CaseNumberCounter)
        .values(year=year, last_seq=count)
        .on_conflict_do_update(
            index_elements=[CaseNumberCounter.year],
            set_={"last_seq": CaseNumberCounter.last_seq + count},
        )
        .returning(CaseNumberCounter.last_seq)
    )
    last = session.execute(stmt).scalar_one()
    return list(range(last - count + 1, last + 1))


def clean_postcode(c: Checker, value: str | None) -> str | None:
    text = c.text("postnummer", value, max_len=10)
    if text is None:
        return None
    m = _POSTCODE.match(text)
    if not m:
        c.fail("postnummer", f"ska vara fem siffror, t.ex. 151 72 (fick {text!r})")
        return None
    return f"{m.group(1)} {m.group(2)}"


def _check_outcome(c: Checker, data: OutcomeInput) -> None:
    if data.outcome is Outcome.SICKNESS_COMPENSATION:
        if data.grade is None:
            c.fail("omfattning", "ange omfattning för sjukersättning (¼, ½, ¾ eller hel)")
        if data.permanent is None:
            c.fail("varaktig", "ange om sjukersättningen är varaktig eller tidsbegränsad")
    elif data.grade is not None or data.permanent is not None:
        c.fail("omfattning", "anges bara för sjukersättning")
    if data.outcome is Outcome.OTHER_BENEFIT and data.benefit is None:
        c.fail("ersättning", "ange vilken annan ersättning")
    if data.outcome is not Outcome.OTHER_BENEFIT and data.benefit is not None:
        c.fail("ersättning", "anges bara för utfallet annan ersättning")


def _apply_outcome(target: Case | PersonOutcome, data: OutcomeInput | None) -> None:
    target.outcome = data.outcome.value if data else None
    target.outcome_grade = data.grade.value if data and data.grade else None
    target.outcome_permanent = data.permanent if data else None
    target.outcome_benefit = data.benefit.value if data and data.benefit else None


def _get(session: Session, model: type[T], ident: uuid.UUID, what: str) -> T:
    row = session.get(model, ident)
    if row is None:
        raise NotFoundError(f"{what} finns inte")
    return row


def load_checked(
    session: Session, model: type[T], ident: uuid.UUID, expected_version: int, what: str
) -> T:
    """Load a row for update and refuse it when someone saved a newer version."""
    row = session.get(model, ident, with_for_update=True)
    if row is None:
        raise NotFoundError(f"{what} finns inte")
    current = row.version  # type: ignore[attr-defined]
    if current != expected_version:
        raise ConflictError(what, expected_version, current)
    return row


def case_by_number(session: Session, case_number: str) -> Case:
    case = session.scalars(select(Case).where(Case.case_number == case_number.strip())).first()
    if case is None:
        raise NotFoundError(f"ärendet {case_number.strip()} finns inte")
    return case


def _person_brief(session: Session, person_id: uuid.UUID) -> PersonBrief:
    brief = person_brief(session, person_id)
    if brief is None:
        raise NotFoundError("personen finns inte")
    return brief


def _resolve_member_person(
    session: Session,
    actor: Actor,
    m: MemberInput,
    clean: CleanPerson | None,
) -> PersonBrief:
    """The person a new member is: given by id, already known by their number (also when
    their row is outside the user's scope on PostgreSQL), or new."""
    if m.person_id is not None:
        return _person_brief(session, m.person_id)
    assert clean is not None
    if clean.pid is not None:
        existing = find_person_brief(session, clean.pid.digits)
        if existing is not None:
            return existing
    return PersonBrief.of(new_person(session, actor, clean))


def create_case_in(
    session: Session, actor: Actor, data: CaseInput, *, today: date | None = None
) -> Case:
    """Validate and insert a case with its household; all or nothing."""
    require_case_creation(session, actor, data.unit_id, data.caseworker_id)
    today = today or date.today()
    c = Checker()
    if data.opened_on > today:
        c.fail("öppnat", "kan inte ligga i framtiden")
    summary = c.text("sammanfattning", data.summary, max_len=SUMMARY_MAX) or ""
    address = c.text("adress", data.address, max_len=200)
    postcode = clean_postcode(c, data.postcode)
    town = c.text("ort", data.town, max_len=100)
    housing_type = c.text("boendeform", data.housing_type, max_len=60)
    c.amount_ore("boendekostnad", data.housing_cost_ore)
    if data.status is CaseStatus.CLOSED:
        c.fail("status", "ett nytt ärende kan inte vara avslutat")
    applicants = [m for m in data.members if m.role is MemberRole.APPLICANT]
    if len(applicants) != 1:
        c.fail("roll", "ett ärende ska ha exakt en sökande")
    cleans: list[CleanPerson | None] = []
    for m in data.members:
        if m.person is None:
            cleans.append(None)
            continue
        try:
            cleans.append(validate_person(m.person, today=today))
        except ValidationError as exc:
            c.errors.extend(exc.errors)
            cleans.append(None)
    c.done()
    if session.get(Unit, data.unit_id) is None:
        raise NotFoundError("enheten finns inte")
    if data.caseworker_id is not None:
        _get(session, User, data.caseworker_id, "handläggaren")

    persons = [
        _resolve_member_person(session, actor, m, cl)
        for m, cl in zip(data.members, cleans, strict=True)
    ]
    year = data.opened_on.year
    (seq,) = allocate_case_numbers(session, year)
    case = Case(
        id=uuid.uuid4(),
        case_number=format_case_number(year, seq),
        number_year=year,
        number_seq=seq,
        unit_id=data.unit_id,
        status=data.status.value,
        opened_on=data.opened_on,
        caseworker_id=data.caseworker_id,
        is_focus=data.is_focus,
        direction=data.direction.value,
        summary=summary,
        address=address,
        postcode=postcode,
        town=town,
        housing_type=housing_type,
        housing_cost_ore=data.housing_cost_ore,
        import_key=data.import_key,
        created_by=actor.username,
        updated_by=actor.username,
    )
    session.add(case)
    session.flush()
    if any(p.is_protected for p in persons):  # the creator and the caseworker keep the case
        name_on_protected_case(session, actor, case.id, data.caseworker_id, force=True)
    for m, person in zip(data.members, persons, strict=True):
        add_member_in(
            session, actor, case, replace(m, person=None, person_id=person.id), audit=False
        )
    record(session, actor, "case_created", case_id=case.id, members=len(data.members))
    return case


def add_member_in(
    session: Session, actor: Actor, case: Case, m: MemberInput, *, audit: bool = True
) -> HouseholdMember:
    """Add an existing person (``m.person_id``) to the case's household, enforcing the rules."""
    assert m.person_id is not None
    require_case_access(session, actor, case.id, Purpose.WRITE)
    person = _person_brief(session, m.person_id)  # its row may be hidden (another's case)
    start = m.valid_from or case.opened_on
    proposed = Membership(m.role, person.birth_date, start, None, m.studying)
    errors: list[FieldError] = []
    if (err := child_error(proposed)) is not None:
        errors.append(err)
    session.flush()
    if (err := role_conflict(proposed, stored_memberships(session, case.id))) is not None:
        errors.append(err)
    already = session.scalars(
        select(HouseholdMember.id).where(
            HouseholdMember.case_id == case.id,
            HouseholdMember.person_id == person.id,
            HouseholdMember.valid_to.is_(None),
        )
    ).first()
    if already is not None:
        errors.append(FieldError("person", "är redan med i hushållet"))
    elsewhere = open_case_elsewhere(session, person.id, on=start, exclude_case=case.id)
    if elsewhere is not None:
        errors.append(
            FieldError("personnummer", f"personen ingår redan i ett öppet ärende ({elsewhere})")
        )
    if errors:
        raise ValidationError(errors)
    if person.is_protected:
        # Named before the member makes the case protected: afterwards, on PostgreSQL, the
        # case would already be hidden from the very users who are to keep it.
        name_on_protected_case(session, actor, case.id, case.caseworker_id, force=True)
    member = HouseholdMember(
        case_id=case.id,
        person_id=person.id,
        role=m.role.value,
        valid_from=start,
        studying=m.studying,
    )
    session.add(member)
    if audit:
        record(session, actor, "member_added", case_id=case.id, role=m.role.value)
    return member


def end_member_in(
    session: Session, actor: Actor, member_id: uuid.UUID, expected_version: int, valid_to: date
) -> HouseholdMember:
    member = load_checked(session, HouseholdMember, member_id, expected_version, "medlemskapet")
    require_case_access(session, actor, member.case_id, Purpose.WRITE)
    if valid_to < member.valid_from:
        raise ValidationError.single("till", "kan inte ligga före från-datumet")
    if member.role == MemberRole.APPLICANT.value:
        raise ValidationError.single(
            "roll", "sökande kan inte tas bort ur hushållet; avsluta ärendet eller byt sökande"
        )
    member.valid_to = valid_to
    record(session, actor, "member_ended", case_id=member.case_id, role=member.role)
    return member


def update_case_in(
    session: Session, actor: Actor, case_id: uuid.UUID, expected_version: int, ch: CaseChanges
) -> Case:
    require_case_access(session, actor, case_id, Purpose.WRITE)
    case = load_checked(session, Case, case_id, expected_version, "ärendet")
    c = Checker()
    changed: dict[str, Any] = {}
    if ch.status is not None:
        if ch.status is CaseStatus.CLOSED or case.status == CaseStatus.CLOSED.value:
            c.fail("status", "avsluta och återöppna ärendet med knapparna för det")
        changed["status"] = ch.status.value
    if ch.direction is not None:
        changed["direction"] = ch.direction.value
    if ch.is_focus is not None:
        changed["is_focus"] = ch.is_focus
    if ch.summary is not None:
        changed["summary"] = c.text("sammanfattning", ch.summary, max_len=SUMMARY_MAX) or ""
    if ch.address is not None:
        changed["address"] = c.text("adress", ch.address, max_len=200)
    if ch.postcode is not None:
        changed["postcode"] = clean_postcode(c, ch.postcode)
    if ch.town is not None:
        changed["town"] = c.text("ort", ch.town, max_len=100)
    if ch.housing_type is not None:
        changed["housing_type"] = c.text("boendeform", ch.housing_type, max_len=60)
    if ch.housing_cost_ore is not None:
        changed["housing_cost_ore"] = c.amount_ore("boendekostnad", ch.housing_cost_ore)
    c.done()
    for key, value in changed.items():
        setattr(case, key, value)
    case.updated_by = actor.username
    record(session, actor, "case_updated", case_id=case.id, fields=sorted(changed))
    return case


def assign_in(
    session: Session,
    actor: Actor,
    case_id: uuid.UUID,
    expected_version: int,
    caseworker_id: uuid.UUID | None,
) -> Case:
    require_case_access(session, actor, case_id, Purpose.MANAGE)
    case = load_checked(session, Case, case_id, expected_version, "ärendet")
    if caseworker_id is not None:
        worker = _get(session, User, caseworker_id, "handläggaren")
        if not worker.active:
            raise ValidationError.single("handläggare", "användaren är inaktiverad")
    case.caseworker_id = caseworker_id
    case.updated_by = actor.username
    record(session, actor, "case_assigned", case_id=case.id, caseworker_id=caseworker_id)
    return case


def close_in(
    session: Session,
    actor: Actor,
    case_id: uuid.UUID,
    expected_version: int,
    closed_on: date,
    outcome: OutcomeInput,
    person_outcomes: dict[uuid.UUID, OutcomeInput] | None = None,
    *,
    today: date | None = None,
) -> Case:
    today = today or date.today()
    require_case_access(session, actor, case_id, Purpose.WRITE)
    case = load_checked(session, Case, case_id, expected_version, "ärendet")
    c = Checker()
    if case.status == CaseStatus.CLOSED.value:
        c.fail("status", "ärendet är redan avslutat")
    if closed_on < case.opened_on:
        c.fail("avslutat", "kan inte ligga före öppnat-datumet")
    if closed_on > today:
        c.fail("avslutat", "kan inte ligga i framtiden")
    _check_outcome(c, outcome)
    members = {m.person_id for m in case.members}
    for pid, po in (person_outcomes or {}).items():
        if pid not in members:
            c.fail("utfall", "personen ingår inte i hushållet")
        _check_outcome(c, po)
    c.done()
    case.status = CaseStatus.CLOSED.value
    case.closed_on = closed_on
    _apply_outcome(case, outcome)
    case.updated_by = actor.username
    for pid, po in (person_outcomes or {}).items():
        row = session.scalars(
            select(PersonOutcome).where(
                PersonOutcome.case_id == case.id, PersonOutcome.person_id == pid
            )
        ).first()
        if row is None:
            row = PersonOutcome(case_id=case.id, person_id=pid, created_by=actor.username)
            session.add(row)
        row.recorded_on = closed_on
        _apply_outcome(row, po)
    record(session, actor, "case_closed", case_id=case.id, outcome=outcome.outcome.value)
    return case


def change_closing_in(
    session: Session,
    actor: Actor,
    case_id: uuid.UUID,
    expected_version: int,
    closed_on: date | None,
    outcome: OutcomeInput | None,
    *,
    today: date | None = None,
) -> Case:
    """Change a closed case's closing date and/or outcome (None keeps what is saved).

    Why: two caseworkers may close the same case with different dates or
    outcomes; the one who saved second chooses per field in the conflict
    dialog, and this saves the choice without a reopening in between.
    """
    today = today or date.today()
    require_case_access(session, actor, case_id, Purpose.WRITE)
    case = load_checked(session, Case, case_id, expected_version, "ärendet")
    c = Checker()
    if case.status != CaseStatus.CLOSED.value:
        c.fail("status", "ärendet är inte avslutat")
    if closed_on is not None and closed_on < case.opened_on:
        c.fail("avslutat", "kan inte ligga före öppnat-datumet")
    if closed_on is not None and closed_on > today:
        c.fail("avslutat", "kan inte ligga i framtiden")
    if outcome is not None:
        _check_outcome(c, outcome)
    c.done()
    if closed_on is not None:
        case.closed_on = closed_on
    if outcome is not None:
        _apply_outcome(case, outcome)
    case.updated_by = actor.username
    record(session, actor, "case_closing_changed", case_id=case.id, outcome=case.outcome)
    return case


def reopen_in(session: Session, actor: Actor, case_id: uuid.UUID, expected_version: int) -> Case:
    require_case_access(session, actor, case_id, Purpose.WRITE)
    case = load_checked(session, Case, case_id, expected_version, "ärendet")
    if case.status != CaseStatus.CLOSED.value:
        raise ValidationError.single("status", "ärendet är inte avslutat")
    today = date.today()
    for m in case.members:
        if m.valid_to is None:
            other = open_case_elsewhere(session, m.person_id, on=today, exclude_case=case.id)
            if other is not None:
                raise ValidationError.single(
                    "hushåll", f"en medlem ingår nu i ett annat öppet ärende ({other})"
                )
    # Person outcomes stay: what happened to a person remains true after a reopening.
    case.status = CaseStatus.ONGOING.value
    case.closed_on = None
    _apply_outcome(case, None)
    case.updated_by = actor.username
    record(session, actor, "case_reopened", case_id=case.id)
    return case


def add_support_reason_in(
    session: Session,
    actor: Actor,
    case_id: uuid.UUID,
    person_id: uuid.UUID,
    reason_code: str,
    valid_from: date,
    valid_to: date | None = None,
) -> SupportReason:
    require_case_access(session, actor, case_id, Purpose.WRITE)
    c = Checker()
    c.period("till", valid_from, valid_to)
    kind = session.get(SupportReasonKind, reason_code)
    if kind is None or not kind.active:
        c.fail("försörjningshinder", f"okänt försörjningshinder {reason_code!r}")
    member = session.scalars(
        select(HouseholdMember).where(
            HouseholdMember.case_id == case_id, HouseholdMember.person_id == person_id
        )
    ).first()
    if member is None:
        c.fail("person", "ingår inte i hushållet")
    elif member.role == MemberRole.CHILD.value:
        c.fail("person", "försörjningshinder anges bara för vuxna")
    c.done()
    reason = SupportReason(
        case_id=case_id,
        person_id=person_id,
        reason_code=reason_code,
        valid_from=valid_from,
        valid_to=valid_to,
        created_by=actor.username,
    )
    session.add(reason)
    record(session, actor, "support_reason_added", case_id=case_id, reason=reason_code)
    return reason


class CaseService:
    """One transaction per user action on cases and households."""

    def __init__(self, *, db: Database, actor: Actor) -> None:
        self._db = db
        self._actor = actor

    def create_case(self, data: CaseInput) -> CaseRef:
        with self._db.action("ärendet") as s:
            case = create_case_in(s, self._actor, data)
            s.flush()
            return CaseRef(case.id, case.case_number, case.version)

    def update_case(self, case_id: uuid.UUID, expected_version: int, ch: CaseChanges) -> CaseRef:
        with self._db.action("ärendet") as s:
            case = update_case_in(s, self._actor, case_id, expected_version, ch)
            s.flush()
            return CaseRef(case.id, case.case_number, case.version)

    def add_member(self, case_id: uuid.UUID, expected_version: int, m: MemberInput) -> uuid.UUID:
        """Add a member; the case's version is checked (the household is part of the case)."""
        with self._db.action("ärendet") as s:
            case = load_checked(s, Case, case_id, expected_version, "ärendet")
            if m.person_id is None:
                assert m.person is not None
                clean = validate_person(m.person)
                person = _resolve_member_person(s, self._actor, m, clean)
                m = replace(m, person=None, person_id=person.id)
            member = add_member_in(s, self._actor, case, m)
            s.flush()
            return member.id

    def update_person(self, person_id: uuid.UUID, expected_version: int, data: PersonInput) -> int:
        """Edit a person; returns the new version."""
        with self._db.action("ärendet") as s:
            require_person_access(s, self._actor, person_id)
            person = load_checked(s, Person, person_id, expected_version, "personen")
            changed = update_person_in(s, self._actor, person, data)
            record(s, self._actor, "person_updated", person_id=person.id, fields=sorted(changed))
            s.flush()
            return person.version

    def end_member(self, member_id: uuid.UUID, expected_version: int, valid_to: date) -> None:
        with self._db.action("ärendet") as s:
            end_member_in(s, self._actor, member_id, expected_version, valid_to)

    def assign(
        self, case_id: uuid.UUID, expected_version: int, caseworker_id: uuid.UUID | None
    ) -> CaseRef:
        with self._db.action("ärendet") as s:
            case = assign_in(s, self._actor, case_id, expected_version, caseworker_id)
            s.flush()
            return CaseRef(case.id, case.case_number, case.version)

    def close(
        self,
        case_id: uuid.UUID,
        expected_version: int,
        closed_on: date,
        outcome: OutcomeInput,
        person_outcomes: dict[uuid.UUID, OutcomeInput] | None = None,
    ) -> CaseRef:
        with self._db.action("ärendet") as s:
            case = close_in(
                s, self._actor, case_id, expected_version, closed_on, outcome, person_outcomes
            )
            s.flush()
            return CaseRef(case.id, case.case_number, case.version)

    def change_closing(
        self,
        case_id: uuid.UUID,
        expected_version: int,
        closed_on: date | None,
        outcome: OutcomeInput | None,
    ) -> CaseRef:
        with self._db.action("ärendet") as s:
            case = change_closing_in(s, self._actor, case_id, expected_version, closed_on, outcome)
            s.flush()
            return CaseRef(case.id, case.case_number, case.version)

    def reopen(self, case_id: uuid.UUID, expected_version: int) -> CaseRef:
        with self._db.action("ärendet") as s:
            case = reopen_in(s, self._actor, case_id, expected_version)
            s.flush()
            return CaseRef(case.id, case.case_number, case.version)

    def add_support_reason(
        self,
        case_id: uuid.UUID,
        person_id: uuid.UUID,
        reason_code: str,
        valid_from: date,
        valid_to: date | None = None,
    ) -> uuid.UUID:
        with self._db.action("ärendet") as s:
            reason = add_support_reason_in(
                s, self._actor, case_id, person_id, reason_code, valid_from, valid_to
            )
            s.flush()
            return reason.id

    def count(self) -> int:
        with self._db.begin() as s:
            return s.scalar(select(func.count()).select_from(Case)) or 0


# ---------------------------------------------------------------------------
# For the case window (issue 3): plan goals, a member's person data, and who
# holds an open case for a personnummer.

GOAL_TEXT_MAX = 2_000


@dataclass(frozen=True)
class GoalInput:
    """A goal in the case plan, for one person or (``person_id`` None) the household."""

    case_id: uuid.UUID
    text: str
    person_id: uuid.UUID | None = None
    direction: Direction = Direction.UNDECIDED
    target_date: date | None = None


@dataclass(frozen=True)
class MemberPersonInput:
    """The person data the household form edits; everything else stays as stored."""

    first_name: str
    last_name: str
    personal_id: str | None = None
    phone: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class OpenCaseHolder:
    """Who has a person's open case: the unit and caseworker, never the case's content."""

    case_id: uuid.UUID
    case_number: str
    unit_name: str
    caseworker_name: str  # "" when not assigned
    outside_scope: bool = False  # found through the definer function: the case is not visible


def add_plan_goal_in(
    session: Session, actor: Actor, data: GoalInput, *, today: date | None = None
) -> Any:
    """Add a goal to the case plan; a person's goal needs the person in the household."""
    from models import PlanGoal

    today = today or date.today()
    c = Checker()
    text = c.text("mål", data.text, max_len=GOAL_TEXT_MAX, required=True)
    case = _get(session, Case, data.case_id, "ärendet")
    require_case_access(session, actor, case.id, Purpose.WRITE)
    if data.person_id is not None:
        member = session.scalars(
            select(HouseholdMember.id).where(
                HouseholdMember.case_id == data.case_id,
                HouseholdMember.person_id == data.person_id,
            )
        ).first()
        if member is None:
            c.fail("person", "ingår inte i hushållet")
    if data.target_date is not None and data.target_date < case.opened_on:
        c.fail("måldatum", "kan inte ligga före ärendets start")
    c.done()
    goal = PlanGoal(
        id=uuid.uuid4(),
        case_id=data.case_id,
        person_id=data.person_id,
        direction=data.direction.value,
        text=text or "",
        target_date=data.target_date,
        created_by=actor.username,
        updated_by=actor.username,
    )
    session.add(goal)
    record(session, actor, "plan_goal_added", case_id=data.case_id)
    return goal


def achieve_goal_in(
    session: Session,
    actor: Actor,
    goal_id: uuid.UUID,
    expected_version: int,
    achieved_on: date,
    *,
    today: date | None = None,
) -> Any:
    """Mark a goal as reached on ``achieved_on``."""
    from models import PlanGoal

    today = today or date.today()
    goal = load_checked(session, PlanGoal, goal_id, expected_version, "målet")
    require_case_access(session, actor, goal.case_id, Purpose.WRITE)
    if achieved_on > today:
        raise ValidationError.single("uppnått", "kan inte ligga i framtiden")
    goal.achieved_on = achieved_on
    goal.updated_by = actor.username
    record(session, actor, "plan_goal_achieved", case_id=goal.case_id)
    return goal


def update_member_person_in(
    session: Session,
    actor: Actor,
    person_id: uuid.UUID,
    expected_version: int,
    data: MemberPersonInput,
) -> Person:
    """Edit the names, number and contact details of a person; other fields are kept.

    The household form does not show protection or health data, so they are
    taken from the stored person instead of being reset by an edit.
    """
    from models.codes import Protection

    require_person_access(session, actor, person_id)
    person = load_checked(session, Person, person_id, expected_version, "personen")
    full = PersonInput(
        first_name=data.first_name,
        last_name=data.last_name,
        personal_id=data.personal_id,
        birth_date=person.birth_date,
        reserve_number=person.reserve_number,
        phone=data.phone,
        email=data.email,
        language=person.language,
        needs_interpreter=person.needs_interpreter,
        protection=Protection(person.protection) if person.protection else None,
        mental_ill_health=person.mental_ill_health,
    )
    changed = update_person_in(session, actor, person, full)
    if changed:
        record(session, actor, "person_updated", person_id=person.id, fields=sorted(changed))
    return person


def open_case_holder_in(session: Session, personal_id: str) -> OpenCaseHolder | None:
    """The open case a person (by any number they have had) is a current member of."""
    from services.personal_id import PersonalIdError, parse_personal_id

    try:
        pid = parse_personal_id(personal_id)
    except PersonalIdError as exc:
        raise ValidationError.single("personnummer", str(exc)) from exc
    person = find_person_brief(session, pid.digits)
    if person is None:
        return None
    today = date.today()
    row = None
    if person.visible:
        row = session.execute(
            select(Case.id, Case.case_number, Unit.name, User.full_name)
            .join(HouseholdMember, HouseholdMember.case_id == Case.id)
            .join(Unit, Unit.id == Case.unit_id)
            .outerjoin(User, User.id == Case.caseworker_id)
            .where(
                HouseholdMember.person_id == person.id,
                Case.status != CaseStatus.CLOSED.value,
                (HouseholdMember.valid_to.is_(None)) | (HouseholdMember.valid_to >= today),
            )
            .limit(1)
        ).first()
    if row is not None:
        return OpenCaseHolder(row[0], row[1], row[2], row[3] or "")
    # On PostgreSQL the person's row or their open case may be outside the user's scope:
    # who has it, never what is in it (issue 3, item 4).
    hidden = hidden_open_case(session, person.id, on=today, exclude_case=None)
    if hidden is None:
        return None
    return OpenCaseHolder(
        hidden.case_id,
        hidden.case_number,
        hidden.unit_name,
        hidden.caseworker_name,
        outside_scope=True,
    )


class CaseEditService:
    """The case window's edits that :class:`CaseService` lacks; one transaction each."""

    def __init__(self, *, db: Database, actor: Actor) -> None:
        self._db = db
        self._actor = actor

    def add_goal(self, data: GoalInput) -> uuid.UUID:
        with self._db.action("målet") as s:
            goal = add_plan_goal_in(s, self._actor, data)
            s.flush()
            return uuid.UUID(str(goal.id))

    def achieve_goal(self, goal_id: uuid.UUID, expected_version: int, achieved_on: date) -> None:
        with self._db.action("målet") as s:
            achieve_goal_in(s, self._actor, goal_id, expected_version, achieved_on)

    def update_member_person(
        self, person_id: uuid.UUID, expected_version: int, data: MemberPersonInput
    ) -> int:
        with self._db.action("personen") as s:
            person = update_member_person_in(s, self._actor, person_id, expected_version, data)
            s.flush()
            return person.version

    def open_case_holder(self, personal_id: str) -> OpenCaseHolder | None:
        """Who has the person's open case. When that case is outside the user's scope the
        lookup is audited (without the number typed), for the logguppföljning."""
        with self._db.begin() as s:
            holder = open_case_holder_in(s, personal_id)
            if holder is not None and holder.outside_scope:
                record(s, self._actor, "open_case_holder_looked_up", case_id=holder.case_id)
            return holder

    def create_case(self, data: CaseInput, reason_code: str | None = None) -> CaseRef:
        """A case with its household and the sökande's försörjningshinder: all or nothing."""
        with self._db.action("ärendet") as s:
            case = create_case_with_reason_in(s, self._actor, data, reason_code)
            s.flush()
            return CaseRef(case.id, case.case_number, case.version)

    def update_member(
        self,
        member: tuple[uuid.UUID, int],
        role: MemberRole,
        valid_from: date,
        studying: bool,
        person: tuple[uuid.UUID, int],
        data: MemberPersonInput,
    ) -> None:
        """Edit a member: membership (id, version) and person (id, version) in one transaction."""
        with self._db.action("medlemskapet") as s:
            update_membership_in(s, self._actor, *member, role, valid_from, studying)
            update_member_person_in(s, self._actor, *person, data)

    def reason_kinds(self) -> list[tuple[str, str]]:
        """Active försörjningshinder as (code, label), for forms."""
        with self._db.begin() as s:
            rows = s.execute(
                select(SupportReasonKind.code, SupportReasonKind.label)
                .where(SupportReasonKind.active)
                .order_by(SupportReasonKind.sort_order, SupportReasonKind.label)
            )
            return [(code, label) for code, label in rows]


# --- offline laptops (issue 7) ----------------------------------------------------------------

_PROVISIONAL = re.compile(rf"^{CASE_PREFIX}-(\d{{4}})-L([0-9A-Z]{{1,16}})-(\d{{4,}})$")


def provisional_case_number(laptop_code: str, year: int, seq: int) -> str:
    """A case number made on a laptop, e.g. ``FS-2026-L3F9A-0001``; renumbered at sync."""
    return f"{CASE_PREFIX}-{year}-L{laptop_code}-{seq:04d}"


def is_provisional_case_number(case_number: str | None) -> bool:
    """True for a number from :func:`provisional_case_number` (not yet numbered centrally)."""
    return bool(case_number and _PROVISIONAL.match(case_number))


def create_case_with_reason_in(
    session: Session,
    actor: Actor,
    data: CaseInput,
    reason_code: str | None,
    *,
    today: date | None = None,
) -> Case:
    """A new case and, if given, the sökande's försörjningshinder from the opening day."""
    case = create_case_in(session, actor, data, today=today)
    if reason_code:
        session.flush()
        applicant = session.scalars(
            select(HouseholdMember.person_id).where(
                HouseholdMember.case_id == case.id,
                HouseholdMember.role == MemberRole.APPLICANT.value,
            )
        ).one()
        add_support_reason_in(session, actor, case.id, applicant, reason_code, data.opened_on)
    return case


def update_membership_in(
    session: Session,
    actor: Actor,
    member_id: uuid.UUID,
    expected_version: int,
    role: MemberRole,
    valid_from: date,
    studying: bool,
) -> HouseholdMember:
    """Change a membership's role, start date or studying flag, under the household rules."""
    member = load_checked(session, HouseholdMember, member_id, expected_version, "medlemskapet")
    require_case_access(session, actor, member.case_id, Purpose.WRITE)
    if (member.role, member.valid_from, member.studying) == (role.value, valid_from, studying):
        return member
    errors: list[FieldError] = []
    if member.role == MemberRole.APPLICANT.value and role is not MemberRole.APPLICANT:
        errors.append(FieldError("roll", "sökande byts inte här; ett ärende har alltid en sökande"))
    if member.valid_to is not None and valid_from > member.valid_to:
        errors.append(FieldError("från", "kan inte ligga efter till-datumet"))
    person = _get(session, Person, member.person_id, "personen")
    proposed = Membership(role, person.birth_date, valid_from, member.valid_to, studying)
    if (err := child_error(proposed)) is not None:
        errors.append(err)
    others = [
        Membership(MemberRole(m.role), birth, m.valid_from, m.valid_to, m.studying)
        for m, birth in session.execute(
            select(HouseholdMember, Person.birth_date)
            .join(Person, Person.id == HouseholdMember.person_id)
            .where(HouseholdMember.case_id == member.case_id, HouseholdMember.id != member.id)
        )
    ]
    if (err := role_conflict(proposed, others)) is not None:
        errors.append(err)
    if errors:
        raise ValidationError(errors)
    member.role = role.value
    member.valid_from = valid_from
    member.studying = studying
    record(session, actor, "member_updated", case_id=member.case_id, role=role.value)
    return member
