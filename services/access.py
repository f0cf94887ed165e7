"""The access matrix: who may open, change and manage which case (issue 6, items 1 and 3).

One predicate decides, in two forms that must never disagree:

* :func:`case_scope_condition` — an SQL condition on ``fs_case`` that the
  register, the search and ``case list`` add, so a list shows exactly the
  cases its user may open;
* :func:`require_case_access` — the same test for one case, called at the top
  of every service entry point that reads or writes a case; it raises
  :class:`PermissionDeniedError` with a Swedish message.

The matrix (docs/access.md has it as a table):

* **handläggare** — cases of their own unit that are assigned to them, that
  belong to a colleague they stand in for (:class:`models.StandIn`, granted by
  the arbetsledare for a period) or that are shared with them for a period
  (:class:`models.CaseShare`);
* **arbetsledare** — every case of their unit; they assign, grant stand-ins
  and shares and keep the named-staff lists (``MANAGE``);
* **administratör** (a Fokus account with ``Role.ADMIN``) — users, units,
  reference data and settings; no case content;
* a case with **skyddade personuppgifter** (any household member, current or
  past, with a ``Person.protection``) is open only to the staff named on it
  (:class:`models.CaseNamedStaff`), whatever their role (which cases those are is
  stored in ``case_protected``, kept by triggers: models/protected.py);
* **nödåtkomst** — a caseworker or arbetsledare may open a case outside their
  scope by giving a reason (:func:`request_emergency_access`); the grant
  lasts until the end of the day (or a configured number of hours), is
  audited as ``emergency_access`` and listed for the arbetsledare
  (:func:`emergency_log`). It also opens protected cases — a person in
  danger may need help from whoever is at the desk — but such an opening is
  flagged in the log and in the list.

Role, unit and whether the account is active are read from ``app_user`` in
the same query, not trusted from the :class:`Actor`, so a role change or a
deactivation takes effect at the next action.

An :class:`Actor` without a user account (``user_id`` None: the command line
``Actor.cli()``, first run, demo seeding, imports) is the operator of the
database URL itself and is not limited here. On PostgreSQL such code
connects as the owner; a user connects with their own role and the
row-level security policies of migration 0004 apply the same matrix in the
database (services/pg_roles.py). SQLite has no row-level security: there
these checks are the boundary.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    CompoundSelect,
    ScalarSelect,
    Select,
    and_,
    exists,
    false,
    or_,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from models import (
    Case,
    CaseNamedStaff,
    CaseProtected,
    CaseShare,
    EmergencyAccess,
    HouseholdMember,
    StandIn,
    Unit,
    User,
    utcnow,
)
from models.codes import Role
from services.audit import LOCAL_TZ, Actor, record
from services.db import Database
from services.errors import NotFoundError, PermissionDeniedError, ValidationError

log = logging.getLogger(__name__)

# --- audit actions -----------------------------------------------------------------------------

ACCESS_DENIED = "access_denied"
EMERGENCY_ACCESS = "emergency_access"
EMERGENCY_LOG_REVIEWED = "emergency_log_reviewed"
STAND_IN_GRANTED = "stand_in_granted"
STAND_IN_REVOKED = "stand_in_revoked"
CASE_SHARED = "case_shared"
CASE_SHARE_REVOKED = "case_share_revoked"
STAFF_NAMED = "staff_named"
STAFF_UNNAMED = "staff_unnamed"

# Their Swedish labels for the audit export are in services.audit.ACTION_LABELS.

REASON_MIN = 10
REASON_MAX = 500
GRANT_MAX_DAYS = 366  # a stand-in or share longer than a year is a new assignment


class Purpose(StrEnum):
    """What the caller is about to do with a case."""

    READ = "read"  # open, list details, print, export
    WRITE = "write"  # change the case, its household, notes, months, plans
    MANAGE = "manage"  # assign, share, named staff: the unit's arbetsledare only


class OutsideScopeError(PermissionDeniedError):
    """The case is outside the user's scope; nödåtkomst with a reason may open it.

    The UI catches this to offer the nödåtkomst dialog (``emergency_possible``).
    """

    def __init__(
        self, message: str, *, case_id: uuid.UUID, case_number: str, protected: bool
    ) -> None:
        super().__init__(message)
        self.case_id = case_id
        self.case_number = case_number
        self.protected = protected
        self.emergency_possible = True


# --- the predicate -------------------------------------------------------------------------------


def is_unrestricted(actor: Actor) -> bool:
    """True for an actor without a Fokus account (command line, first run, seeding)."""
    return actor.user_id is None


def protected_case_condition() -> ColumnElement[bool]:
    """SQL: the outer query's ``fs_case`` row has a member with skyddade personuppgifter.

    Reads ``case_protected`` (models/protected.py), which triggers keep equal to
    the raw definition (:func:`models.protected.raw_protected_case_ids`) in the
    same statement as every change.
    """
    return exists(select(CaseProtected.case_id).where(CaseProtected.case_id == Case.id))


def _unit_of(user_id: uuid.UUID, role: Role) -> ScalarSelect[Any]:
    """The unit of ``user_id`` when the account is active and has ``role``; else NULL."""
    return (
        select(User.unit_id)
        .where(User.id == user_id, User.active.is_(True), User.role == role.value)
        .scalar_subquery()
    )


def _caseworker_candidates(user_id: uuid.UUID, today: date) -> CompoundSelect[Any]:
    """Ids of the cases a caseworker reaches by assignment, stand-in or share (any unit)."""
    stands_in_for = select(StandIn.absent_user_id).where(
        StandIn.substitute_user_id == user_id,
        StandIn.revoked_at.is_(None),
        StandIn.valid_from <= today,
        StandIn.valid_to >= today,
    )
    shared = select(CaseShare.case_id).where(
        CaseShare.user_id == user_id,
        CaseShare.revoked_at.is_(None),
        CaseShare.valid_from <= today,
        CaseShare.valid_to >= today,
    )
    return union_all(
        select(Case.id).where(Case.caseworker_id == user_id),
        select(Case.id).where(Case.caseworker_id.in_(stands_in_for)),
        shared,
    )


def _protected_case_ids() -> Select[Any]:
    """The protected cases, from ``case_protected``: a primary-key probe per case instead of
    every protected person's memberships for every statement (about 6 ms of a 12 ms
    register window at 100,000 cases, SQLite)."""
    return select(CaseProtected.case_id)


def _named_condition(user_id: uuid.UUID) -> ColumnElement[bool]:
    return Case.id.in_(select(CaseNamedStaff.case_id).where(CaseNamedStaff.user_id == user_id))


def _emergency_condition(
    user_id: uuid.UUID, now: datetime | BindParameter[datetime]
) -> ColumnElement[bool]:
    active = select(User.id).where(User.id == user_id, User.active.is_(True))
    return Case.id.in_(
        select(EmergencyAccess.case_id).where(
            EmergencyAccess.user_id.in_(active),
            EmergencyAccess.expires_at > now,
            EmergencyAccess.granted_at <= now,
        )
    )


def case_scope_condition(
    actor: Actor,
    today: date | None,
    *,
    now: datetime | None = None,
    now_param: BindParameter[datetime] | None = None,
) -> ColumnElement[bool]:
    """SQL condition on ``Case`` (``fs_case``): the cases ``actor`` may open on ``today``.

    Add it to any query over cases that a user sees. ``today`` None: the
    Swedish date of ``now`` (default: the clock). Unrestricted actors get
    ``true()``; an administrator account matches no case (the role tests fail).
    ``now_param``: compare nödåtkomst grants with this bound parameter instead
    of ``now``, so that a statement built once can be run again at a later
    moment (the register's windows); its value is then given at each execution,
    and the statement is built again when ``today`` changes.
    """
    if is_unrestricted(actor):
        return true()
    assert actor.user_id is not None
    uid = actor.user_id
    now = now or utcnow()
    today = today or _local_today(now)
    protection_ok = or_(Case.id.not_in(_protected_case_ids()), _named_condition(uid))
    emergency = _emergency_condition(uid, now if now_param is None else now_param)
    if actor.role == Role.CASEWORKER:
        # Shaped so the database starts from the caseworker's few cases (index on
        # caseworker_id) instead of walking the whole register; the role, unit and
        # active flag are still checked against app_user.
        own_unit = Case.unit_id == _unit_of(uid, Role.CASEWORKER)
        return or_(
            and_(Case.id.in_(_caseworker_candidates(uid, today)), own_unit, protection_ok),
            emergency,
        )
    if actor.role == Role.TEAM_LEADER:
        return or_(and_(Case.unit_id == _unit_of(uid, Role.TEAM_LEADER), protection_ok), emergency)
    # An administrator has no case role. (A role changed since login fails closed
    # above: the subquery for the old role finds no active account with it.)
    return false()


def sees_no_cases(actor: Actor | None) -> bool:
    """An administrator account: :func:`case_scope_condition` is ``false()`` for it, so a
    case query can be skipped. On PostgreSQL it must be: the administrator's own role has
    no grant on the case tables at all, and would be refused even a query matching nothing.
    """
    return actor is not None and not is_unrestricted(actor) and actor.role == Role.ADMIN


@dataclass(frozen=True)
class CaseBrief:
    """What may be known of a case outside one's scope: its number and whether it is protected."""

    id: uuid.UUID
    case_number: str
    unit_id: uuid.UUID
    protected: bool


def case_brief(
    session: Session, case_id: uuid.UUID | None = None, *, case_number: str | None = None
) -> CaseBrief | None:
    """The case's number, unit and protection, by id or number; None when there is none.

    On PostgreSQL a user's own role cannot see rows outside their scope, so
    the brief then comes from ``fokus_case_brief`` (a SECURITY DEFINER
    function that gives exactly these four facts to an active caseworker or
    arbetsledare): enough to refuse with the case number, or to ask for
    nödåtkomst.
    """
    where = Case.id == case_id if case_id is not None else Case.case_number == case_number
    row = session.execute(
        select(
            Case.id, Case.case_number, Case.unit_id, protected_case_condition().label("p")
        ).where(where)
    ).first()
    if row is None and session.get_bind().dialect.name == "postgresql":
        row = session.execute(
            text("SELECT id, case_number, unit_id, protected FROM fokus_case_brief(:id, :num)"),
            {"id": case_id, "num": case_number},
        ).first()
    if row is None:
        return None
    return CaseBrief(row[0], str(row[1]), row[2], bool(row[3]))


def _local_today(now: datetime) -> date:
    return now.astimezone(LOCAL_TZ).date()


def _account(session: Session, actor: Actor) -> User:
    """The actor's own user row, active; a missing or inactive account is refused."""
    assert actor.user_id is not None
    user = session.get(User, actor.user_id)
    if user is None or not user.active:
        raise PermissionDeniedError("ditt konto är inte aktivt; logga in igen")
    return user


def _refuse_admin(user: User) -> None:
    if user.role == Role.ADMIN.value:
        raise PermissionDeniedError(
            "en administratör har ingen åtkomst till ärenden, bara till användare, "
            "enheter, referensdata och inställningar"
        )


def require_case_access(
    session: Session,
    actor: Actor,
    case_id: uuid.UUID,
    purpose: Purpose = Purpose.READ,
    *,
    today: date | None = None,
    now: datetime | None = None,
) -> None:
    """Raise unless ``actor`` may do ``purpose`` with the case (see the module docstring).

    A case that does not exist raises :class:`NotFoundError` for a user (so the
    caller's own "finns inte" and this one agree); for an unrestricted actor
    nothing is checked and the caller reports it as before. Outside the
    scope: :class:`OutsideScopeError` (nödåtkomst possible).
    """
    if is_unrestricted(actor):
        return
    now = now or utcnow()
    today = today or _local_today(now)
    user = _account(session, actor)
    _refuse_admin(user)
    case = case_brief(session, case_id)
    if case is None:
        raise NotFoundError("ärendet finns inte")
    if purpose is Purpose.MANAGE:
        if user.role != Role.TEAM_LEADER.value or user.unit_id != case.unit_id:
            raise PermissionDeniedError(
                f"bara arbetsledaren för ärendets enhet får fördela och dela ärendet "
                f"{case.case_number}"
            )
        return
    allowed = session.scalar(
        select(Case.id).where(Case.id == case_id, case_scope_condition(actor, today, now=now))
    )
    if allowed is not None:
        return
    protected = case.protected
    if protected:
        message = (
            f"ärendet {case.case_number} har skyddade personuppgifter och är öppet bara för "
            "personal som arbetsledaren har namngett på ärendet"
        )
    else:
        message = f"du har inte behörighet till ärendet {case.case_number}"
    _record_refusal(session, actor, case.id, purpose, protected)
    raise OutsideScopeError(
        message + "; vid behov kan du begära nödåtkomst och ange skälet",
        case_id=case.id,
        case_number=case.case_number,
        protected=protected,
    )


def _record_refusal(
    session: Session, actor: Actor, case_id: uuid.UUID, purpose: Purpose, protected: bool
) -> None:
    """Audit a refused attempt (``access_denied``) in a transaction of its own.

    The caller's transaction rolls back with the refusal, and its events with
    it; the access review still wants to see attempts on cases outside one's
    scope. On SQLite, when the caller's transaction already holds the write
    lock, a second writer would wait for it: the attempt is then only logged
    to the application log.
    """
    bind = session.get_bind()
    engine = bind.engine if isinstance(bind, Connection) else bind
    if engine.dialect.name == "sqlite":
        driver = session.connection().connection.driver_connection
        if getattr(driver, "in_transaction", False):
            log.info("access_denied for case %s not audited: write lock held", case_id)
            return
    try:
        with Session(engine) as other, other.begin():
            record(
                other,
                actor,
                ACCESS_DENIED,
                case_id=case_id,
                purpose=purpose.value,
                protected=protected,
            )
    except SQLAlchemyError:
        log.warning("access_denied for case %s could not be audited", case_id, exc_info=True)


def require_person_access(
    session: Session, actor: Actor, person_id: uuid.UUID, purpose: Purpose = Purpose.WRITE
) -> None:
    """A person is reached through a case: some case in scope must hold them."""
    if is_unrestricted(actor):
        return
    case_ids = session.scalars(
        select(HouseholdMember.case_id).where(HouseholdMember.person_id == person_id)
    ).all()
    if not case_ids:
        _refuse_admin(_account(session, actor))
        return  # a person in no household yet is reachable only while being added
    last: PermissionDeniedError | None = None
    for case_id in dict.fromkeys(case_ids):
        try:
            require_case_access(session, actor, case_id, purpose)
            return
        except PermissionDeniedError as exc:
            last = exc
    assert last is not None
    raise last


def require_unit_leader(session: Session, actor: Actor, unit_id: uuid.UUID) -> User | None:
    """Raise unless ``actor`` is the (active) arbetsledare of ``unit_id``; returns their row."""
    if is_unrestricted(actor):
        return None
    user = _account(session, actor)
    if user.role != Role.TEAM_LEADER.value or user.unit_id != unit_id:
        raise PermissionDeniedError("bara enhetens arbetsledare får göra det")
    return user


def require_admin(session: Session, actor: Actor) -> None:
    """Users, units, reference data and settings: an administratör (or the command line)."""
    if is_unrestricted(actor):
        return
    if _account(session, actor).role != Role.ADMIN.value:
        raise PermissionDeniedError("bara en administratör får hantera användare och enheter")


def require_case_creation(
    session: Session, actor: Actor, unit_id: uuid.UUID, caseworker_id: uuid.UUID | None
) -> None:
    """A new case: in the actor's own unit; a caseworker puts it on themself."""
    if is_unrestricted(actor):
        return
    user = _account(session, actor)
    _refuse_admin(user)
    if user.unit_id != unit_id:
        raise PermissionDeniedError("du kan bara lägga upp ärenden i din egen enhet")
    if user.role == Role.CASEWORKER.value and caseworker_id != user.id:
        raise PermissionDeniedError(
            "en handläggare lägger upp ärenden på sig själv; arbetsledaren fördelar dem"
        )


def name_on_protected_case(
    session: Session,
    actor: Actor,
    case_id: uuid.UUID,
    *user_ids: uuid.UUID | None,
    force: bool = False,
) -> None:
    """Name the given users (and the acting user) on a case that has protected members.

    Called when a case gets a member with skyddade personuppgifter, so the
    people already working it (the creator, the assigned caseworker) keep it.
    ``force``: name them without checking (a new case about to get such a member).
    """
    session.flush()
    protected = session.scalar(
        select(Case.id).where(Case.id == case_id, protected_case_condition())
    )
    if protected is None and not force:
        return
    wanted = {u for u in (*user_ids, actor.user_id) if u is not None}
    for uid in wanted:
        if session.get(CaseNamedStaff, (case_id, uid)) is None:
            session.add(CaseNamedStaff(case_id=case_id, user_id=uid, added_by=actor.username))
            record(session, actor, STAFF_NAMED, case_id=case_id, user_id=uid, automatic=True)
    session.flush()


# --- what a user can see about their access to one case -----------------------------------------


@dataclass(frozen=True)
class CaseAccess:
    """How ``actor`` reaches one case: for the case window's header and the nödåtkomst dialog."""

    allowed: bool
    via: str  # "obegränsad", "tilldelad", "ersättare", "delad", "arbetsledare", "nödåtkomst", ""
    protected: bool
    emergency_until: datetime | None = None


def case_access(
    session: Session, actor: Actor, case_id: uuid.UUID, *, now: datetime | None = None
) -> CaseAccess:
    """Whether and how ``actor`` may open the case (no audit; reveals nothing of its content)."""
    now = now or utcnow()
    today = _local_today(now)
    case = session.get(Case, case_id)
    if case is None:
        raise NotFoundError("ärendet finns inte")
    protected = (
        session.scalar(select(Case.id).where(Case.id == case_id, protected_case_condition()))
        is not None
    )
    if is_unrestricted(actor):
        return CaseAccess(True, "obegränsad", protected)
    uid = actor.user_id
    assert uid is not None
    user = _account(session, actor)
    emergency = session.scalar(
        select(EmergencyAccess.expires_at)
        .where(
            EmergencyAccess.case_id == case_id,
            EmergencyAccess.user_id == uid,
            EmergencyAccess.expires_at > now,
        )
        .order_by(EmergencyAccess.expires_at.desc())
    )
    named = session.get(CaseNamedStaff, (case_id, uid)) is not None
    via = ""
    if user.role != Role.ADMIN.value and user.unit_id == case.unit_id and (named or not protected):
        if user.role == Role.TEAM_LEADER.value:
            via = "arbetsledare"
        elif case.caseworker_id == uid:
            via = "tilldelad"
        elif (
            case.caseworker_id is not None
            and session.scalar(
                select(StandIn.id).where(
                    StandIn.substitute_user_id == uid,
                    StandIn.absent_user_id == case.caseworker_id,
                    StandIn.revoked_at.is_(None),
                    StandIn.valid_from <= today,
                    StandIn.valid_to >= today,
                )
            )
            is not None
        ):
            via = "ersättare"
        elif (
            session.scalar(
                select(CaseShare.id).where(
                    CaseShare.case_id == case_id,
                    CaseShare.user_id == uid,
                    CaseShare.revoked_at.is_(None),
                    CaseShare.valid_from <= today,
                    CaseShare.valid_to >= today,
                )
            )
            is not None
        ):
            via = "delad"
    if not via and emergency is not None:
        via = "nödåtkomst"
    return CaseAccess(bool(via), via, protected, emergency)


# --- nödåtkomst ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class EmergencyGrant:
    """A granted nödåtkomst: which case, until when, and whether it was protected."""

    id: uuid.UUID
    case_id: uuid.UUID
    case_number: str
    expires_at: datetime
    protected: bool


def emergency_expiry(now: datetime, hours: int | None = None) -> datetime:
    """End of the Swedish day of ``now`` (midnight), or ``now + hours`` when configured."""
    if hours:
        return now + timedelta(hours=hours)
    local = now.astimezone(LOCAL_TZ)
    return datetime.combine(local.date() + timedelta(days=1), time.min, LOCAL_TZ).astimezone(UTC)


def clean_reason(reason: str | None) -> str:
    """The reason, stripped; a Swedish :class:`ValidationError` naming ``skäl`` otherwise."""
    text = " ".join((reason or "").split())
    if len(text) < REASON_MIN:
        raise ValidationError.single(
            "skäl",
            f"ange varför du behöver öppna ärendet (minst {REASON_MIN} tecken)",
        )
    if len(text) > REASON_MAX:
        raise ValidationError.single("skäl", f"får vara högst {REASON_MAX} tecken")
    return text


def request_emergency_access(
    session: Session,
    actor: Actor,
    case_id: uuid.UUID,
    reason: str,
    *,
    now: datetime | None = None,
    hours: int | None = None,
) -> EmergencyGrant:
    """Open a case outside one's scope for a limited time, with a stated reason (nödåtkomst).

    For handläggare and arbetsledare (not administrators; the command line
    needs none). The grant is written to ``emergency_access`` (with the
    reason, for the arbetsledare) and audited as ``emergency_access`` (the
    reason is not in the audit detail: it is free text and may name
    someone). Protected cases are allowed and flagged. A user who already
    has access gets a validation error instead of a needless grant.
    """
    reason_text = clean_reason(reason)
    now = now or utcnow()
    if is_unrestricted(actor):
        raise ValidationError.single("nödåtkomst", "kommandoraden behöver ingen nödåtkomst")
    user = _account(session, actor)
    _refuse_admin(user)
    case = case_brief(session, case_id)
    if case is None:
        raise NotFoundError("ärendet finns inte")
    already = session.scalar(
        select(Case.id).where(
            Case.id == case_id, case_scope_condition(actor, _local_today(now), now=now)
        )
    )
    if already is not None:
        raise ValidationError.single(
            "nödåtkomst", f"du har redan åtkomst till ärendet {case.case_number}"
        )
    protected = case.protected
    grant = EmergencyAccess(
        id=uuid.uuid4(),
        case_id=case_id,
        user_id=user.id,
        reason=reason_text,
        granted_at=now,
        expires_at=emergency_expiry(now, hours),
        protected=protected,
    )
    session.add(grant)
    session.flush()
    record(
        session,
        actor,
        EMERGENCY_ACCESS,
        case_id=case_id,
        grant_id=grant.id,
        protected=protected,
        other_unit=case.unit_id != user.unit_id,
        expires_at=grant.expires_at.isoformat(),
    )
    return EmergencyGrant(grant.id, case_id, case.case_number, grant.expires_at, protected)


@dataclass(frozen=True)
class EmergencyRow:
    """One nödåtkomst as the arbetsledare reviews it."""

    id: uuid.UUID
    granted_at: datetime
    expires_at: datetime
    username: str
    full_name: str
    user_unit: str
    case_id: uuid.UUID
    case_number: str
    case_unit: str
    reason: str
    protected: bool


def _period_utc(start: date, end: date) -> tuple[datetime, datetime]:
    if end < start:
        raise ValidationError.single("period", "slutdatum före startdatum")
    lo = datetime.combine(start, time.min, LOCAL_TZ).astimezone(UTC)
    hi = datetime.combine(end + timedelta(days=1), time.min, LOCAL_TZ).astimezone(UTC)
    return lo, hi


def emergency_log(session: Session, actor: Actor, start: date, end: date) -> list[EmergencyRow]:
    """Every nödåtkomst granted from ``start`` to ``end`` (Swedish days), newest first.

    An arbetsledare sees those on their unit's cases and those made by their
    unit's staff; the command line sees all. The review is itself audited.
    """
    lo, hi = _period_utc(start, end)
    leader_unit: uuid.UUID | None = None
    if not is_unrestricted(actor):
        user = _account(session, actor)
        if user.role != Role.TEAM_LEADER.value:
            raise PermissionDeniedError("bara en arbetsledare får granska nödåtkomster")
        leader_unit = user.unit_id
    case_unit = select(Unit.name).where(Unit.id == Case.unit_id).scalar_subquery()
    user_unit = select(Unit.name).where(Unit.id == User.unit_id).scalar_subquery()
    query = (
        select(
            EmergencyAccess, User.username, User.full_name, user_unit, Case.case_number, case_unit
        )
        .join(User, User.id == EmergencyAccess.user_id)
        .join(Case, Case.id == EmergencyAccess.case_id)
        .where(EmergencyAccess.granted_at >= lo, EmergencyAccess.granted_at < hi)
        .order_by(EmergencyAccess.granted_at.desc())
    )
    if leader_unit is not None:
        query = query.where(or_(Case.unit_id == leader_unit, User.unit_id == leader_unit))
    rows = [
        EmergencyRow(
            id=g.id,
            granted_at=g.granted_at,
            expires_at=g.expires_at,
            username=username,
            full_name=full_name,
            user_unit=u_unit or "",
            case_id=g.case_id,
            case_number=number,
            case_unit=c_unit or "",
            reason=g.reason,
            protected=g.protected,
        )
        for g, username, full_name, u_unit, number, c_unit in session.execute(query)
    ]
    record(
        session,
        actor,
        EMERGENCY_LOG_REVIEWED,
        period_from=start.isoformat(),
        period_to=end.isoformat(),
        rows=len(rows),
    )
    return rows


# --- grants by the arbetsledare -----------------------------------------------------------------


def _check_period(valid_from: date, valid_to: date) -> None:
    if valid_to < valid_from:
        raise ValidationError.single("till", "kan inte ligga före från-datumet")
    if (valid_to - valid_from).days > GRANT_MAX_DAYS:
        raise ValidationError.single("till", f"perioden får vara högst {GRANT_MAX_DAYS} dagar")


def _unit_user(session: Session, user_id: uuid.UUID, unit_id: uuid.UUID, what: str) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError(f"{what} finns inte")
    if not user.active:
        raise ValidationError.single(what, "användaren är inaktiverad")
    if user.unit_id != unit_id:
        raise ValidationError.single(what, "hör till en annan enhet")
    if user.role == Role.ADMIN.value:
        raise ValidationError.single(what, "en administratör arbetar inte med ärenden")
    return user


def grant_stand_in(
    session: Session,
    actor: Actor,
    absent_user_id: uuid.UUID,
    substitute_user_id: uuid.UUID,
    valid_from: date,
    valid_to: date,
) -> StandIn:
    """Let ``substitute_user_id`` work ``absent_user_id``'s cases for a period (ersättare)."""
    _check_period(valid_from, valid_to)
    if absent_user_id == substitute_user_id:
        raise ValidationError.single("ersättare", "kan inte vara samma person som den frånvarande")
    absent = session.get(User, absent_user_id)
    if absent is None:
        raise NotFoundError("handläggaren finns inte")
    require_unit_leader(session, actor, absent.unit_id)
    _unit_user(session, substitute_user_id, absent.unit_id, "ersättare")
    row = StandIn(
        id=uuid.uuid4(),
        absent_user_id=absent_user_id,
        substitute_user_id=substitute_user_id,
        valid_from=valid_from,
        valid_to=valid_to,
        granted_by=actor.username,
    )
    session.add(row)
    session.flush()
    record(
        session,
        actor,
        STAND_IN_GRANTED,
        stand_in_id=row.id,
        absent_user_id=absent_user_id,
        substitute_user_id=substitute_user_id,
        valid_from=valid_from.isoformat(),
        valid_to=valid_to.isoformat(),
    )
    return row


def revoke_stand_in(session: Session, actor: Actor, stand_in_id: uuid.UUID) -> None:
    row = session.get(StandIn, stand_in_id)
    if row is None:
        raise NotFoundError("ersättaruppdraget finns inte")
    absent = session.get(User, row.absent_user_id)
    assert absent is not None
    require_unit_leader(session, actor, absent.unit_id)
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        record(session, actor, STAND_IN_REVOKED, stand_in_id=row.id)


def share_case(
    session: Session,
    actor: Actor,
    case_id: uuid.UUID,
    user_id: uuid.UUID,
    valid_from: date,
    valid_to: date,
) -> CaseShare:
    """Share one case with one user of the unit for a period."""
    _check_period(valid_from, valid_to)
    require_case_access(session, actor, case_id, Purpose.MANAGE)
    case = session.get(Case, case_id)
    if case is None:
        raise NotFoundError("ärendet finns inte")
    _unit_user(session, user_id, case.unit_id, "användare")
    row = CaseShare(
        id=uuid.uuid4(),
        case_id=case_id,
        user_id=user_id,
        valid_from=valid_from,
        valid_to=valid_to,
        granted_by=actor.username,
    )
    session.add(row)
    session.flush()
    record(
        session,
        actor,
        CASE_SHARED,
        case_id=case_id,
        share_id=row.id,
        user_id=user_id,
        valid_from=valid_from.isoformat(),
        valid_to=valid_to.isoformat(),
    )
    return row


def revoke_share(session: Session, actor: Actor, share_id: uuid.UUID) -> None:
    row = session.get(CaseShare, share_id)
    if row is None:
        raise NotFoundError("delningen finns inte")
    require_case_access(session, actor, row.case_id, Purpose.MANAGE)
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        record(session, actor, CASE_SHARE_REVOKED, case_id=row.case_id, share_id=row.id)


def name_staff(session: Session, actor: Actor, case_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """Put a user of the unit on the case's named-staff list (for skyddade personuppgifter)."""
    require_case_access(session, actor, case_id, Purpose.MANAGE)
    case = session.get(Case, case_id)
    assert case is not None
    _unit_user(session, user_id, case.unit_id, "användare")
    if session.get(CaseNamedStaff, (case_id, user_id)) is None:
        session.add(CaseNamedStaff(case_id=case_id, user_id=user_id, added_by=actor.username))
        record(session, actor, STAFF_NAMED, case_id=case_id, user_id=user_id)


def unname_staff(session: Session, actor: Actor, case_id: uuid.UUID, user_id: uuid.UUID) -> None:
    require_case_access(session, actor, case_id, Purpose.MANAGE)
    row = session.get(CaseNamedStaff, (case_id, user_id))
    if row is not None:
        session.delete(row)
        record(session, actor, STAFF_UNNAMED, case_id=case_id, user_id=user_id)


@dataclass(frozen=True)
class GrantRow:
    """A stand-in or a share as the arbetsledare's list shows it."""

    id: uuid.UUID
    kind: str  # "ersättare" or "delning"
    user: str  # who gets access (username)
    for_user: str  # the absent caseworker (stand-in) or "" (share)
    case_number: str  # "" for a stand-in
    valid_from: date
    valid_to: date
    revoked: bool


def unit_grants(
    session: Session, actor: Actor, unit_id: uuid.UUID, *, on: date | None = None
) -> list[GrantRow]:
    """Stand-ins and shares of a unit (current on ``on``, or all), for the arbetsledare."""
    require_unit_leader(session, actor, unit_id)
    absent = User.__table__.alias("absent")
    sub = User.__table__.alias("sub")
    q1 = (
        select(StandIn, sub.c.username, absent.c.username)
        .join(absent, absent.c.id == StandIn.absent_user_id)
        .join(sub, sub.c.id == StandIn.substitute_user_id)
        .where(absent.c.unit_id == unit_id)
    )
    q2 = (
        select(CaseShare, User.username, Case.case_number)
        .join(User, User.id == CaseShare.user_id)
        .join(Case, Case.id == CaseShare.case_id)
        .where(Case.unit_id == unit_id)
    )
    if on is not None:
        q1 = q1.where(
            StandIn.revoked_at.is_(None), StandIn.valid_from <= on, StandIn.valid_to >= on
        )
        q2 = q2.where(
            CaseShare.revoked_at.is_(None), CaseShare.valid_from <= on, CaseShare.valid_to >= on
        )
    rows = [
        GrantRow(
            s.id, "ersättare", who, whom, "", s.valid_from, s.valid_to, s.revoked_at is not None
        )
        for s, who, whom in session.execute(q1)
    ]
    rows += [
        GrantRow(
            c.id, "delning", who, "", number, c.valid_from, c.valid_to, c.revoked_at is not None
        )
        for c, who, number in session.execute(q2)
    ]
    return sorted(rows, key=lambda r: (r.valid_from, r.kind, r.user))


def named_staff(session: Session, actor: Actor, case_id: uuid.UUID) -> list[str]:
    """Usernames named on the case (arbetsledare of the unit, or anyone who may open it)."""
    try:
        require_case_access(session, actor, case_id, Purpose.MANAGE)
    except PermissionDeniedError:
        require_case_access(session, actor, case_id, Purpose.READ)
    return list(
        session.scalars(
            select(User.username)
            .join(CaseNamedStaff, CaseNamedStaff.user_id == User.id)
            .where(CaseNamedStaff.case_id == case_id)
            .order_by(User.username)
        )
    )


# --- one transaction per user action, for the desktop app --------------------------------------


class AccessService:
    """The access operations for the UI: one transaction each, the actor bound at construction."""

    def __init__(
        self,
        *,
        db: Database,
        actor: Actor,
        emergency_hours: int | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """``emergency_hours``: how long a nödåtkomst lasts (``Settings.emergency_access_hours``;
        None or 0: until the end of the Swedish day)."""
        self._db = db
        self._actor = actor
        self._hours = emergency_hours
        self._clock = clock

    def find_case(self, case_number: str) -> CaseBrief:
        """A case by its number, also outside one's scope (for the nödåtkomst dialog)."""
        with self._db.begin() as s:
            if not is_unrestricted(self._actor):
                _refuse_admin(_account(s, self._actor))
            brief = case_brief(s, case_number=case_number.strip())
            if brief is None:
                raise NotFoundError(f"ärendet {case_number.strip()} finns inte")
            return brief

    def case_access(self, case_id: uuid.UUID) -> CaseAccess:
        with self._db.begin() as s:
            return case_access(s, self._actor, case_id, now=self._clock())

    def request_emergency_access(self, case_id: uuid.UUID, reason: str) -> EmergencyGrant:
        with self._db.action("nödåtkomsten") as s:
            return request_emergency_access(
                s, self._actor, case_id, reason, now=self._clock(), hours=self._hours
            )

    def emergency_log(self, start: date, end: date) -> list[EmergencyRow]:
        with self._db.begin() as s:
            return emergency_log(s, self._actor, start, end)

    def grant_stand_in(
        self, absent_user_id: uuid.UUID, substitute_user_id: uuid.UUID, start: date, end: date
    ) -> uuid.UUID:
        with self._db.action("ersättaruppdraget") as s:
            return grant_stand_in(s, self._actor, absent_user_id, substitute_user_id, start, end).id

    def revoke_stand_in(self, stand_in_id: uuid.UUID) -> None:
        with self._db.action("ersättaruppdraget") as s:
            revoke_stand_in(s, self._actor, stand_in_id)

    def share_case(
        self, case_id: uuid.UUID, user_id: uuid.UUID, start: date, end: date
    ) -> uuid.UUID:
        with self._db.action("delningen") as s:
            return share_case(s, self._actor, case_id, user_id, start, end).id

    def revoke_share(self, share_id: uuid.UUID) -> None:
        with self._db.action("delningen") as s:
            revoke_share(s, self._actor, share_id)

    def name_staff(self, case_id: uuid.UUID, user_id: uuid.UUID) -> None:
        with self._db.action("ärendet") as s:
            name_staff(s, self._actor, case_id, user_id)

    def unname_staff(self, case_id: uuid.UUID, user_id: uuid.UUID) -> None:
        with self._db.action("ärendet") as s:
            unname_staff(s, self._actor, case_id, user_id)

    def named_staff(self, case_id: uuid.UUID) -> list[str]:
        with self._db.begin() as s:
            return named_staff(s, self._actor, case_id)

    def unit_grants(self, unit_id: uuid.UUID, *, on: date | None = None) -> list[GrantRow]:
        with self._db.begin() as s:
            return unit_grants(s, self._actor, unit_id, on=on)
