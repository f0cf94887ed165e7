"""PostgreSQL as the boundary: per-user roles, row-level security, an insert-only audit log.

Users are created the way ``python main.py user add`` creates them (the
user row and the LOGIN role in one transaction); then each connects with
psycopg under their own role and password and sees only what the access
matrix gives them, and Fokus itself runs on that connection.

The test server authenticates 127.0.0.1 with ``trust`` (docs/access.md says
what a real server must use), so a login here does not prove the password;
the stored SCRAM verifier is therefore checked against the password itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from models.codes import MemberRole, Role
from services import pg_roles
from services.access import AccessService, OutsideScopeError
from services.audit import Actor, verify_chain
from services.case_view import CaseViewService
from services.cases import CaseService
from services.db import Database, open_database
from services.errors import NotFoundError
from services.journal import JournalService, NoteInput
from services.register import RegisterService
from services.search import RegisterFilter
from tests.factories import BENGT, KARIN, MARIE, add_login_user, make_case

pytestmark = pytest.mark.postgres

NOTE = NoteInput(datetime(2024, 6, 1, 10, tzinfo=UTC), "psychiatry", "phone", "Samtal om SIP")
REASON = "Klienten ringer akut och handläggaren är ledig i dag"


@dataclass
class Staff:
    username: str
    password: str
    role_name: str
    user_id: uuid.UUID


@dataclass
class Server:
    url: str
    owner: Database
    staff: dict[str, Staff]
    cases: dict[str, uuid.UUID]

    def psql(self, who: str) -> psycopg.Connection[tuple[object, ...]]:
        url = make_url(self.url)
        s = self.staff[who]
        return psycopg.connect(
            host=url.host,
            port=url.port or 5432,
            dbname=url.database,
            user=s.role_name,
            password=s.password,
            autocommit=True,
        )

    def fokus(self, who: str) -> Database:
        s = self.staff[who]
        return open_database(pg_roles.user_url(self.url, s.username, s.password))


def _add_user(db: Database, name: str, role: Role, unit: str) -> Staff:
    """What ``user add`` does: the user and their login role, one transaction."""
    u = add_login_user(db, name, role, unit)
    return Staff(u.username, u.password, u.role_name, u.user_id)


@pytest.fixture
def server(pg_url: str) -> Iterator[Server]:
    owner = open_database(pg_url)
    staff: dict[str, Staff] = {}
    try:
        staff["anna"] = _add_user(owner, "anna", Role.CASEWORKER, "Södertälje")
        staff["erik"] = _add_user(owner, "erik", Role.CASEWORKER, "Södertälje")
        staff["lena"] = _add_user(owner, "lena", Role.TEAM_LEADER, "Södertälje")
        staff["adam"] = _add_user(owner, "adam", Role.ADMIN, "Södertälje")
        cli = Actor.cli()
        service = CaseService(db=owner, actor=cli)
        with owner.begin() as s:
            unit_id = s.scalar(text("SELECT id FROM unit WHERE name = 'Södertälje'"))
        a = MemberRole.APPLICANT
        cases = {
            "c_anna": make_case(
                service, unit_id, (a, KARIN), caseworker_id=staff["anna"].user_id
            ).id,
            "c_erik": make_case(
                service, unit_id, (a, BENGT), caseworker_id=staff["erik"].user_id
            ).id,
        }
        journal = JournalService(db=owner, actor=cli)
        for case_id in cases.values():
            journal.add_note(case_id, NOTE, sign=True)
        yield Server(pg_url, owner, staff, cases)
    finally:
        owner.dispose()
        with psycopg.connect(_admin(pg_url), autocommit=True) as conn:
            for s in staff.values():
                conn.execute(f'DROP ROLE IF EXISTS "{s.role_name}"')  # type: ignore[arg-type]


def _admin(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _scram_matches(verifier: str, password: str) -> bool:
    """RFC 5802/7677: StoredKey = H(HMAC(PBKDF2(password, salt, i), "Client Key"))."""
    m = re.fullmatch(r"SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)", verifier)
    assert m is not None, "not a SCRAM-SHA-256 verifier"
    iterations, salt, stored = int(m[1]), base64.b64decode(m[2]), m[3]
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    return base64.b64encode(hashlib.sha256(client_key).digest()).decode() == stored


def test_user_add_creates_a_scram_login_role_in_the_group(server: Server) -> None:
    with psycopg.connect(_admin(server.url)) as conn:
        for who, group in [("anna", "fokus_caseworker"), ("lena", "fokus_team_leader")]:
            s = server.staff[who]
            verifier, can_login, member_of = conn.execute(
                "SELECT a.rolpassword, a.rolcanlogin, array(SELECT g.rolname "
                "FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
                "WHERE m.member = a.oid) "
                "FROM pg_authid a WHERE a.rolname = %s",
                (s.role_name,),
            ).fetchone()  # type: ignore[misc]
            assert can_login and member_of == [group]
            assert _scram_matches(verifier, s.password)
            assert not _scram_matches(verifier, s.password + "x")
    with server.owner.begin() as s:
        roles = s.execute(text("SELECT username, db_role FROM app_user")).all()
    assert {r.db_role for r in roles} == {s.role_name for s in server.staff.values()}


def test_each_caseworker_sees_only_their_cases_in_psql(server: Server) -> None:
    for who, mine in [("anna", "c_anna"), ("erik", "c_erik")]:
        with server.psql(who) as conn:
            cases = {r[0] for r in conn.execute("SELECT id FROM fs_case")}
            notes = {r[0] for r in conn.execute("SELECT case_id FROM contact_entry")}
            members = {r[0] for r in conn.execute("SELECT case_id FROM household_member")}
            persons = conn.execute("SELECT count(*) FROM person").fetchone()
            assert cases == notes == members == {server.cases[mine]}, who
            assert persons == (1,)
    with server.psql("lena") as conn:
        assert {r[0] for r in conn.execute("SELECT id FROM fs_case")} == set(server.cases.values())


def test_audit_log_is_insert_only_and_hashes_are_hidden(server: Server) -> None:
    with server.psql("anna") as conn:
        assert conn.execute("SELECT count(*) FROM audit_event").fetchone()[0] > 0  # type: ignore[index]
        for sql in (
            "UPDATE audit_event SET action = 'x'",
            "DELETE FROM audit_event",
            "TRUNCATE audit_event",
            "SELECT password_hash FROM app_user",
            "UPDATE fs_case SET unit_id = unit_id WHERE false",  # allowed, but:
        ):
            if sql.startswith("UPDATE fs_case"):
                conn.execute(sql)  # type: ignore[arg-type]
                continue
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql)  # type: ignore[arg-type]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):  # no DELETE grant on cases
            conn.execute("DELETE FROM fs_case")
    with server.psql("adam") as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT id FROM fs_case")
        assert conn.execute("SELECT count(*) FROM unit").fetchone() == (1,)


def test_fokus_connected_as_the_user(server: Server) -> None:
    db = server.fokus("anna")
    try:
        with db.begin() as s:
            me = pg_roles.connected_user(s, "ws-anna")
        assert me.username == server.staff["anna"].username and me.role is Role.CASEWORKER
        view = CaseViewService(db=db, actor=me.actor)
        assert view.load(server.cases["c_anna"]).case_number.startswith("FS-")
        with pytest.raises(OutsideScopeError):
            view.load(server.cases["c_erik"])
        # Without the service's check the database still refuses: the row is not there.
        with pytest.raises(NotFoundError):
            CaseViewService(db=db, actor=Actor.cli()).load(server.cases["c_erik"])
        assert RegisterService(db=db, actor=me.actor).count(RegisterFilter()) == 1
        assert RegisterService(db=db, actor=Actor.cli()).count(RegisterFilter()) == 1
        JournalService(db=db, actor=me.actor).add_note(server.cases["c_anna"], NOTE, sign=True)
        with db.begin() as s:  # anna's own new case: INSERT policies and the case number
            unit_id = s.scalar(
                text("SELECT unit_id FROM app_user WHERE id = :u"), {"u": me.user_id}
            )
        ref = make_case(
            CaseService(db=db, actor=me.actor),
            unit_id,
            (MemberRole.APPLICANT, MARIE),
            caseworker_id=me.user_id,
        )
        assert view.load(ref.id).case_number == ref.case_number
    finally:
        db.dispose()
    with server.owner.begin() as s:
        assert verify_chain(s).ok  # the appends under the narrow grant kept the chain whole


def test_emergency_access_through_fokus_opens_the_row_in_the_database(server: Server) -> None:
    db = server.fokus("erik")
    try:
        with db.begin() as s:
            me = pg_roles.connected_user(s, "ws-erik")
        AccessService(db=db, actor=me.actor).request_emergency_access(
            server.cases["c_anna"], REASON
        )
        CaseViewService(db=db, actor=me.actor).load(server.cases["c_anna"])
    finally:
        db.dispose()
    with server.psql("erik") as conn:
        assert {r[0] for r in conn.execute("SELECT id FROM fs_case")} == set(server.cases.values())
    with server.psql("anna") as conn:  # anna sees nothing of erik's grants
        assert conn.execute("SELECT count(*) FROM emergency_access").fetchone() == (0,)
    with server.psql("lena") as conn:
        assert conn.execute("SELECT count(*) FROM emergency_access").fetchone() == (1,)


def test_a_role_without_an_account_is_refused(server: Server) -> None:
    with server.owner.begin() as s:
        s.execute(
            text("UPDATE app_user SET active = false WHERE id = :u"),
            {"u": server.staff["erik"].user_id},
        )
    with server.psql("erik") as conn:
        assert conn.execute("SELECT count(*) FROM fs_case").fetchone() == (0,)
    db = server.fokus("erik")
    try:
        with (
            pytest.raises(pg_roles.NoFokusAccountError, match="inget aktivt|hör inte"),
            db.begin() as s,
        ):
            pg_roles.connected_user(s, "ws")
    finally:
        db.dispose()


def test_cli_user_add_creates_the_login_role_and_db_grants_refreshes(pg_url: str) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    username = f"cli{uuid.uuid4().hex[:8]}"
    role = pg_roles.db_role_name(username)

    def fokus(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "main.py", *args, "--url", pg_url],
            cwd=root,
            input=stdin,
            capture_output=True,
            text=True,
            env=dict(os.environ),
            timeout=120,
        )

    try:
        added = fokus(
            "user", "add", username, "--name", "Cli Test", "--role", "arbetsledare",
            "--unit", "Nykvarn", stdin="hemligt-lösen-1\n",
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
        assert f"databasroll {role}" in added.stderr
        with psycopg.connect(_admin(pg_url)) as conn:
            verifier = conn.execute(
                "SELECT rolpassword FROM pg_authid WHERE rolname = %s", (role,)
            ).fetchone()
        assert verifier is not None and _scram_matches(str(verifier[0]), "hemligt-lösen-1")
        again = fokus(
            "user", "add", username, "--name", "Cli Test", "--role", "arbetsledare",
            "--unit", "Nykvarn", stdin="hemligt-lösen-1\n",
        )  # fmt: skip
        assert again.returncode != 0 and "Traceback" not in again.stderr
        grants = fokus("db", "grants")
        assert grants.returncode == 0, grants.stderr
        assert "policyer och rättigheter förnyade" in grants.stdout
    finally:
        with psycopg.connect(_admin(pg_url), autocommit=True) as conn:
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')  # type: ignore[arg-type]


def test_the_laptop_only_tables_get_nothing_on_the_server(server: Server) -> None:
    """The laptop file's bookkeeping, the change log too, is handled by name: no grant to any
    group role, RLS on, and not among the tables ``db grants`` reports as left without."""
    with server.owner.begin() as s:
        report = pg_roles.install_access_control(s.connection())
        assert not set(pg_roles.LAPTOP_TABLES) & set(report.ungranted)
        assert "offline_local_change" in pg_roles.LAPTOP_TABLES
        for table in pg_roles.LAPTOP_TABLES:
            assert s.scalar(
                text("SELECT relrowsecurity FROM pg_class WHERE relname = :t"), {"t": table}
            ), table
            for group in pg_roles.ALL_ROLES:
                granted = s.scalar(
                    text("SELECT has_table_privilege(:g, :t, 'SELECT,INSERT,UPDATE,DELETE')"),
                    {"g": group, "t": table},
                )
                assert not granted, (group, table)
    with server.psql("anna") as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT count(*) FROM offline_local_change")


def test_group_roles_created_by_two_databases_at_once(pg_url: str) -> None:
    """Roles belong to the cluster: two migrations at the same moment (parallel test
    workers on a new server, two databases set up together) both find a group role
    missing; the one that commits second must not fail on the first one's role."""
    import threading

    from sqlalchemy import create_engine

    roles = (f"fokus_race_{uuid.uuid4().hex[:8]}",)
    engine = create_engine(pg_url)
    errors: list[BaseException] = []
    try:
        with engine.connect() as first:
            first.begin()
            pg_roles._ensure_group_roles(first, roles)  # created, not yet committed

            def second() -> None:
                try:
                    with engine.begin() as conn:  # waits on the first one's row, then
                        pg_roles._ensure_group_roles(conn, roles)
                except BaseException as exc:  # noqa: BLE001 - asserted below
                    errors.append(exc)

            thread = threading.Thread(target=second)
            thread.start()
            thread.join(1.0)  # it is waiting on the uncommitted role (or already failed)
            first.commit()
            thread.join(30)
            assert not thread.is_alive()
        assert errors == []
        with engine.connect() as conn:
            n = conn.scalar(
                text("SELECT count(*) FROM pg_roles WHERE rolname = :r"), {"r": roles[0]}
            )
        assert n == 1
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP ROLE IF EXISTS "{roles[0]}"'))
        engine.dispose()


def test_a_downgrade_leaves_another_databases_login_roles_alone(
    server: Server, pg_template: str
) -> None:
    """Login roles belong to the server, not the database: downgrading one database past
    0017 resets JIT on its own users' roles only (it reset every Fokus role on the
    server, and a parallel test worker's role check then failed)."""
    from services.db import create_db_engine, downgrade, upgrade

    name = f"fokus_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_admin(server.url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')  # type: ignore[arg-type]
    other = make_url(server.url).set(database=name).render_as_string(hide_password=False)
    engine = create_db_engine(other)
    try:
        with server.psql("anna") as conn:
            assert conn.execute("SHOW jit").fetchone() == ("off",)
        downgrade(engine, "0016")
        with server.psql("anna") as conn:
            assert conn.execute("SHOW jit").fetchone() == ("off",)  # the other database's
        upgrade(engine)
    finally:
        engine.dispose()
        with psycopg.connect(_admin(server.url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]
