"""Directions and outcomes per person, and the unit's outcome targets.

Why: the focus posts are judged by how many *persons* leave
försörjningsstöd and for what — the Helsingborg target was 35 persons, 15 to
work, studies or part-time sjukersättning and 20 to varaktig sjukersättning.
So each adult gets a direction of their own (work or studies through
arbetslivsinriktad rehabilitering, or sjukersättning/aktivitetsersättning
through Försäkringskassan) with a goal and dates, an outcome can be recorded
for one person while the household's case goes on, and an arbetsledare sets
targets as groups of outcomes that are counted in SQL.

Counting rules for a target: the persons with an outcome dated inside the
target's period (see :func:`services.longterm.person_outcomes` for what a
person's outcome is), in cases of the target's unit (and only focus cases
when ``focus_only``). A person counts once, in the first group (by
position) that has a rule matching one of their outcomes; a rule matches an
outcome code and, where set, the grade and whether it is varaktig.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from models import Case, HouseholdMember, PersonDirection, PersonOutcome, Target, Unit, utcnow
from models.codes import Direction, Outcome, SicknessGrade
from models.plan import TargetGroup, TargetRule
from services.access import Purpose, require_case_access
from services.audit import Actor, record
from services.caseload import require_team_leader
from services.cases import OutcomeInput, _apply_outcome, _check_outcome, load_checked
from services.db import Database
from services.errors import ConflictError, NotFoundError, ValidationError
from services.longterm import person_outcomes
from services.validation import Checker

GOAL_MAX = 2_000
NOTE_MAX = 10_000
COUNT_TARGET_MAX = 100_000

# ---------------------------------------------------------------------------
# Directions per person


@dataclass(frozen=True)
class DirectionInput:
    """A new direction for one person in a case, from ``started_on``."""

    case_id: uuid.UUID
    person_id: uuid.UUID
    direction: Direction
    started_on: date
    goal: str = ""
    goal_date: date | None = None
    note: str = ""


@dataclass(frozen=True)
class DirectionView:
    id: uuid.UUID
    person_id: uuid.UUID
    direction: Direction
    started_on: date
    ended_on: date | None
    goal: str
    goal_date: date | None
    note: str
    version: int


def _is_member(session: Session, case_id: uuid.UUID, person_id: uuid.UUID) -> bool:
    return (
        session.scalars(
            select(HouseholdMember.id).where(
                HouseholdMember.case_id == case_id, HouseholdMember.person_id == person_id
            )
        ).first()
        is not None
    )


def set_person_direction_in(
    session: Session, actor: Actor, data: DirectionInput, *, today: date | None = None
) -> PersonDirection:
    """Start a direction for a person; the current one (if any) ends the day before.

    Directions are kept as a history rather than overwritten, so the time
    each phase took can be followed up.
    """
    require_case_access(session, actor, data.case_id, Purpose.WRITE)
    today = today or date.today()
    c = Checker()
    goal = c.text("mål", data.goal, max_len=GOAL_MAX) or ""
    note = c.text("anteckning", data.note, max_len=NOTE_MAX) or ""
    if data.started_on > today:
        c.fail("från", "kan inte ligga i framtiden")
    if data.goal_date is not None and data.goal_date < data.started_on:
        c.fail("måldatum", "kan inte ligga före startdatumet")
    case = session.get(Case, data.case_id)
    if case is None:
        raise NotFoundError("ärendet finns inte")
    if not _is_member(session, data.case_id, data.person_id):
        c.fail("person", "ingår inte i hushållet")
    current = session.scalars(
        select(PersonDirection)
        .where(
            PersonDirection.case_id == data.case_id,
            PersonDirection.person_id == data.person_id,
            PersonDirection.ended_on.is_(None),
        )
        .with_for_update()
    ).first()
    if current is not None and current.started_on >= data.started_on:
        c.fail(
            "från",
            f"måste ligga efter den nuvarande inriktningens start ({current.started_on})",
        )
    c.done()
    if current is not None:
        current.ended_on = data.started_on - timedelta(days=1)
        current.updated_by = actor.username
    row = PersonDirection(
        id=uuid.uuid4(),
        case_id=data.case_id,
        person_id=data.person_id,
        direction=data.direction.value,
        started_on=data.started_on,
        goal=goal,
        goal_date=data.goal_date,
        note=note,
        created_by=actor.username,
        updated_by=actor.username,
    )
    session.add(row)
    record(
        session,
        actor,
        "person_direction_set",
        case_id=data.case_id,
        person_id=data.person_id,
        direction=data.direction.value,
    )
    return row


def end_person_direction_in(
    session: Session,
    actor: Actor,
    direction_id: uuid.UUID,
    expected_version: int,
    ended_on: date,
) -> PersonDirection:
    row = load_checked(session, PersonDirection, direction_id, expected_version, "inriktningen")
    require_case_access(session, actor, row.case_id, Purpose.WRITE)
    if ended_on < row.started_on:
        raise ValidationError.single("till", "kan inte ligga före startdatumet")
    row.ended_on = ended_on
    row.updated_by = actor.username
    record(session, actor, "person_direction_ended", case_id=row.case_id, person_id=row.person_id)
    return row


def person_directions(session: Session, case_id: uuid.UUID) -> list[DirectionView]:
    rows = session.scalars(
        select(PersonDirection)
        .where(PersonDirection.case_id == case_id)
        .order_by(PersonDirection.person_id, PersonDirection.started_on)
    )
    return [
        DirectionView(
            r.id,
            r.person_id,
            Direction(r.direction),
            r.started_on,
            r.ended_on,
            r.goal,
            r.goal_date,
            r.note,
            r.version,
        )
        for r in rows
    ]


# ---------------------------------------------------------------------------
# Outcomes per person outside closing


def record_person_outcome_in(
    session: Session,
    actor: Actor,
    case_id: uuid.UUID,
    person_id: uuid.UUID,
    outcome: OutcomeInput | None,
    recorded_on: date,
    *,
    today: date | None = None,
) -> PersonOutcome | None:
    """Record (or replace) one person's outcome while the case goes on.

    E.g. the partner is granted varaktig sjukersättning and leaves the
    household. ``outcome=None`` removes the person's own outcome, so that the
    case's outcome applies to them again when it closes. Note that
    re-opening a case removes its persons' outcomes (``reopen_in``).
    """
    require_case_access(session, actor, case_id, Purpose.WRITE)
    today = today or date.today()
    c = Checker()
    case = session.get(Case, case_id)
    if case is None:
        raise NotFoundError("ärendet finns inte")
    if not _is_member(session, case_id, person_id):
        c.fail("person", "ingår inte i hushållet")
    if recorded_on > today:
        c.fail("datum", "kan inte ligga i framtiden")
    if recorded_on < case.opened_on:
        c.fail("datum", "kan inte ligga före ärendets start")
    if outcome is not None:
        _check_outcome(c, outcome)
    c.done()
    row = session.scalars(
        select(PersonOutcome)
        .where(PersonOutcome.case_id == case_id, PersonOutcome.person_id == person_id)
        .with_for_update()
    ).first()
    if outcome is None:
        if row is not None:
            session.delete(row)
            record(session, actor, "person_outcome_removed", case_id=case_id, person_id=person_id)
        return None
    if row is None:
        row = PersonOutcome(
            case_id=case_id,
            person_id=person_id,
            recorded_on=recorded_on,
            created_by=actor.username,
        )
        session.add(row)
    row.recorded_on = recorded_on
    _apply_outcome(row, outcome)
    record(
        session,
        actor,
        "person_outcome_recorded",
        case_id=case_id,
        person_id=person_id,
        outcome=outcome.outcome.value,
    )
    return row


# ---------------------------------------------------------------------------
# Targets


@dataclass(frozen=True)
class OutcomeRule:
    """An outcome that counts toward a group; ``None`` for grade/permanent means any."""

    outcome: Outcome
    grade: SicknessGrade | None = None
    permanent: bool | None = None


@dataclass(frozen=True)
class TargetGroupInput:
    label: str
    count_target: int
    rules: tuple[OutcomeRule, ...]


@dataclass(frozen=True)
class TargetInput:
    unit_id: uuid.UUID
    name: str
    period_from: date
    period_to: date
    groups: tuple[TargetGroupInput, ...]
    focus_only: bool = False


_PART_TIME = (SicknessGrade.QUARTER, SicknessGrade.HALF, SicknessGrade.THREE_QUARTERS)

# The Helsingborg focus posts' target (press release, 2012): 35 persons.
FOCUS_TARGET_GROUPS: tuple[TargetGroupInput, ...] = (
    TargetGroupInput(
        "arbete, studier eller sjukersättning på deltid",
        15,
        (
            OutcomeRule(Outcome.WORK),
            OutcomeRule(Outcome.STUDIES),
            *(OutcomeRule(Outcome.SICKNESS_COMPENSATION, grade=g) for g in _PART_TIME),
        ),
    ),
    TargetGroupInput(
        "varaktig sjukersättning",
        20,
        (OutcomeRule(Outcome.SICKNESS_COMPENSATION, permanent=True),),
    ),
)


def _check_target(c: Checker, data: TargetInput) -> str | None:
    name = c.text("namn", data.name, max_len=120, required=True)
    c.period("till", data.period_from, data.period_to)
    if not data.groups:
        c.fail("grupper", "ange minst en grupp av utfall")
    for i, g in enumerate(data.groups, start=1):
        c.text(f"grupp {i}: namn", g.label, max_len=120, required=True)
        if not 0 <= g.count_target <= COUNT_TARGET_MAX:
            c.fail(f"grupp {i}: antal", f"ska vara 0–{COUNT_TARGET_MAX}")
        if not g.rules:
            c.fail(f"grupp {i}: utfall", "ange minst ett utfall som räknas")
        for r in g.rules:
            if r.outcome is not Outcome.SICKNESS_COMPENSATION and (
                r.grade is not None or r.permanent is not None
            ):
                c.fail(
                    f"grupp {i}: utfall", "omfattning och varaktighet anges bara för sjukersättning"
                )
    return name


def _build_groups(target: Target, data: TargetInput) -> None:
    for position, g in enumerate(data.groups, start=1):
        group = TargetGroup(
            id=uuid.uuid4(), position=position, label=g.label.strip(), count_target=g.count_target
        )
        group.rules = [
            TargetRule(
                id=uuid.uuid4(),
                outcome=r.outcome.value,
                grade=r.grade.value if r.grade else None,
                permanent=r.permanent,
            )
            for r in dict.fromkeys(g.rules)
        ]
        target.groups.append(group)


def create_target_in(session: Session, actor: Actor, data: TargetInput) -> Target:
    """An arbetsledare sets a target for a period and unit."""
    require_team_leader(actor, "sätta mål")
    c = Checker()
    name = _check_target(c, data)
    c.done()
    if session.get(Unit, data.unit_id) is None:
        raise NotFoundError("enheten finns inte")
    assert name is not None
    target = Target(
        id=uuid.uuid4(),
        unit_id=data.unit_id,
        name=name,
        period_from=data.period_from,
        period_to=data.period_to,
        focus_only=data.focus_only,
        created_by=actor.username,
        updated_by=actor.username,
    )
    _build_groups(target, data)
    session.add(target)
    session.flush()
    record(
        session,
        actor,
        "target_created",
        target_id=target.id,
        unit_id=data.unit_id,
        groups=len(data.groups),
        count_target=sum(g.count_target for g in data.groups),
    )
    return target


def update_target_in(
    session: Session,
    actor: Actor,
    target_id: uuid.UUID,
    expected_version: int,
    data: TargetInput,
) -> Target:
    """Replace a target's name, period and groups (the unit stays)."""
    require_team_leader(actor, "ändra mål")
    target = load_checked(session, Target, target_id, expected_version, "målet")
    c = Checker()
    name = _check_target(c, data)
    if data.unit_id != target.unit_id:
        c.fail("enhet", "ett mål kan inte flyttas till en annan enhet")
    c.done()
    assert name is not None
    target.name = name
    target.period_from = data.period_from
    target.period_to = data.period_to
    target.focus_only = data.focus_only
    target.updated_by = actor.username
    target.updated_at = utcnow()  # always an UPDATE, so the version moves on
    target.groups.clear()
    session.flush()
    _build_groups(target, data)
    record(session, actor, "target_updated", target_id=target.id, groups=len(data.groups))
    return target


@dataclass(frozen=True)
class GroupProgress:
    position: int
    label: str
    count_target: int
    achieved: int


@dataclass(frozen=True)
class TargetProgress:
    """A target and, per group, how many persons have reached it so far."""

    target_id: uuid.UUID
    unit_id: uuid.UUID
    name: str
    period_from: date
    period_to: date
    focus_only: bool
    version: int
    groups: tuple[GroupProgress, ...]

    @property
    def total_target(self) -> int:
        return sum(g.count_target for g in self.groups)

    @property
    def total_achieved(self) -> int:
        return sum(g.achieved for g in self.groups)


def target_progress(session: Session, target_id: uuid.UUID) -> TargetProgress:
    """Persons per group of the target, counted in SQL (see the module docstring)."""
    target = session.get(Target, target_id)
    if target is None:
        raise NotFoundError("målet finns inte")
    po = person_outcomes(
        target.period_from,
        target.period_to + timedelta(days=1),
        unit_id=target.unit_id,
        focus_only=target.focus_only,
    ).subquery("po")
    g, r = TargetGroup, TargetRule
    matches = and_(
        r.outcome == po.c.outcome,
        or_(r.grade.is_(None), r.grade == po.c.grade),
        or_(r.permanent.is_(None), r.permanent == po.c.permanent),
    )
    first_group = (
        select(po.c.person_id, func.min(g.position).label("position"))
        .select_from(po)
        .join(r, matches)
        .join(g, g.id == r.group_id)
        .where(g.target_id == target_id)
        .group_by(po.c.person_id)
        .subquery("first_group")
    )
    per_group = (
        select(first_group.c.position, func.count().label("n"))
        .group_by(first_group.c.position)
        .subquery("per_group")
    )
    rows = session.execute(
        select(g.position, g.label, g.count_target, func.coalesce(per_group.c.n, 0))
        .outerjoin(per_group, per_group.c.position == g.position)
        .where(g.target_id == target_id)
        .order_by(g.position)
    ).all()
    return TargetProgress(
        target_id=target.id,
        unit_id=target.unit_id,
        name=target.name,
        period_from=target.period_from,
        period_to=target.period_to,
        focus_only=target.focus_only,
        version=target.version,
        groups=tuple(GroupProgress(int(p), lbl, int(t), int(n)) for p, lbl, t, n in rows),
    )


def targets_for_unit(session: Session, unit_id: uuid.UUID) -> list[TargetProgress]:
    """Every target of a unit with its progress, latest period first."""
    ids = session.scalars(
        select(Target.id)
        .where(Target.unit_id == unit_id)
        .order_by(Target.period_from.desc(), Target.name)
    ).all()
    return [target_progress(session, i) for i in ids]


class TargetService:
    """One transaction per user action on directions, person outcomes and targets."""

    def __init__(self, *, db: Database, actor: Actor) -> None:
        self._db = db
        self._actor = actor

    def set_direction(self, data: DirectionInput) -> uuid.UUID:
        with self._db.begin() as s:
            row = set_person_direction_in(s, self._actor, data)
            s.flush()
            return row.id

    def end_direction(self, direction_id: uuid.UUID, expected_version: int, ended_on: date) -> None:
        try:
            with self._db.begin() as s:
                end_person_direction_in(s, self._actor, direction_id, expected_version, ended_on)
        except StaleDataError as exc:
            raise ConflictError("inriktningen", expected_version, -1) from exc

    def directions(self, case_id: uuid.UUID) -> list[DirectionView]:
        with self._db.begin() as s:
            require_case_access(s, self._actor, case_id, Purpose.READ)
            return person_directions(s, case_id)

    def record_outcome(
        self,
        case_id: uuid.UUID,
        person_id: uuid.UUID,
        outcome: OutcomeInput | None,
        recorded_on: date,
    ) -> None:
        with self._db.begin() as s:
            record_person_outcome_in(s, self._actor, case_id, person_id, outcome, recorded_on)

    def create_target(self, data: TargetInput) -> uuid.UUID:
        with self._db.begin() as s:
            return create_target_in(s, self._actor, data).id

    def update_target(self, target_id: uuid.UUID, expected_version: int, data: TargetInput) -> int:
        try:
            with self._db.begin() as s:
                target = update_target_in(s, self._actor, target_id, expected_version, data)
                s.flush()
                return target.version
        except StaleDataError as exc:
            raise ConflictError("målet", expected_version, -1) from exc

    def progress(self, target_id: uuid.UUID) -> TargetProgress:
        with self._db.begin() as s:
            return target_progress(s, target_id)

    def targets(self, unit_id: uuid.UUID) -> list[TargetProgress]:
        with self._db.begin() as s:
            return targets_for_unit(s, unit_id)
