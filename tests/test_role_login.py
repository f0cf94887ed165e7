"""The desktop app on PostgreSQL connects as the logged-in user's own database role.

The server URL names no database user (what the settings dialog saves); the
login dialog's user name and password open the connection as ``fokus_u_…``,
and every session of the app then runs as that role, under its grants and
row-level security. The test server authenticates with ``trust`` (see
tests/test_pg_roles.py), so the password itself is not what these tests
prove; they prove *which role* the app's sessions run as and what that role
sees.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from PySide6.QtCore import QDeadlineTimer, QTimer
from PySide6.QtWidgets import QApplication
from sqlalchemy import select, text
from sqlalchemy.engine import URL, make_url

from models import AuditEvent
from services import session_lock
from services.audit import Actor
from services.auth import WRONG_CREDENTIALS, LoginError
from services.db import Database
from services.errors import DatabaseUnavailableError
from services.pg_roles import NoFokusAccountError
from services.register import RegisterService
from services.role_login import (
    INACTIVE,
    is_per_user_url,
    login_as_role,
    role_url,
    verify_password_as_role,
)
from services.search import RegisterFilter
from tests.test_pg_roles import Server, _admin, server  # noqa: F401  (the fixture)

pytestmark = pytest.mark.postgres


def _server_url(url: str) -> str:
    """The server and database only: no user, no password (the settings dialog's form)."""
    parsed = make_url(url)
    return URL.create(
        parsed.drivername, host=parsed.host, port=parsed.port, database=parsed.database
    ).render_as_string(hide_password=False)


def _events(srv: Server, action: str) -> list[dict[str, Any]]:
    with srv.owner.begin() as s:
        return [
            {"user_id": e.user_id, **json.loads(e.detail)}
            for e in s.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            )
        ]


def test_urls() -> None:
    assert is_per_user_url("postgresql+psycopg://db.kommun.se:5432/fokus")
    assert not is_per_user_url("postgresql+psycopg://fokus_owner@db.kommun.se/fokus")
    assert not is_per_user_url("sqlite:////tmp/fokus.db")
    assert role_url("postgresql+psycopg://h:5432/fokus", "Anna.Berg") == (
        "postgresql+psycopg://fokus_u_anna_berg@h:5432/fokus"
    )
    assert role_url("postgresql+psycopg://:pw@h/fokus?sslmode=verify-full", "anna") == (
        "postgresql+psycopg://fokus_u_anna@h/fokus?sslmode=verify-full"
    )


def test_login_connects_as_the_users_own_role(server: Server) -> None:  # noqa: F811
    anna = server.staff["anna"]
    url = _server_url(server.url)
    db, user = login_as_role(url, anna.username.upper(), anna.password, "ws-anna")
    try:
        assert user.user_id == anna.user_id and user.username == anna.username
        with db.begin() as s:
            assert s.execute(text("SELECT current_user, session_user")).one() == (
                anna.role_name,
                anna.role_name,
            )
        # A new pooled connection is the same role (the password stays in the engine).
        db.engine.dispose()
        with db.begin() as s:
            assert s.scalar(text("SELECT session_user")) == anna.role_name
        # The database, not the service, limits what is seen: no scope in the service here.
        assert RegisterService(db=db, actor=Actor.cli()).count(RegisterFilter()) == 1
        assert RegisterService(db=db, actor=user.actor).count(RegisterFilter()) == 1
        for shown in (db.url, str(db.engine.url), repr(db.engine.url)):
            assert anna.password not in shown
        assert db.url == role_url(url, anna.username)
    finally:
        db.dispose()
    logins = _events(server, "login_success")
    assert logins[-1]["user_id"] == anna.user_id and logins[-1]["db_role"] is True
    assert anna.password not in json.dumps([str(e) for e in logins])

    lena = server.staff["lena"]
    db, leader = login_as_role(url, lena.username, lena.password, "ws-lena")
    try:
        assert RegisterService(db=db, actor=Actor.cli()).count(RegisterFilter()) == 2
    finally:
        db.dispose()


def test_refusals_are_one_swedish_line(server: Server) -> None:  # noqa: F811
    url = _server_url(server.url)
    with pytest.raises(LoginError) as unknown:
        login_as_role(url, "finns_inte", "vad-som-helst", "ws")
    assert unknown.value.message == WRONG_CREDENTIALS  # same words as a wrong password
    with pytest.raises(LoginError, match="ange ditt användarnamn"):
        login_as_role(url, "  ", "x", "ws")

    erik = server.staff["erik"]
    with psycopg.connect(_admin(server.url), autocommit=True) as conn:
        conn.execute(f'ALTER ROLE "{erik.role_name}" NOLOGIN')  # type: ignore[arg-type]
    with pytest.raises(LoginError) as inactive:
        login_as_role(url, erik.username, erik.password, "ws")
    assert inactive.value.message == INACTIVE

    # A login role whose Fokus account was deactivated (LOGIN left on by mistake).
    with psycopg.connect(_admin(server.url), autocommit=True) as conn:
        conn.execute(f'ALTER ROLE "{erik.role_name}" LOGIN')  # type: ignore[arg-type]
    with server.owner.begin() as s:
        s.execute(text("UPDATE app_user SET active = false WHERE id = :u"), {"u": erik.user_id})
    with pytest.raises(NoFokusAccountError, match="hör inte till något aktivt Fokus-konto"):
        login_as_role(url, erik.username, erik.password, "ws")

    down = make_url(url).set(port=1).render_as_string(hide_password=False)
    with pytest.raises(DatabaseUnavailableError, match="^databasen kan inte nås") as info:
        login_as_role(down, erik.username, "hemligt-lösen-9", "ws")
    assert "hemligt" not in info.value.message


def test_the_idle_lock_lets_the_server_check_the_password(server: Server) -> None:  # noqa: F811
    anna = server.staff["anna"]
    url = _server_url(server.url)
    db, user = login_as_role(url, anna.username, anna.password, "ws-anna")
    try:
        verify_password_as_role(url, user, anna.password)
        assert session_lock.unlock_as_role(db, url, user, anna.password) is user
        with psycopg.connect(_admin(server.url), autocommit=True) as conn:
            conn.execute(f'ALTER ROLE "{anna.role_name}" NOLOGIN')  # type: ignore[arg-type]
        with pytest.raises(LoginError, match="inaktiverat"):
            session_lock.unlock_as_role(db, url, user, anna.password)
    finally:
        db.dispose()
    unlocks = _events(server, "session_unlocked")
    failures = _events(server, "login_failure")
    assert unlocks[-1]["user_id"] == anna.user_id
    assert failures[-1]["user_id"] == anna.user_id and failures[-1]["reason"] == "idle_lock"


@pytest.fixture
def shown(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    import ui.startup

    lines: list[str] = []
    monkeypatch.setattr(ui.startup, "show_fatal", lines.append)
    monkeypatch.setattr(ui.startup, "install_swedish", lambda app: [])
    monkeypatch.setattr("ui.crash.install_crash_handler", lambda: None)
    return lines


@pytest.fixture
def app_db(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """The Database and user the real start-up hands to the main window."""
    import ui.startup

    seen: dict[str, Any] = {}
    original = ui.startup._main_loop

    def spy(app: Any, db: Database, user: Any, *args: Any, **kwargs: Any) -> int:
        seen["db"], seen["user"], seen["server_url"] = db, user, kwargs.get("server_url")
        return original(app, db, user, *args, **kwargs)

    monkeypatch.setattr(ui.startup, "_main_loop", spy)
    yield seen


def test_the_real_login_flow_runs_the_app_as_the_caseworkers_role(  # type: ignore[no-untyped-def]
    qtbot,
    shown,
    app_db,
    server,  # noqa: F811
) -> None:
    import ui.startup
    from ui.login_dialog import LoginDialog
    from ui.main_window import MainWindow
    from ui.register_model import COL_NUMBER

    anna = server.staff["anna"]
    url = _server_url(server.url)
    with server.owner.begin() as s:
        numbers = dict(s.execute(text("SELECT id, case_number FROM fs_case")).all())
    before = set(QApplication.topLevelWidgets())
    for leftover in before:
        leftover.hide()
    deadline = QDeadlineTimer(60_000)
    seen: dict[str, Any] = {}

    def retry(step: Any, problem: str) -> bool:
        if deadline.hasExpired():
            seen["problem"] = problem
            QApplication.instance().exit(1)  # type: ignore[union-attr]
            return False
        QTimer.singleShot(50, step)
        return True

    def login() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, LoginDialog):
            retry(login, "no login dialog")
            return
        seen["label"] = dialog.database.text()
        if "wrong" not in seen:  # first a user name that has no role: refused in the dialog
            seen["wrong"] = True
            dialog.username.setText("ingen_sadan")
            dialog.password.setText("fel")
            dialog.login_button.click()
            QTimer.singleShot(50, after_refusal)
            return
        dialog.username.setText(anna.username)
        dialog.password.setText(anna.password)
        dialog.login_button.click()
        QTimer.singleShot(50, inspect)

    def after_refusal() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, LoginDialog) or not dialog.error.isVisible():
            retry(after_refusal, "no refusal shown")
            return
        seen["refusal"] = dialog.error.text()
        login()

    def inspect() -> None:
        windows = [
            w
            for w in QApplication.topLevelWidgets()
            if isinstance(w, MainWindow) and w.isVisible() and w not in before
        ]
        model = windows[0].register.table.model() if windows else None
        if model is None or model.rowCount() == 0:
            retry(inspect, "no register rows")
            return
        db: Database = app_db["db"]
        with db.begin() as s:  # the app's own sessions
            seen["current_user"] = s.scalar(text("SELECT current_user"))
            seen["db_url"] = db.url
            seen["visible_cases"] = s.scalar(text("SELECT count(*) FROM fs_case"))
        seen["rows"] = [model.data(model.index(r, COL_NUMBER)) for r in range(model.rowCount())]
        windows[0].close()

    def give_up() -> None:
        seen.setdefault("problem", "timeout")
        for widget in QApplication.topLevelWidgets():
            widget.close()
        QApplication.instance().exit(1)  # type: ignore[union-attr]

    QTimer.singleShot(0, login)
    safety = QTimer()
    safety.setSingleShot(True)
    safety.timeout.connect(give_up)
    safety.start(90_000)
    try:
        code = ui.startup.run_app(url=url)
    finally:
        safety.stop()
    assert shown == [] and "problem" not in seen, seen
    assert code == 0
    assert seen["refusal"] == WRONG_CREDENTIALS
    assert seen["label"] == f"PostgreSQL: {url}"
    assert seen["current_user"] == anna.role_name, seen
    assert app_db["user"].user_id == anna.user_id and app_db["server_url"] == url
    assert seen["visible_cases"] == 1  # row-level security: only anna's case exists for her
    assert seen["rows"] == [numbers[server.cases["c_anna"]]]


def test_an_administrator_on_their_own_role_manages_login_roles(server: Server) -> None:  # noqa: F811
    """No CREATEROLE for user roles: the owner's definer functions do just what is needed."""
    from models.codes import Role
    from services.pg_roles import db_role_name
    from services.user_admin import UserAdminService, UserChanges
    from services.users import UserInput
    from tests.test_pg_roles import _scram_matches

    adam = server.staff["adam"]
    url = _server_url(server.url)
    newcomer = f"nina{adam.username[-6:]}"
    role = db_role_name(newcomer)
    db, admin = login_as_role(url, adam.username, adam.password, "ws-adam")
    try:
        with db.begin() as s:
            assert s.scalar(text("SELECT session_user")) == adam.role_name
            assert not s.scalar(
                text("SELECT rolcreaterole FROM pg_roles WHERE rolname = session_user")
            )
        service = UserAdminService(db=db, actor=admin.actor)
        row = service.add_user(
            UserInput(
                username=newcomer,
                full_name="Nina Öst",
                role=Role.CASEWORKER,
                unit_name="Södertälje",
                password="ninas-lösen-1",
            )
        )
        row = service.reset_password(row.id, row.version, "ninas-lösen-2")
        row = service.update_user(row.id, row.version, UserChanges(role=Role.TEAM_LEADER))
        row = service.set_active(row.id, row.version, False)
        with psycopg.connect(_admin(server.url)) as conn:
            can_login, verifier, groups = conn.execute(
                "SELECT a.rolcanlogin, a.rolpassword, array(SELECT g.rolname "
                "FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
                "WHERE m.member = a.oid) FROM pg_authid a WHERE a.rolname = %s",
                (role,),
            ).fetchone()  # type: ignore[misc]
            settings = conn.execute(
                "SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_roles r "
                "ON r.oid = s.setrole WHERE r.rolname = %s AND s.setdatabase = 0",
                (role,),
            ).fetchone()
        assert settings == (["jit=off"],)  # services.pg_roles.LOGIN_ROLE_SETTINGS
        assert not can_login and groups == ["fokus_team_leader"]
        assert _scram_matches(verifier, "ninas-lösen-2")
        # The functions do nothing else: no other role names, no plain passwords.
        for bad in (
            "SELECT fokus_login_role_create('postgres2', 'fokus_admin', 'SCRAM-SHA-256$x')",
            "SELECT fokus_login_role_create('fokus_u_x', 'pg_read_all_data', 'SCRAM-SHA-256$x')",
            "SELECT fokus_login_role_create('fokus_u_x', 'fokus_admin', 'klartext')",
            "SELECT fokus_login_role_alter('postgres', 'SCRAM-SHA-256$x', NULL, NULL)",
        ):
            with (
                pytest.raises(Exception, match="invalid login role request|not a Fokus"),  # noqa: B017
                db.begin() as s,
            ):
                s.execute(text(bad))
    finally:
        db.dispose()
        with psycopg.connect(_admin(server.url), autocommit=True) as conn:
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')  # type: ignore[arg-type]
    anna = server.staff["anna"]
    with (
        psycopg.connect(
            host="127.0.0.1", dbname=make_url(server.url).database, user=anna.role_name
        ) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute(
            "SELECT fokus_login_role_create('fokus_u_zz', 'fokus_admin', 'SCRAM-SHA-256$x')"
        )


def test_each_roles_windows_work_on_their_own_role(server: Server, tmp_path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """What the main window and the role menus call, run on each user's own connection:
    a missing grant would be a crash in the app, so each is exercised once."""
    from datetime import date

    from services.audit_review import AuditReviewService
    from services.case_view import CaseViewService
    from services.caseload import CaseloadService
    from services.dashboard import DashboardService
    from services.followup import FollowUpService
    from services.summary import SummaryOptions, SummaryService
    from services.targets import TargetService
    from services.user_admin import UserAdminService

    url = _server_url(server.url)
    with server.owner.begin() as s:
        unit_id = s.scalar(text("SELECT id FROM unit WHERE name = 'Södertälje'"))
        c_anna = s.scalar(
            text("SELECT case_number FROM fs_case WHERE id = :c"), {"c": server.cases["c_anna"]}
        )
    for who in ("anna", "lena", "adam"):
        staff = server.staff[who]
        db, user = login_as_role(url, staff.username, staff.password, f"ws-{who}")
        try:
            register = RegisterService(db=db, actor=user.actor)
            count = register.count(RegisterFilter())
            assert len(register.window(RegisterFilter())) == count
            assert count == {"anna": 1, "lena": 2, "adam": 0}[who]
            if who == "adam":
                assert len(UserAdminService(db=db, actor=user.actor).list_users()) == 4
                continue
            FollowUpService(db=db, actor=user.actor).items()
            view = CaseViewService(db=db, actor=user.actor).load(server.cases["c_anna"])
            assert view.case_number == c_anna
            summaries = SummaryService(db=db, actor=user.actor)
            summaries.preview(server.cases["c_anna"], SummaryOptions())
            if who == "lena":
                DashboardService(db=db, actor=user.actor).load(unit_id)
                CaseloadService(db=db, actor=user.actor).caseload(unit_id)
                TargetService(db=db, actor=user.actor).targets(unit_id)
                review = AuditReviewService(db=db, actor=user.actor)
                assert review.case_log(c_anna)
                review.export_period(date(2020, 1, 1), date(2030, 1, 1), tmp_path / "logg.csv")
        finally:
            db.dispose()
