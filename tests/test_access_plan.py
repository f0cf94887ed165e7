"""The scoped register query asks for protected cases by a key probe in ``case_protected``.

``services.access.case_scope_condition`` adds "cases holding a person with
skyddade personuppgifter" to every query a user sees. Without
``ix_person_protected`` (migration 0007) SQLite answered it by scanning every
household member: 1.5 s per register window at 100,000 cases (docs/bench.md);
with it, by listing every protected person's memberships for each statement
(~6 ms of a 12 ms window). Since migration 0015 the answer is stored per case
(``case_protected``, kept by triggers) and the scope probes its key. This test
reads SQLite's query plan (not a timing) for a caseworker's and an
arbetsledare's first register window.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from models import Case
from models.codes import MemberRole, Role
from services.audit import Actor
from services.cases import CaseService
from services.db import open_database
from services.register import _base_query
from services.search import RegisterFilter
from services.users import UserInput, create_user_in
from tests.factories import KARIN, make_case


@pytest.mark.parametrize("role", [Role.CASEWORKER, Role.TEAM_LEADER])
def test_scoped_register_window_probes_the_protected_cases(tmp_path: Path, role: Role) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'plan.db'}")
    try:
        with db.begin() as s:
            user = create_user_in(
                s,
                Actor.cli(),
                UserInput(username="u1", full_name="U Ett", role=role, unit_name="Södertälje"),
            )
            who = Actor(username="u1", role=role, user_id=user.id)
            unit_id = user.unit_id
        make_case(
            CaseService(db=db, actor=Actor.cli()),
            unit_id,
            (MemberRole.APPLICANT, KARIN),
            caseworker_id=user.id,
        )
        stmt = (
            _base_query(RegisterFilter(), date(2026, 11, 20), who)
            .order_by(Case.number_year, Case.number_seq)
            .limit(200)
        )
        sql = str(stmt.compile(db.engine, compile_kwargs={"literal_binds": True}))
        with db.begin() as s:
            plan = [row[3] for row in s.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + sql)]
            assert s.scalars(select(Case.id)).all()  # the query has something to plan for
    finally:
        db.dispose()
    text = "\n".join(plan)
    assert "USING INDEX sqlite_autoindex_case_protected_1 FOR IN-OPERATOR" in text, text
    assert "SCAN" not in text, text  # no table, no index read whole
    assert "ix_person_protected" not in text, text  # no protected person's memberships
