"""Caseloads per caseworker, and moving cases with a warning past the cap.

Why: a focus caseworker's point is a small caseload (about 30 clients
instead of 70–75), so the arbetsledare must see each caseworker's load next
to their cap when moving cases, and must be told — not stopped — when a move
goes past it: sometimes a case has to go to that person anyway. The warning
therefore comes back as a result the UI confirms (``confirm=True`` on the
second call), never as an exception that would be mistaken for an error.

Only an arbetsledare (or the command-line administrator) moves cases. The
move itself is :func:`services.cases.assign_in`, so version checks and the
audit event stay exactly as for any assignment; this module adds the rules
and one more audit detail (``over_cap``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from models import Case, User
from models.codes import CaseStatus, Role
from services.audit import Actor, record
from services.cases import CaseRef, assign_in, load_checked
from services.db import Database
from services.errors import ConflictError, NotFoundError, PermissionDeniedError

# Every status but avslutad, spelled out so that the (status, caseworker_id) index serves it.
OPEN_STATUSES = tuple(s.value for s in CaseStatus if s is not CaseStatus.CLOSED)
LEADER_ROLES = frozenset({Role.TEAM_LEADER, Role.ADMIN})


def require_team_leader(actor: Actor, what: str) -> None:
    """Refuse anyone but an arbetsledare (or the CLI administrator)."""
    if actor.role not in LEADER_ROLES:
        raise PermissionDeniedError(f"bara arbetsledare får {what}")


@dataclass(frozen=True)
class CaseloadRow:
    """One caseworker's load: open cases, of which focus cases, against the cap."""

    user_id: uuid.UUID
    username: str
    full_name: str
    is_focus: bool
    cap: int
    open_cases: int
    focus_cases: int

    @property
    def over_cap(self) -> bool:
        return self.open_cases > self.cap


def caseload(session: Session, unit_id: uuid.UUID) -> list[CaseloadRow]:
    """Every active caseworker of the unit (and anyone there holding open cases).

    Counted in SQL: open cases are every status but avslutad; the cap is the
    user's ``caseload_cap`` (30 for focus caseworkers, 75 otherwise, by
    default). Focus caseworkers first, then by username.
    """
    # One ordered pass over the covering index (status, caseworker_id, is_focus): grouped
    # by (status, caseworker_id) first, so no plan needs a sort or a case row.
    per_status = (
        select(
            Case.caseworker_id.label("user_id"),
            func.count().label("n"),
            func.sum(case((Case.is_focus, 1), else_=0)).label("focus"),
        )
        .where(Case.status.in_(OPEN_STATUSES))
        .group_by(Case.status, Case.caseworker_id)
        .subquery("per_status")
    )
    per_user = (
        select(
            per_status.c.user_id,
            func.sum(per_status.c.n).label("open_cases"),
            func.sum(per_status.c.focus).label("focus_cases"),
        )
        .group_by(per_status.c.user_id)
        .subquery("per_user")
    )
    open_n = func.coalesce(per_user.c.open_cases, 0)
    focus_n = func.coalesce(per_user.c.focus_cases, 0)
    rows = session.execute(
        select(
            User.id,
            User.username,
            User.full_name,
            User.is_focus,
            User.caseload_cap,
            open_n,
            focus_n,
        )
        .outerjoin(per_user, per_user.c.user_id == User.id)
        .where(
            User.unit_id == unit_id,
            or_(open_n > 0, and_(User.active, User.role == Role.CASEWORKER.value)),
        )
        .order_by(User.is_focus.desc(), User.username)
    ).all()
    return [
        CaseloadRow(
            user_id=r[0],
            username=r[1],
            full_name=r[2],
            is_focus=bool(r[3]),
            cap=int(r[4]),
            open_cases=int(r[5]),
            focus_cases=int(r[6]),
        )
        for r in rows
    ]


def open_case_count(session: Session, user_id: uuid.UUID) -> int:
    return int(
        session.scalar(
            select(func.count()).where(
                Case.caseworker_id == user_id, Case.status.in_(OPEN_STATUSES)
            )
        )
        or 0
    )


@dataclass(frozen=True)
class CapWarning:
    """Why a move needs confirming: the caseworker's count after it, the cap, focus mismatch."""

    username: str
    current: int
    after: int
    cap: int
    over_cap: bool
    focus_mismatch: bool

    @property
    def message(self) -> str:
        parts = []
        if self.over_cap:
            parts.append(
                f"{self.username} har redan {self.current} öppna ärenden "
                f"(tak {self.cap}); efter flytten blir det {self.after}"
            )
        if self.focus_mismatch:
            parts.append(f"{self.username} är inte fokushandläggare men ärendet är ett fokusärende")
        return "; ".join(parts) + ". Flytta ändå?"


@dataclass(frozen=True)
class AssignOutcome:
    """Either the case was moved (``ref``), or a warning waits for confirmation."""

    ref: CaseRef | None
    warning: CapWarning | None

    @property
    def needs_confirmation(self) -> bool:
        return self.ref is None and self.warning is not None


def assign_with_cap_check(
    session: Session,
    actor: Actor,
    case_id: uuid.UUID,
    expected_version: int,
    caseworker_id: uuid.UUID | None,
    *,
    confirm: bool = False,
) -> AssignOutcome:
    """Move a case to a caseworker (or to nobody), warning past the cap.

    Without ``confirm``, a move that would take the caseworker past their cap,
    or a focus case to someone who is not a focus caseworker, changes nothing
    and returns the warning; with ``confirm`` it is made, and the audit event
    says it went past the cap. The version check is the one of
    :func:`services.cases.assign_in`.
    """
    require_team_leader(actor, "flytta ärenden")
    case_row = load_checked(session, Case, case_id, expected_version, "ärendet")
    warning: CapWarning | None = None
    if caseworker_id is not None and caseworker_id != case_row.caseworker_id:
        worker = session.get(User, caseworker_id)
        if worker is None:
            raise NotFoundError("handläggaren finns inte")
        current = open_case_count(session, caseworker_id)
        is_open = case_row.status != CaseStatus.CLOSED.value
        after = current + (1 if is_open else 0)
        over = is_open and after > worker.caseload_cap
        mismatch = case_row.is_focus and not worker.is_focus
        if over or mismatch:
            warning = CapWarning(
                username=worker.username,
                current=current,
                after=after,
                cap=worker.caseload_cap,
                over_cap=over,
                focus_mismatch=mismatch,
            )
    if warning is not None and not confirm:
        return AssignOutcome(ref=None, warning=warning)
    moved = assign_in(session, actor, case_id, expected_version, caseworker_id)
    if warning is not None:
        record(
            session,
            actor,
            "case_assigned_past_cap",
            case_id=moved.id,
            caseworker_id=caseworker_id,
            after=warning.after,
            cap=warning.cap,
            focus_mismatch=warning.focus_mismatch,
        )
    session.flush()
    return AssignOutcome(ref=CaseRef(moved.id, moved.case_number, moved.version), warning=warning)


@dataclass(frozen=True)
class CaseToMove:
    """A case found by its number, with what a move needs (id and version)."""

    id: uuid.UUID
    case_number: str
    version: int
    status: str
    is_focus: bool
    caseworker: str | None


def find_case_to_move(session: Session, actor: Actor, case_number: str) -> CaseToMove:
    """The case with this number in the register, for the arbetsledare's move form."""
    require_team_leader(actor, "flytta ärenden")
    number = case_number.strip().upper()
    row = session.execute(
        select(Case.id, Case.case_number, Case.version, Case.status, Case.is_focus, User.username)
        .outerjoin(User, User.id == Case.caseworker_id)
        .where(Case.case_number == number)
    ).first()
    if row is None:
        raise NotFoundError(f"ärendet {number or '(tomt)'} finns inte")
    return CaseToMove(row[0], row[1], int(row[2]), row[3], bool(row[4]), row[5])


class CaseloadService:
    """One transaction per arbetsledare action on caseloads."""

    def __init__(self, *, db: Database, actor: Actor) -> None:
        self._db = db
        self._actor = actor

    def caseload(self, unit_id: uuid.UUID) -> list[CaseloadRow]:
        with self._db.begin() as s:
            return caseload(s, unit_id)

    def find_case(self, case_number: str) -> CaseToMove:
        with self._db.begin() as s:
            return find_case_to_move(s, self._actor, case_number)

    def move(
        self,
        case_id: uuid.UUID,
        expected_version: int,
        caseworker_id: uuid.UUID | None,
        *,
        confirm: bool = False,
    ) -> AssignOutcome:
        try:
            with self._db.begin() as s:
                return assign_with_cap_check(
                    s, self._actor, case_id, expected_version, caseworker_id, confirm=confirm
                )
        except StaleDataError as exc:
            raise ConflictError("ärendet", expected_version, -1) from exc
