"""User administration through the service, as each role, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select, text

from models import AuditEvent, User
from models.codes import Role
from services.audit import Actor
from services.auth import LoginError, SessionUser, authenticate, first_run
from services.db import Database, open_database
from services.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from services.pg_roles import GROUP_ROLES, db_role_name, drop_login_role
from services.user_admin import UserAdminService, UserChanges
from services.users import UserInput

ADMIN_PW = "admin-lösenord-1"
PW = "handläggare-pw-2"


@dataclass(frozen=True)
class Names:
    """Usernames for one test: PostgreSQL login roles are server-wide, so each run has its own."""

    kajsa: str
    lena: str
    bertil: str
    nisse: str


@pytest.fixture
def who() -> Names:
    tag = uuid.uuid4().hex[:6]
    return Names(f"kajsa{tag}", f"lena{tag}", f"bertil{tag}", f"nisse{tag}")


@pytest.fixture
def admin(db: Database) -> SessionUser:
    first_run(db, "admin", "Ada Admin", ADMIN_PW, "Försörjningsstöd Söder", workstation="t")
    return authenticate(db, "admin", ADMIN_PW, "t")


@pytest.fixture
def service(db: Database, admin: SessionUser) -> Iterator[UserAdminService]:
    yield UserAdminService(db=db, actor=admin.actor)
    if not db.is_sqlite:  # drop the login roles this test made (they outlive its database)
        with db.begin() as s:
            roles = list(s.scalars(select(User.db_role).where(User.db_role.is_not(None))))
        with db.engine.begin() as conn:
            for role in roles:
                assert role is not None
                drop_login_role(conn, role)


def _add(service: UserAdminService, username: str, role: Role = Role.CASEWORKER):  # type: ignore[no-untyped-def]
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


def test_list_and_add_users(who: Names, db: Database, service: UserAdminService) -> None:
    row = _add(service, f"  {who.kajsa.title()} ")
    assert (row.username, row.full_name, row.role, row.unit_name) == (
        who.kajsa,
        "Kajsa Ödmark",
        Role.CASEWORKER,
        "Försörjningsstöd Söder",
    )
    assert row.active and row.locked_until is None and row.role_label == "handläggare"
    users = service.list_users()
    assert [u.username for u in users] == ["admin", who.kajsa]
    assert service.unit_names() == ["Försörjningsstöd Söder"]
    assert authenticate(db, who.kajsa, PW, "t").user_id == row.id
    created = _events(db, "user_created")
    assert created[-1]["target_user"] == str(row.id)
    assert "Kajsa" not in json.dumps(created)


def test_add_user_names_every_bad_field(who: Names, service: UserAdminService) -> None:
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
    _add(service, who.kajsa)
    with pytest.raises(ValidationError, match=f"användarnamn: '{who.kajsa}' finns redan"):
        _add(service, who.kajsa)
    assert [u.username for u in service.list_users()] == ["admin", who.kajsa]  # nothing half-saved


def test_only_an_active_administrator_administers(
    who: Names, db: Database, service: UserAdminService
) -> None:
    _add(service, who.kajsa, Role.CASEWORKER)
    _add(service, who.lena, Role.TEAM_LEADER)
    for name, password in ((who.kajsa, PW), (who.lena, PW)):
        actor = authenticate(db, name, password, "t").actor
        other = UserAdminService(db=db, actor=actor)
        with pytest.raises(PermissionDeniedError, match="bara en administratör"):
            other.list_users()
        with pytest.raises(PermissionDeniedError):
            _add(other, who.nisse)
    cli = UserAdminService(db=db, actor=Actor.cli())
    assert len(cli.list_users()) == 3
    ghost = Actor(username="ghost", role=Role.ADMIN, user_id=uuid.uuid4(), workstation="t")
    with pytest.raises(PermissionDeniedError, match="inte aktivt"):
        UserAdminService(db=db, actor=ghost).list_users()


def test_change_role_and_unit_with_version_check(
    who: Names, db: Database, service: UserAdminService
) -> None:
    row = _add(service, who.kajsa)
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


def test_the_last_administrator_stays(
    who: Names, db: Database, service: UserAdminService, admin
) -> None:  # type: ignore[no-untyped-def]
    me = next(u for u in service.list_users() if u.username == "admin")
    with pytest.raises(ValidationError, match="^roll: den sista aktiva administratören"):
        service.update_user(me.id, me.version, UserChanges(role=Role.CASEWORKER))
    with pytest.raises(ValidationError, match="eget konto"):
        service.set_active(me.id, me.version, False)
    second = _add(service, who.bertil, Role.ADMIN)
    other = UserAdminService(db=db, actor=authenticate(db, who.bertil, PW, "t").actor)
    other.set_active(me.id, me.version, False)
    again = next(u for u in other.list_users() if u.username == who.bertil)
    with pytest.raises(ValidationError, match="eget konto"):
        other.set_active(second.id, again.version, False)
    with pytest.raises(ValidationError, match="sista aktiva administratören måste förbli"):
        other.update_user(second.id, again.version, UserChanges(role=Role.TEAM_LEADER))
    with pytest.raises(PermissionDeniedError, match="inte aktivt"):
        service.list_users()  # the deactivated admin has lost the right at once


def test_deactivate_keeps_history_and_blocks_login(
    who: Names, db: Database, service: UserAdminService
) -> None:
    row = _add(service, who.kajsa)
    authenticate(db, who.kajsa, PW, "t")
    off = service.set_active(row.id, row.version, False)
    assert not off.active
    with pytest.raises(LoginError, match="inaktiverat"):
        authenticate(db, who.kajsa, PW, "t")
    with db.begin() as s:
        assert s.get(User, row.id) is not None
        assert s.scalars(select(AuditEvent.id).where(AuditEvent.user_id == row.id)).first()
    on = service.set_active(row.id, off.version, True)
    assert on.active
    assert authenticate(db, who.kajsa, PW, "t").user_id == row.id
    assert len(_events(db, "user_deactivated")) == 1
    assert len(_events(db, "user_reactivated")) == 1


def test_reset_password_and_unlock(who: Names, db: Database, service: UserAdminService) -> None:
    row = _add(service, who.kajsa)
    for _ in range(5):
        with pytest.raises(LoginError):
            authenticate(db, who.kajsa, "fel-lösenord", "t")
    locked = next(u for u in service.list_users() if u.username == who.kajsa)
    assert locked.is_locked()
    with pytest.raises(LoginError, match="låst"):
        authenticate(db, who.kajsa, PW, "t")
    opened = service.unlock(row.id, locked.version)
    assert not opened.is_locked() and opened.failed_logins == 0
    assert authenticate(db, who.kajsa, PW, "t")
    assert _events(db, "user_unlocked")[-1]["was_locked"] is True

    current = next(u for u in service.list_users() if u.username == who.kajsa)
    with pytest.raises(ValidationError, match="^nytt lösenord: måste ha minst 8 tecken$"):
        service.reset_password(row.id, current.version, "kort")
    reset = service.reset_password(row.id, current.version, "helt-nytt-lösen")
    with pytest.raises(LoginError):
        authenticate(db, who.kajsa, PW, "t")
    assert authenticate(db, who.kajsa, "helt-nytt-lösen", "t").user_id == row.id
    assert reset.version > current.version
    detail = _events(db, "user_password_reset")[-1]
    assert "helt-nytt" not in json.dumps(detail)


def _pg_role(db: Database, role: str) -> tuple[bool, str | None, list[str]]:
    """Can the role log in, its stored SCRAM verifier, and its group roles."""
    with db.engine.connect() as conn:
        can_login, verifier = conn.execute(
            text("SELECT rolcanlogin, rolpassword FROM pg_authid WHERE rolname = :r"),
            {"r": role},
        ).one()
        groups = list(
            conn.scalars(
                text(
                    "SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
                    "JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = :r ORDER BY 1"
                ),
                {"r": role},
            )
        )
    return can_login, verifier, groups


@pytest.mark.postgres
def test_postgresql_login_roles_follow_the_account(  # type: ignore[no-untyped-def]
    who: Names, pg_url: str
) -> None:
    db = open_database(pg_url)
    roles: list[str] = []
    try:
        first_run(db, "admin", "Ada Admin", ADMIN_PW, "Försörjningsstöd Söder", workstation="t")
        service = UserAdminService(db=db, actor=authenticate(db, "admin", ADMIN_PW, "t").actor)
        row = _add(service, who.kajsa)
        with db.begin() as s:
            role = s.scalar(select(User.db_role).where(User.id == row.id))
        assert role == db_role_name(who.kajsa)
        roles.append(role)
        can_login, verifier, groups = _pg_role(db, role)
        assert can_login and verifier is not None and verifier.startswith("SCRAM-SHA-256$")
        assert groups == [GROUP_ROLES[Role.CASEWORKER]]

        row = service.update_user(row.id, row.version, UserChanges(role=Role.TEAM_LEADER))
        assert _pg_role(db, role)[2] == [GROUP_ROLES[Role.TEAM_LEADER]]

        row = service.set_active(row.id, row.version, False)
        assert _pg_role(db, role)[0] is False  # NOLOGIN: the role stays for the history
        row = service.set_active(row.id, row.version, True)
        assert _pg_role(db, role)[0] is True

        service.reset_password(row.id, row.version, "helt-nytt-lösen")
        assert _pg_role(db, role)[1] not in (None, verifier)

        # a username whose login role already exists on the server: nothing is saved
        with db.engine.begin() as conn:
            conn.execute(text(f'CREATE ROLE "{db_role_name(who.lena)}"'))
        roles.append(db_role_name(who.lena))
        with pytest.raises(ValidationError, match="^användarnamn: databasrollen"):
            _add(service, who.lena)
        assert who.lena not in [u.username for u in service.list_users()]
    finally:
        with db.engine.begin() as conn:
            for role in roles:
                conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        db.dispose()
