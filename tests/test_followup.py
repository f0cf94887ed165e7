"""The follow-up list: hand-made cases at the edges of each kind, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from models import Agency, ContactEntry, ContactMethod, PlanGoal
from models.codes import MemberRole, MonthSource
from services.audit import Actor
from services.cases import CaseService
from services.db import Database
from services.followup import FollowUpKind, FollowUpScope, FollowUpService, follow_up_list
from services.settings import Settings
from services.support import set_month_in
from tests.factories import BENGT, KARIN, MARIE, make_case

A = MemberRole.APPLICANT
AS_OF = date(2026, 11, 20)


def note(
    db: Database, case_id: uuid.UUID, on: date, follow_up: date | None, **kw: object
) -> uuid.UUID:
    with db.begin() as s:
        agency = s.scalars(select(Agency.code)).first()
        method = s.scalars(select(ContactMethod.code)).first()
        row = ContactEntry(
            id=uuid.uuid4(),
            case_id=case_id,
            occurred_at=datetime.combine(on, datetime.min.time(), UTC) + timedelta(hours=9),
            agency_code=agency,
            method_code=method,
            text="Samtal om planen",
            counterpart="Arbetsförmedlingen",
            follow_up_on=follow_up,
            author_name="test",
            **kw,
        )
        s.add(row)
        return row.id


def goal(db: Database, case_id: uuid.UUID, target: date, achieved: date | None = None) -> None:
    with db.begin() as s:
        s.add(
            PlanGoal(
                case_id=case_id,
                text="Söka  minst tio arbeten\ni månaden",
                target_date=target,
                achieved_on=achieved,
                created_by="test",
                updated_by="test",
            )
        )


def kinds(items, case_id: uuid.UUID) -> list[FollowUpKind]:
    return sorted(i.kind for i in items if i.case_id == case_id)


def test_each_kind_at_its_edges(db: Database, actor: Actor, unit_id: uuid.UUID) -> None:
    cases = CaseService(db=db, actor=actor)
    quiet = make_case(cases, unit_id, (A, KARIN), opened_on=date(2026, 1, 5))
    busy = make_case(cases, unit_id, (A, BENGT), opened_on=date(2026, 1, 5))
    fresh = make_case(cases, unit_id, (A, MARIE), opened_on=date(2026, 4, 1))
    # quiet: last note 2026-09-24, 8 weeks before 2026-11-19 → no contact; its follow-up is due.
    note(db, quiet.id, date(2026, 9, 24), follow_up=date(2026, 11, 19))
    goal(db, quiet.id, date(2026, 11, 19))
    goal(db, quiet.id, date(2026, 11, 1), achieved=date(2026, 10, 30))  # done: not listed
    # busy: a follow-up answered by a later note; another due in 7 days; a goal due today.
    note(db, busy.id, date(2026, 10, 1), follow_up=date(2026, 10, 15))
    note(db, busy.id, date(2026, 11, 18), follow_up=date(2026, 11, 27))
    goal(db, busy.id, AS_OF)
    # fresh: a recent note without follow-up; May–October 2026 with support → jobbstimulans.
    note(db, fresh.id, date(2026, 11, 10), follow_up=None)
    with db.begin() as s:
        for m in range(5, 11):
            set_month_in(s, actor, fresh.id, date(2026, m, 1), 1, MonthSource.MANUAL, audit=False)
    with db.begin() as s:
        items = follow_up_list(s, actor, FollowUpScope(unit_id=unit_id), as_of=AS_OF)
        week = follow_up_list(s, actor, FollowUpScope(unit_id=unit_id), as_of=AS_OF,
                              horizon_days=6)  # fmt: skip
    F, P, N, J = (
        FollowUpKind.FOLLOW_UP,
        FollowUpKind.PLAN_DATE,
        FollowUpKind.NO_CONTACT,
        FollowUpKind.JOBBSTIMULANS,
    )
    assert kinds(items, quiet.id) == sorted([F, P, N])
    assert kinds(items, busy.id) == [F]  # due 2026-11-27, inside the 7-day horizon
    assert kinds(week, busy.id) == []
    assert kinds(items, fresh.id) == [J]
    jobb = next(i for i in items if i.kind is J)
    assert (jobb.person_name, jobb.due, jobb.detail) == (
        f"{MARIE.first_name} {MARIE.last_name}",
        date(2026, 10, 1),
        "6 månader i följd 2026-10",
    )
    assert [i.due for i in items] == sorted(i.due for i in items)
    plan = next(i for i in items if i.kind is P)
    assert plan.detail == "Söka minst tio arbeten i månaden"
    assert next(i for i in items if i.kind is N).detail == "senaste kontakt 2026-09-24"
    overdue = [i for i in items if i.overdue(AS_OF)]
    assert {i.kind for i in overdue} == {F, P, J, N}


def test_a_corrected_note_no_longer_asks_and_closed_cases_are_left_out(
    db: Database, actor: Actor, unit_id: uuid.UUID
) -> None:
    cases = CaseService(db=db, actor=actor)
    ref = make_case(cases, unit_id, (A, KARIN), opened_on=date(2026, 11, 1))
    first = note(db, ref.id, date(2026, 11, 2), follow_up=date(2026, 11, 10))
    scope = FollowUpScope(unit_id=unit_id)
    with db.begin() as s:
        assert kinds(follow_up_list(s, actor, scope, as_of=AS_OF), ref.id) == [
            FollowUpKind.FOLLOW_UP
        ]
    # A correction written the same minute still settles the corrected note's follow-up.
    note(db, ref.id, date(2026, 11, 2), follow_up=None, corrects_id=first)
    with db.begin() as s:
        assert kinds(follow_up_list(s, actor, scope, as_of=AS_OF), ref.id) == []


def test_a_caseworker_sees_their_own_cases_and_the_list_is_audited(
    db: Database, actor: Actor, unit_id: uuid.UUID
) -> None:
    from models import AuditEvent
    from models.codes import Role
    from services.users import UserInput, create_user_in

    with db.begin() as s:
        anna = create_user_in(
            s,
            actor,
            UserInput(username="anna", full_name="Anna", unit_name="Försörjningsstöd Södertälje",
                      role=Role.CASEWORKER),
        ).id  # fmt: skip
    cases = CaseService(db=db, actor=actor)
    mine = make_case(cases, unit_id, (A, KARIN), opened_on=date(2025, 1, 5), caseworker_id=anna)
    other = make_case(cases, unit_id, (A, BENGT), opened_on=date(2025, 1, 5))
    worker = Actor(username="anna", role=Role.CASEWORKER, workstation="test", user_id=anna)
    items = FollowUpService(db=db, actor=worker, settings=Settings(no_contact_weeks=4)).items(
        as_of=AS_OF
    )
    assert {i.case_id for i in items} == {mine.id}
    assert other.id not in {i.case_id for i in items}
    with db.begin() as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "follow_up_list")).one()
        assert event.actor == "anna" and '"rows": 1' in event.detail
