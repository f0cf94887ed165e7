"""The register's windows run through the driver (services.register._DriverStatement)
give what SQLAlchemy's own execution of the same statement gives, on both backends."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import Select, event, select

from models import User
from models.codes import CaseStatus, Role
from services.audit import Actor
from services.db import Database
from services.demo import seed_demo
from services.register import RegisterRow, RegisterService, RegisterSort, through_sqlalchemy
from services.search import RegisterFilter

AS_OF = date(2026, 6, 30)


def _windows(service: RegisterService, flt: RegisterFilter, sort: RegisterSort) -> list[Any]:
    """Three windows walked by their keys, newest first, then one oldest first."""
    out: list[list[RegisterRow]] = []
    rows = service.window(flt, None, 7, descending=True, sort=sort)
    out.append(rows)
    for _ in range(2):
        if not rows:
            break
        rows = service.window(flt, rows[-1].key, 7, descending=True, sort=sort)
        out.append(rows)
    out.append(service.window(flt, None, 5, descending=False, sort=sort))
    return out


def test_driver_windows_equal_sqlalchemys(db: Database) -> None:
    seed_demo(db, Actor.cli(), cases=120, seed=11, as_of=AS_OF)
    with db.begin() as s:
        users = s.scalars(select(User)).all()
        leader = next(u for u in users if u.role == Role.TEAM_LEADER.value)
        worker = next(u for u in users if u.role == Role.CASEWORKER.value)
    actors = [
        None,
        Actor(leader.username, Role.TEAM_LEADER, leader.id, "test"),
        Actor(worker.username, Role.CASEWORKER, worker.id, "test"),  # scoped: the moment
    ]
    filters = [
        RegisterFilter(),
        RegisterFilter(focus_only=True),
        RegisterFilter(status=CaseStatus.ONGOING, long_term=True),
        RegisterFilter(caseworker_id=worker.id),
    ]
    selects: list[Any] = []

    def count(_conn: Any, clause: Any, *_args: Any) -> None:
        if isinstance(clause, Select):
            selects.append(clause)

    event.listen(db.engine, "before_execute", count)
    try:
        compared = 0
        for actor in actors:
            service = RegisterService(db=db, actor=actor, today=lambda: AS_OF)
            for flt in filters:
                for sort in RegisterSort:
                    selects.clear()
                    driver = _windows(service, flt, sort)
                    assert selects == []  # no SQLAlchemy execution of the window's select
                    with through_sqlalchemy():
                        theirs = _windows(service, flt, sort)
                    assert selects  # and this time there was
                    assert driver == theirs, (actor, flt, sort)
                    compared += sum(len(w) for w in driver)
        assert compared > 200  # the windows were not all empty
        # The columns' types applied to the driver's values (SQLite keeps UUIDs as text).
        service = RegisterService(db=db, today=lambda: AS_OF)
        rows = service.window(RegisterFilter(), None, 3, sort=RegisterSort.APPLICANT)
        assert rows and all(isinstance(r.id, uuid.UUID) for r in rows)
        assert all(isinstance(r.key[-1], uuid.UUID) for r in rows)
    finally:
        event.remove(db.engine, "before_execute", count)


def test_a_number_search_is_left_to_sqlalchemys_cache(db: Database) -> None:
    """Each case number searched for is a statement of its own: compiled for the driver
    it would be compiled at every search, where SQLAlchemy's cache knows its shape."""
    from services.register import _driver_statement

    seed_demo(db, Actor.cli(), cases=30, seed=5, as_of=AS_OF)
    service = RegisterService(db=db, today=lambda: AS_OF)
    number = service.window(RegisterFilter(), None, 1)[0].case_number
    compiled = _driver_statement.cache_info().misses
    found = service.window(RegisterFilter(text=number), None, 10)
    assert [r.case_number for r in found] == [number]
    assert _driver_statement.cache_info().misses == compiled
    service.window(RegisterFilter(focus_only=True), None, 13)  # a quick filter: compiled
    assert _driver_statement.cache_info().misses == compiled + 1
