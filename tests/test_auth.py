"""Login, first run and the demo login on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import func, select, update

from models import AuditEvent, Case, Unit, User
from models.codes import Role
from services.audit import Actor
from services.auth import (
    WRONG_CREDENTIALS,
    LoginError,
    authenticate,
    demo_login,
    first_run,
    needs_first_run,
)
from services.db import Database
from services.errors import ValidationError
from services.users import UserInput, create_user_in

PASSWORD = "hemligt-lösenord-1"


def _events(db: Database, action: str) -> list[AuditEvent]:
    with db.begin() as s:
        return list(
            s.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))
        )


def _add_user(db: Database, actor: Actor, username: str = "anna", *, active: bool = True) -> None:
    with db.begin() as s:
        user = create_user_in(
            s,
            actor,
            UserInput(
                username=username,
                full_name="Anna Åström",
                role=Role.CASEWORKER,
                unit_name="Försörjningsstöd Södertälje",
                password=PASSWORD,
            ),
        )
        user.active = active


def test_first_run_creates_administrator_and_unit(db: Database) -> None:
    assert needs_first_run(db)
    admin = first_run(
        db, "Admin", "Åsa Öberg", PASSWORD, "Försörjningsstöd Norr", workstation="ws1"
    )
    assert not needs_first_run(db)
    assert admin.role is Role.ADMIN
    assert admin.username == "admin"
    assert admin.full_name == "Åsa Öberg"
    assert admin.unit_name == "Försörjningsstöd Norr"
    with db.begin() as s:
        user = s.scalars(select(User)).one()
        assert user.role == Role.ADMIN.value
        assert user.unit_id == admin.unit_id
        assert user.password_hash and PASSWORD not in user.password_hash
        assert s.scalar(select(func.count()).select_from(Unit)) == 1
    assert [e.detail for e in _events(db, "first_run")]
    logged_in = authenticate(db, "admin", PASSWORD, "ws1")
    assert logged_in.user_id == admin.user_id


def test_first_run_refused_once_users_exist(db: Database) -> None:
    first_run(db, "admin", "Åsa Öberg", PASSWORD, "Enhet A")
    with pytest.raises(ValidationError, match="redan användare"):
        first_run(db, "admin2", "Bo Ek", PASSWORD, "Enhet B")
    with db.begin() as s:
        assert s.scalar(select(func.count()).select_from(User)) == 1
        assert s.scalar(select(func.count()).select_from(Unit)) == 1


def test_first_run_is_all_or_nothing(db: Database) -> None:
    with pytest.raises(ValidationError, match="minst 8 tecken"):
        first_run(db, "admin", "Åsa Öberg", "kort", "Enhet A")
    with pytest.raises(ValidationError, match="användarnamn"):
        first_run(db, "Å", "Åsa Öberg", PASSWORD, "Enhet A")
    assert needs_first_run(db)
    with db.begin() as s:
        assert s.scalar(select(func.count()).select_from(Unit)) == 0


def test_login_succeeds_and_is_audited(db: Database, actor: Actor) -> None:
    _add_user(db, actor)
    user = authenticate(db, "  Anna ", PASSWORD, "arbetsplats-7")
    assert user.role is Role.CASEWORKER
    assert user.full_name == "Anna Åström"
    assert user.actor.user_id == user.user_id
    assert user.actor.workstation == "arbetsplats-7"
    (event,) = _events(db, "login_success")
    assert event.user_id == user.user_id
    assert event.workstation == "arbetsplats-7"
    assert PASSWORD not in event.detail


def test_wrong_password_and_unknown_user_give_the_same_message(db: Database, actor: Actor) -> None:
    _add_user(db, actor)
    with pytest.raises(LoginError) as wrong:
        authenticate(db, "anna", "fel-lösenord", "ws")
    with pytest.raises(LoginError) as unknown:
        authenticate(db, "karin.nystrom", PASSWORD, "ws")
    assert wrong.value.message == unknown.value.message == WRONG_CREDENTIALS
    with pytest.raises(LoginError, match=WRONG_CREDENTIALS):
        authenticate(db, "anna", "", "ws")
    failures = _events(db, "login_failure")
    assert len(failures) == 3
    known, anonymous, _empty = failures
    assert known.user_id is not None
    assert json.loads(known.detail) == {"reason": "wrong_password"}
    assert anonymous.user_id is None
    # Neither the password nor the username typed is stored.
    for event in failures:
        text = f"{event.actor} {event.detail}"
        assert "fel-lösenord" not in text
        assert PASSWORD not in text
        assert "karin" not in text
    with db.begin() as s:
        assert s.scalars(select(User.failed_logins)).one() == 2


def test_inactive_user_is_refused(db: Database, actor: Actor) -> None:
    _add_user(db, actor, active=False)
    with pytest.raises(LoginError, match="inaktiverat"):
        authenticate(db, "anna", PASSWORD, "ws")
    # A wrong password to an inactive account says nothing about the account.
    with pytest.raises(LoginError, match=WRONG_CREDENTIALS):
        authenticate(db, "anna", "fel-lösenord", "ws")
    assert [json.loads(e.detail)["reason"] for e in _events(db, "login_failure")] == [
        "inactive",
        "wrong_password",
    ]


def test_user_without_password_cannot_log_in(db: Database, actor: Actor) -> None:
    with db.begin() as s:
        create_user_in(
            s, actor, UserInput(username="nopass", full_name="N P", role=Role.ADMIN, unit_name="U")
        )
    with pytest.raises(LoginError, match=WRONG_CREDENTIALS):
        authenticate(db, "nopass", "", "ws")


def test_many_failures_lock_the_account_and_success_resets(
    db: Database, actor: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    _add_user(db, actor)
    monkeypatch.setattr("services.auth.MAX_FAILED_LOGINS", 4)
    for _ in range(3):
        with pytest.raises(LoginError):
            authenticate(db, "anna", "fel", "ws")
    authenticate(db, "anna", PASSWORD, "ws")
    with db.begin() as s:
        assert s.scalars(select(User.failed_logins)).one() == 0
    for _ in range(4):
        with pytest.raises(LoginError):
            authenticate(db, "anna", "fel", "ws")
    with pytest.raises(LoginError, match="låst"):
        authenticate(db, "anna", PASSWORD, "ws")
    with db.begin() as s:
        s.execute(update(User).values(locked_until=None))
    assert authenticate(db, "anna", PASSWORD, "ws").username == "anna"


def test_demo_login_only_on_a_demo_database(db: Database, actor: Actor) -> None:
    with pytest.raises(LoginError, match="ingen demodatabas"):
        demo_login(db, "ws")
    with db.begin() as s:
        assert s.scalar(select(func.count()).select_from(User)) == 0


def test_demo_login_picks_the_busiest_caseworker(db: Database, actor: Actor) -> None:
    from services.demo import seed_demo

    seed_demo(db, actor, cases=60, seed=3, as_of=date(2026, 6, 30))
    first = demo_login(db, "ws")
    second = demo_login(db, "ws")
    assert first.user_id == second.user_id
    assert first.is_demo and first.role is Role.CASEWORKER and not first.is_focus
    with db.begin() as s:
        caseloads = s.execute(
            select(User.id, func.count(Case.id))
            .join(Case, Case.caseworker_id == User.id)
            .where(Case.status != "closed", User.role == "caseworker", User.is_focus.is_(False))
            .group_by(User.id)
        ).all()
        user = s.get(User, first.user_id)
        assert user is not None and user.password_hash is None
    assert dict(caseloads)[first.user_id] == max(n for _uid, n in caseloads)
    assert len(_events(db, "login_success")) == 2
    # Nobody logs in to a demo account with a password.
    with pytest.raises(LoginError):
        authenticate(db, first.username, "", "ws")
