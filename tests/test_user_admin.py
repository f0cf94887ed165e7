"""User administration through the service, as each role, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import select

from models import AuditEvent, User
from models.codes import Role
from services.audit import Actor
from services.auth import LoginError, SessionUser, authenticate, first_run
from services.db import Database
from services.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from services.user_admin import UserAdminService, UserChanges
from services.users import UserInput

ADMIN_PW = "admin-lösenord-1"
PW = "handläggare-pw-2"


@pytest.fixture
def admin(db: Database) -> SessionUser:
    first_run(db, "admin", "Ada Admin", ADMIN_PW, "Försörjningsstöd Söder", workstation="t")
    return authenticate(db, "admin", ADMIN_PW, "t")


@pytest.fixture
def service(db: Database, admin: SessionUser) -> UserAdminService:
    return UserAdminService(db=db, actor=admin.actor)


def _add(service: UserAdminService, username: str = "kajsa", role: Role = Role.CASEWORKER):  # type: ignore[no-untyped-def]
    return service.add_user(
        UserInput(
            username=username,
            full_name="Kajsa Ödmark",
            role=role,
            unit_name="Försörjningsstöd Söder",
            password=PW,
        )
    )


def _events(db: Database, action: str) -> list[dict[str, object]]:
    with db.begin() as s:
        return [
            json.loads(d)
            for d in s.scalars(
                select(AuditEvent.detail).where(AuditEvent.action == action).order_by(AuditEvent.id)
            )
        ]


def test_list_and_add_users(db: Database, service: UserAdminService) -> None:
    row = _add(service, "  Kajsa ")
    assert (row.username, row.full_name, row.role, row.unit_name) == (
        "kajsa",
        "Kajsa Ödmark",
        Role.CASEWORKER,
        "Försörjningsstöd Söder",
    )
    assert row.active and row.locked_until is None and row.role_label == "handläggare"
    users = service.list_users()
    assert [u.username for u in users] == ["admin", "kajsa"]
    assert service.unit_names() == ["Försörjningsstöd Söder"]
    assert authenticate(db, "kajsa", PW, "t").user_id == row.id
    created = _events(db, "user_created")
    assert created[-1]["target_user"] == str(row.id)
    assert "Kajsa" not in json.dumps(created)


def test_add_user_names_every_bad_field(service: UserAdminService) -> None:
    with pytest.raises(ValidationError) as info:
        service.add_user(
            UserInput(
                username="K",
                full_name=" ",
                role=Role.CASEWORKER,
                unit_name="Söder",
                password="kort",
            )
        )
    fields = {e.field for e in info.value.errors}
    assert fields == {"användarnamn", "namn", "lösenord"}
    with pytest.raises(ValidationError, match="^lösenord: måste fyllas i$"):
        service.add_user(
            UserInput(username="bo", full_name="Bo", role=Role.CASEWORKER, unit_name="S")
        )
    _add(service)
    with pytest.raises(ValidationError, match="användarnamn: 'kajsa' finns redan"):
        _add(service)
    assert [u.username for u in service.list_users()] == ["admin", "kajsa"]  # nothing half-saved


def test_only_an_active_administrator_administers(db: Database, service: UserAdminService) -> None:
    _add(service, "kajsa", Role.CASEWORKER)
    _add(service, "lena", Role.TEAM_LEADER)
    for name, password in (("kajsa", PW), ("lena", PW)):
        actor = authenticate(db, name, password, "t").actor
        other = UserAdminService(db=db, actor=actor)
        with pytest.raises(PermissionDeniedError, match="bara en administratör"):
            other.list_users()
        with pytest.raises(PermissionDeniedError):
            _add(other, "nisse")
    cli = UserAdminService(db=db, actor=Actor.cli())
    assert len(cli.list_users()) == 3
    ghost = Actor(username="ghost", role=Role.ADMIN, user_id=uuid.uuid4(), workstation="t")
    with pytest.raises(PermissionDeniedError, match="inte aktivt"):
        UserAdminService(db=db, actor=ghost).list_users()


def test_change_role_and_unit_with_version_check(db: Database, service: UserAdminService) -> None:
    row = _add(service)
    changed = service.update_user(
        row.id, row.version, UserChanges(role=Role.TEAM_LEADER, unit_name="Försörjningsstöd Norr")
    )
    assert changed.role is Role.TEAM_LEADER and changed.unit_name == "Försörjningsstöd Norr"
    assert changed.version == row.version + 1
    event = _events(db, "user_updated")[-1]
    assert event["fields"] == ["role", "unit"]
    assert (event["role_from"], event["role_to"]) == ("caseworker", "team_leader")
    assert "Norr" not in json.dumps(event)
    with pytest.raises(ConflictError):
        service.update_user(row.id, row.version, UserChanges(role=Role.CASEWORKER))
    with pytest.raises(ValidationError, match="^namn: måste fyllas i$"):
        service.update_user(row.id, changed.version, UserChanges(full_name="  "))
    with pytest.raises(NotFoundError):
        service.update_user(uuid.uuid4(), 1, UserChanges(role=Role.CASEWORKER))
    same = service.update_user(row.id, changed.version, UserChanges(role=Role.TEAM_LEADER))
    assert same.version == changed.version  # nothing changed, nothing written
    assert len(_events(db, "user_updated")) == 1


def test_the_last_administrator_stays(db: Database, service: UserAdminService, admin) -> None:  # type: ignore[no-untyped-def]
    me = next(u for u in service.list_users() if u.username == "admin")
    with pytest.raises(ValidationError, match="^roll: den sista aktiva administratören"):
        service.update_user(me.id, me.version, UserChanges(role=Role.CASEWORKER))
    with pytest.raises(ValidationError, match="eget konto"):
        service.set_active(me.id, me.version, False)
    second = _add(service, "bertil", Role.ADMIN)
    other = UserAdminService(db=db, actor=authenticate(db, "bertil", PW, "t").actor)
    other.set_active(me.id, me.version, False)
    again = next(u for u in other.list_users() if u.username == "bertil")
    with pytest.raises(ValidationError, match="eget konto"):
        other.set_active(second.id, again.version, False)
    with pytest.raises(ValidationError, match="sista aktiva administratören måste förbli"):
        other.update_user(second.id, again.version, UserChanges(role=Role.TEAM_LEADER))
    with pytest.raises(PermissionDeniedError, match="inte aktivt"):
        service.list_users()  # the deactivated admin has lost the right at once


def test_deactivate_keeps_history_and_blocks_login(db: Database, service: UserAdminService) -> None:
    row = _add(service)
    authenticate(db, "kajsa", PW, "t")
    off = service.set_active(row.id, row.version, False)
    assert not off.active
    with pytest.raises(LoginError, match="inaktiverat"):
        authenticate(db, "kajsa", PW, "t")
    with db.begin() as s:
        assert s.get(User, row.id) is not None
        assert s.scalars(select(AuditEvent.id).where(AuditEvent.user_id == row.id)).first()
    on = service.set_active(row.id, off.version, True)
    assert on.active
    assert authenticate(db, "kajsa", PW, "t").user_id == row.id
    assert len(_events(db, "user_deactivated")) == 1
    assert len(_events(db, "user_reactivated")) == 1


def test_reset_password_and_unlock(db: Database, service: UserAdminService) -> None:
    row = _add(service)
    for _ in range(5):
        with pytest.raises(LoginError):
            authenticate(db, "kajsa", "fel-lösenord", "t")
    locked = next(u for u in service.list_users() if u.username == "kajsa")
    assert locked.is_locked()
    with pytest.raises(LoginError, match="låst"):
        authenticate(db, "kajsa", PW, "t")
    opened = service.unlock(row.id, locked.version)
    assert not opened.is_locked() and opened.failed_logins == 0
    assert authenticate(db, "kajsa", PW, "t")
    assert _events(db, "user_unlocked")[-1]["was_locked"] is True

    current = next(u for u in service.list_users() if u.username == "kajsa")
    with pytest.raises(ValidationError, match="^nytt lösenord: måste ha minst 8 tecken$"):
        service.reset_password(row.id, current.version, "kort")
    reset = service.reset_password(row.id, current.version, "helt-nytt-lösen")
    with pytest.raises(LoginError):
        authenticate(db, "kajsa", PW, "t")
    assert authenticate(db, "kajsa", "helt-nytt-lösen", "t").user_id == row.id
    assert reset.version > current.version
    detail = _events(db, "user_password_reset")[-1]
    assert "helt-nytt" not in json.dumps(detail)
