"""From start to main window: application, Swedish, database, first run or login, window.

Two ways in: :func:`run_app` (the configured database, with a login) and
:func:`run_demo_app` (a separate demo file in the data directory, made on
first use, logged in as a demo caseworker). Everything the windows need is
built here and handed to them; nothing reaches for a global.
"""

from __future__ import annotations

import gc
import logging
import os
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, TypeVar, cast

from PySide6.QtCore import QEventLoop, Qt
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox, QProgressDialog

from models.codes import Role
from services.audit import Actor
from services.auth import SessionUser, authenticate, demo_login, first_run, needs_first_run
from services.db import Database, describe_url, open_database, resolve_url, sqlite_path
from services.errors import FokusError
from services.settings import Settings, data_dir, load_settings
from ui.first_run_dialog import FirstRunController, FirstRunDialog
from ui.i18n import install_swedish
from ui.login_dialog import BusyDialog, LoginController, LoginDialog
from ui.view_state import ViewState
from ui.worker import BackgroundRunner

# What the main window needs (the register, case windows, summaries with reportlab,
# the idle lock) is imported after the login, where it is used: the login dialog
# shows without it (issue 8, ``start_s``).
if TYPE_CHECKING:
    from services.register import RegisterService
    from services.summary import SummaryService
    from ui.case_controller import CaseServices, CaseSource, CaseWindows
    from ui.connection_status import ConnectionMonitor
    from ui.idle_lock import IdleLock
    from ui.main_controller import MainWindowController
    from ui.main_window import MainWindow
    from ui.register_controller import RegisterController, SearchAudit
    from ui.register_model import RegisterModel
    from ui.summary_controller import SummaryDialogs

log = logging.getLogger(__name__)

DEMO_CASES = 2000
DEMO_SEED = 1
OPENING_DATABASE = "Öppnar databasen …"
BUSY_DIALOG_DELAY_MS = 400  # a local file opens faster than this: no flicker
T = TypeVar("T")


# How long a thread running Python keeps the GIL from another that waits for it (Python's
# default is 5 ms). Qt calls into Python on the GUI thread for every paint, event filter
# and model callback, each needing the GIL a worker may hold: with 1 ms the register's
# first rows were painted 0.7 ms sooner (12.9 -> 12.2 ms at the median of 60 alternated
# openings, docs/performance.md): a waiting thread asks for the GIL after 1 ms, not 5.
SWITCH_INTERVAL_S = 0.001


def create_application() -> QApplication:
    """The one QApplication, Swedish (locale and Qt's own strings)."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(sys.argv[:1])
    app.setApplicationName("Fokus")
    app.setOrganizationName("Fokus")
    install_swedish(app)  # the translator is a child of the application: it lives as long
    return app


def show_fatal(message: str) -> None:
    """One Swedish line in a message box (expected errors before the main window)."""
    QMessageBox.critical(None, "Fokus", message)


def workstation() -> str:
    return socket.gethostname()


def database_label(db: Database) -> str:
    """What the status bar says about the database: its kind and where (no password)."""
    path = sqlite_path(db.url)
    if path is not None:
        return f"SQLite: {path}"
    return f"PostgreSQL: {describe_url(db.url)}"


def sign_in(
    db: Database, state: ViewState, *, station: str, runner: BackgroundRunner
) -> SessionUser | None:
    """First-run dialog on an empty database, otherwise the login dialog; None if cancelled.

    The password checks run in ``runner``'s workers, so the dialogs stay responsive.
    """
    if needs_first_run(db):

        def create(username: str, full_name: str, password: str, unit: str) -> SessionUser:
            first_run(db, username, full_name, password, unit, workstation=station)
            return authenticate(db, username, password, station)

        fr_dialog = FirstRunDialog()
        fr = FirstRunController(dialog=fr_dialog, create=create, runner=runner)
        if fr_dialog.exec() != QDialog.DialogCode.Accepted or fr.user is None:
            return None
        state.last_username = fr.user.username
        state.sync()
        return fr.user
    dialog = LoginDialog(database_label=database_label(db))
    login = LoginController(
        dialog=dialog,
        authenticate=lambda u, p: authenticate(db, u, p, station),
        state=state,
        runner=runner,
    )
    if os.environ.get("FOKUS_BENCH_EXIT_AT") == "login":  # python main.py bench: start-up time
        from ui.bench_hook import exit_when_shown

        exit_when_shown(dialog)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    return login.user


def sign_in_as_role(
    server_url: str, state: ViewState, *, station: str, runner: BackgroundRunner
) -> tuple[Database, SessionUser] | None:
    """The login dialog for a server where every user connects as their own role.

    The check (in ``runner``'s worker) opens the connection with the typed user
    name and password, so the server verifies the password; the :class:`Database`
    it opens is the one the app then uses. None if cancelled. A server that is
    down or has an old schema is said in the dialog, which stays open.
    """
    from services.role_login import login_as_role

    opened: list[Database] = []

    def check(username: str, password: str) -> SessionUser:
        db, user = login_as_role(server_url, username, password, station)
        opened.append(db)
        return user

    dialog = LoginDialog(database_label=f"PostgreSQL: {describe_url(server_url)}")
    login = LoginController(dialog=dialog, authenticate=check, state=state, runner=runner)
    accepted = dialog.exec() == QDialog.DialogCode.Accepted and login.user is not None
    runner.wait()  # a check still running when the dialog was cancelled
    keep = opened[-1] if accepted and opened else None
    for db in opened:  # cancelled after a successful check: close what it opened
        if db is not keep:
            db.dispose()
    if keep is None or login.user is None:
        return None
    return keep, login.user


def wait_in_background(runner: BackgroundRunner, fn: Callable[[], T], *, label: str) -> T:
    """Run ``fn`` in a worker and wait for it without freezing: returns its result or raises.

    A small "busy" dialog with ``label`` appears when the work takes longer
    than a moment (a quick local file shows nothing). For start-up work that
    must finish before there is any window to use.
    """
    dialog = BusyDialog(label, delay_ms=BUSY_DIALOG_DELAY_MS)
    loop = QEventLoop()
    outcome: list[tuple[bool, Any]] = []

    def finish(ok: bool, value: Any) -> None:
        outcome.append((ok, value))
        loop.quit()

    runner.run(fn, on_done=lambda r: finish(True, r), on_error=lambda e: finish(False, e))
    if not outcome:
        loop.exec()
    dialog.finish()
    dialog.deleteLater()
    ok, value = outcome[0]
    if not ok:
        raise value
    return cast(T, value)


@dataclass
class MainParts:
    """The main window and what keeps it working (held so nothing is collected early)."""

    window: MainWindow
    controller: MainWindowController
    register: RegisterController
    model: RegisterModel
    runner: BackgroundRunner
    # The summary print dialogs: a case window's print request opens one through this.
    summaries: SummaryDialogs | None = None
    # The case windows (None when cases cannot be opened): drafts are flushed at logout.
    cases: CaseWindows | None = None


def draft_interval_ms(settings: Settings) -> int:
    """The draft autosave interval from the settings; one Swedish line when unusable."""
    value = settings.draft_autosave_seconds
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 300:
        raise FokusError(
            f"inställningen draft_autosave_seconds ska vara 1–300 sekunder (är {value!r})"
        )
    return value * 1000


def case_services(db: Database, actor: Actor, *, draft_ms: int = 5_000) -> CaseServices:
    """The services a case window edits through, for ``actor``; note drafts are
    autosaved every ``draft_ms`` milliseconds."""
    from services.cases import CaseEditService, CaseService
    from services.drafts import DraftStore
    from services.journal import JournalService
    from services.longterm import LongTermService
    from services.support import SupportService
    from services.targets import TargetService
    from ui.case_controller import CaseServices

    try:
        drafts: DraftStore | None = DraftStore(
            directory=data_dir() / "drafts", username=actor.username
        )
    except (OSError, ValueError):
        logging.getLogger(__name__).exception("the draft store could not be opened")
        drafts = None  # notes still save; only the autosave is missing
    return CaseServices(
        cases=CaseService(db=db, actor=actor),
        edits=CaseEditService(db=db, actor=actor),
        journal=JournalService(db=db, actor=actor),
        targets=TargetService(db=db, actor=actor),
        support=SupportService(db=db, actor=actor),
        drafts=drafts,
        draft_interval_ms=draft_ms,
        clocks=LongTermService(db=db, actor=actor),
    )


def build_main_window(
    *,
    service: RegisterService,
    user: SessionUser,
    state: ViewState,
    db_label: str,
    runner: BackgroundRunner,
    case_source: CaseSource | None = None,
    case_services: CaseServices | None = None,
    summary_service: SummaryService | None = None,
    search_audit: SearchAudit | None = None,
) -> MainParts:
    """Wire the main window for ``user``: view, model, controllers.

    With ``case_source``, activating a case in the register opens its case window.
    With ``summary_service``, Arkiv offers the summary print dialog for the selected
    case and, for an arbetsledare, the batch export of the register's filter.
    With ``search_audit``, every settled search is audited (without its text).
    """
    from ui.batch_export import BatchExportController
    from ui.case_controller import CaseWindows
    from ui.main_controller import MainWindowController
    from ui.main_window import MainWindow
    from ui.register_controller import RegisterController
    from ui.register_model import FirstPicture, RegisterModel
    from ui.summary_controller import SummaryDialogs

    who = f"{user.full_name} ({user.role_label})"
    window = MainWindow(user_label=who, demo=user.is_demo)
    model = RegisterModel(source=service, runner=runner, parent=window)
    register = RegisterController(
        view=window.register,
        model=model,
        counter=service,
        runner=runner,
        state=state,
        user_id=user.user_id,
        auditor=search_audit,
        parent=window,
    )
    cases = (
        CaseWindows(source=case_source, runner=runner, parent_window=window, services=case_services)
        if case_source is not None
        else None
    )
    if cases is not None and case_services is not None:
        window.new_case_action.setVisible(True)
        window.new_case_requested.connect(lambda: cases.new_case(user.unit_id, user.user_id))
        cases.case_created.connect(lambda _case_id: register.refresh())
        cases.case_changed.connect(lambda _case_id: register.refresh())
    summaries = batch = None
    if summary_service is not None:
        summaries = SummaryDialogs(service=summary_service, runner=runner, parent=window)
        batch = BatchExportController(
            parent_widget=window,
            service=summary_service,
            runner=runner,
            current_filter=register.current_filter,
        )
        if cases is not None:
            # Ctrl+P in a case window opens the same print dialog as Arkiv's entry.
            dialogs = summaries
            cases.print_requested.connect(lambda case_id: dialogs.open_for_case(case_id, window))
    controller = MainWindowController(
        window=window,
        register=register,
        state=state,
        database_label=db_label,
        cases=cases,
        summaries=summaries,
        batch_export=batch,
    )
    FirstPicture(window, model)  # shown, the window is painted once its first rows are in
    return MainParts(window, controller, register, model, runner, summaries, cases)


def idle_lock_minutes(settings: Settings) -> int:
    """The idle lock's minutes from the settings; one Swedish line when the value is unusable."""
    value = settings.idle_lock_minutes
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 480:
        raise FokusError(f"inställningen idle_lock_minutes ska vara 1–480 minuter (är {value!r})")
    return value


def start_idle_lock(
    app: QApplication,
    db: Database,
    user: SessionUser,
    runner: BackgroundRunner,
    parts: MainParts,
    *,
    minutes: int,
    server_url: str | None = None,
) -> IdleLock:
    """Lock the windows after ``minutes`` without input; "Logga ut" there quits Fokus.

    With ``server_url`` the session runs as the user's own role, and the server
    checks the password to unlock (the role cannot read password hashes)."""
    from services import session_lock
    from ui.idle_lock import install_idle_lock

    def verify(password: str) -> SessionUser:
        if server_url is not None:
            return session_lock.unlock_as_role(db, server_url, user, password)
        return session_lock.unlock(db, user, password)

    lock = install_idle_lock(
        runner=runner,
        user=user,
        minutes=minutes,
        verify=verify,
        on_locked=lambda: session_lock.record_locked(db, user.actor, idle_minutes=minutes),
        on_logout=lambda: session_lock.record_logout(db, user.actor, reason="idle_lock"),
        parent=parts.window,
    )

    def log_out() -> None:
        if parts.cases is not None:
            parts.cases.save_drafts()  # no question under the lock: what was typed is kept
        parts.controller.save_state()
        # exit(), not quit(): Qt 6's quit() first asks every window to close, and the
        # lock (or an unsaved-changes guard under it) would refuse and keep Fokus running
        app.exit(0)

    lock.logout_requested.connect(log_out)
    return lock


def install_role_menus(
    db: Database, user: SessionUser, runner: BackgroundRunner, parts: MainParts
) -> None:
    """Administration → Användare and Databasanslutning for an administratör, Arbetsledning →
    Logguppföljning for an arbetsledare (the services check the role again on every call;
    the connection settings are this workstation's file, not the database)."""
    if user.role is Role.ADMIN:
        from services.user_admin import UserAdminService
        from ui.user_admin_controller import UserAdminMenu

        UserAdminMenu(
            main_window=parts.window,
            service=UserAdminService(db=db, actor=user.actor),
            runner=runner,
        )
        from services.connection_settings import ConnectionSettingsService
        from ui.settings_controller import SettingsMenu

        SettingsMenu(main_window=parts.window, service=ConnectionSettingsService(), runner=runner)
    elif user.role is Role.TEAM_LEADER:
        from services.audit_review import AuditReviewService
        from ui.audit_review_controller import AuditReviewMenu

        AuditReviewMenu(
            main_window=parts.window,
            service=AuditReviewService(db=db, actor=user.actor),
            runner=runner,
        )
        install_leader_menus(db, user, runner, parts)
    if user.role is not Role.ADMIN:
        install_follow_up_menu(db, user, runner, parts)
        install_long_term_menu(db, user, runner, parts)
        install_emergency_menu(db, user, runner, parts)


def install_emergency_menu(
    db: Database, user: SessionUser, runner: BackgroundRunner, parts: MainParts
) -> None:
    """Arkiv → Nödåtkomst till ärende …: a case outside one's scope, with a stated reason."""
    from services.access import AccessService
    from services.settings import load_settings
    from ui.emergency_access import EmergencyAccessMenu

    EmergencyAccessMenu(
        main_window=parts.window,
        service=AccessService(
            db=db, actor=user.actor, emergency_hours=load_settings().emergency_access_hours
        ),
        runner=runner,
        open_case=parts.register.case_activated.emit,
    )


def install_follow_up_menu(
    db: Database, user: SessionUser, runner: BackgroundRunner, parts: MainParts
) -> None:
    """Visa → Uppföljning: the user's own follow-ups (an arbetsledare may choose the unit)."""
    from services.followup import FollowUpService
    from services.settings import load_settings
    from ui.followup_controller import FollowUpMenu

    FollowUpMenu(
        main_window=parts.window,
        service=FollowUpService(db=db, actor=user.actor, settings=load_settings()),
        runner=runner,
        unit_id=user.unit_id,
        leader=user.role is Role.TEAM_LEADER,
        open_case=parts.register.case_activated.emit,
    )


def install_long_term_menu(
    db: Database, user: SessionUser, runner: BackgroundRunner, parts: MainParts
) -> None:
    """Visa → Långvariga: the user's long-term households, prioritised (an arbetsledare
    may choose the unit)."""
    from services.longterm import LongTermService
    from services.settings import load_settings
    from ui.longterm_controller import LongTermMenu

    LongTermMenu(
        main_window=parts.window,
        service=LongTermService(db=db, actor=user.actor, settings=load_settings()),
        runner=runner,
        user_id=user.user_id,
        unit_id=user.unit_id,
        leader=user.role is Role.TEAM_LEADER,
        open_case=parts.register.case_activated.emit,
    )


def install_leader_menus(
    db: Database, user: SessionUser, runner: BackgroundRunner, parts: MainParts
) -> None:
    """Visa → Översikt, Arbetsledning → Ärendefördelning and Mål, for an arbetsledare."""
    from services.caseload import CaseloadService
    from services.dashboard import DashboardService
    from services.settings import load_settings
    from services.targets import TargetService
    from ui.caseload_controller import CaseloadMenu
    from ui.dashboard_controller import DashboardMenu
    from ui.targets_controller import TargetsMenu

    settings = load_settings()
    DashboardMenu(
        main_window=parts.window,
        service=DashboardService(db=db, actor=user.actor, settings=settings),
        runner=runner,
        unit_id=user.unit_id,
        unit_name=user.unit_name,
    )
    CaseloadMenu(
        main_window=parts.window,
        service=CaseloadService(db=db, actor=user.actor),
        runner=runner,
        unit_id=user.unit_id,
        unit_name=user.unit_name,
    )
    TargetsMenu(
        main_window=parts.window,
        service=TargetService(db=db, actor=user.actor),
        runner=runner,
        unit_id=user.unit_id,
        unit_name=user.unit_name,
    )


def install_connection_indicator(
    db: Database, runner: BackgroundRunner, parts: MainParts
) -> ConnectionMonitor | None:
    """The status bar's Ansluten/Frånkopplad for a database server (not for a local file)."""
    if db.is_sqlite:
        return None
    from ui.connection_status import install_connection_status

    monitor = install_connection_status(
        window=parts.window, label=parts.window.connection_label, runner=runner, probe=db.ping
    )
    refetch_register_when_back(monitor, parts)
    return monitor


def refetch_register_when_back(monitor: ConnectionMonitor, parts: MainParts) -> None:
    """A register window that failed on the lost connection is fetched again once it is back.

    The model stops asking after a failed window (it would fail again at once); without
    this the register stayed empty until Visa → Uppdatera.
    """
    failed = [False]

    def on_failed(_message: str) -> None:
        failed[0] = True

    def on_changed(connected: bool) -> None:
        if connected and failed[0]:
            failed[0] = False
            parts.register.refresh()

    parts.model.load_failed.connect(on_failed)
    monitor.changed.connect(on_changed)


def _main_loop(
    app: QApplication,
    db: Database,
    user: SessionUser,
    state: ViewState,
    runner: BackgroundRunner,
    *,
    idle_minutes: int | None = None,
    draft_ms: int = 5_000,
    server_url: str | None = None,
) -> int:
    from services.case_view import CaseViewService
    from services.register import RegisterService
    from services.search import SearchAuditService
    from services.summary import SummaryService

    parts = build_main_window(
        service=RegisterService(db=db, actor=user.actor),  # lists only what the user may open
        user=user,
        state=state,
        db_label=database_label(db),
        runner=runner,
        case_source=CaseViewService(db=db, actor=user.actor),
        case_services=case_services(db, user.actor, draft_ms=draft_ms),
        summary_service=SummaryService(db=db, actor=user.actor),
        search_audit=SearchAuditService(db=db, actor=user.actor),
    )
    install_role_menus(db, user, runner, parts)
    install_connection_indicator(db, runner, parts)
    if idle_minutes is not None and not user.is_demo:  # the demo user has no password
        start_idle_lock(app, db, user, runner, parts, minutes=idle_minutes, server_url=server_url)
    parts.window.show()
    parts.window.register.search.setFocus()
    freeze_startup_objects()
    return app.exec()


def freeze_startup_objects() -> None:
    """Leave what start-up made out of the garbage collector's work (``gc.freeze``).

    Once the main window is shown, the modules, the mapped models, SQLAlchemy's
    caches and the window with its controllers live as long as the process
    (logging out ends it). Every collection walked them all again; frozen, a
    collection walks only what was made since. Collections run in whichever
    thread happens to allocate, the worker fetching a window included: frozen,
    the register's first rows were painted 0.7 ms sooner (13.1 -> 12.4 ms,
    alternated in one process; docs/performance.md).
    """
    gc.freeze()


def run_app(*, url: str | None) -> int:
    """Open the configured database, sign in, show the register; returns the exit code."""
    from services.role_login import is_per_user_url
    from ui.crash import install_crash_handler

    app = create_application()
    install_crash_handler()
    runner = BackgroundRunner()
    try:
        target = resolve_url(url).url
    except FokusError as exc:
        show_fatal(exc.message)
        return exc.exit_code
    if is_per_user_url(target):
        return _run_as_role(app, target, runner)
    try:  # opening and migrating run in a worker: the server may be slow or down
        db = wait_in_background(runner, lambda: open_database(target), label=OPENING_DATABASE)
    except FokusError as exc:
        show_fatal(exc.message)
        return exc.exit_code
    try:
        state = ViewState.open()
        try:
            settings = load_settings()
            idle_minutes = idle_lock_minutes(settings)
            draft_ms = draft_interval_ms(settings)
            user = sign_in(db, state, station=workstation(), runner=runner)
        except FokusError as exc:
            show_fatal(exc.message)
            return exc.exit_code
        if user is None:
            return 0
        log.info("login user_id=%s", user.user_id)
        return _main_loop(
            app, db, user, state, runner, idle_minutes=idle_minutes, draft_ms=draft_ms
        )
    finally:
        runner.wait()
        db.dispose()


def _run_as_role(app: QApplication, server_url: str, runner: BackgroundRunner) -> int:
    """A server without a configured database user: log in as the user's own role.

    No connection is made before the login: there is no shared account to make it
    with. The login's connection (the user's role, their password in memory only)
    is the one every session of the app uses until it quits.
    """
    state = ViewState.open()
    try:
        settings = load_settings()
        idle_minutes = idle_lock_minutes(settings)
        draft_ms = draft_interval_ms(settings)
        signed_in = sign_in_as_role(server_url, state, station=workstation(), runner=runner)
    except FokusError as exc:
        runner.wait()
        show_fatal(exc.message)
        return exc.exit_code
    if signed_in is None:
        runner.wait()
        return 0
    db, user = signed_in
    try:
        log.info("login user_id=%s as own database role", user.user_id)
        return _main_loop(
            app,
            db,
            user,
            state,
            runner,
            idle_minutes=idle_minutes,
            draft_ms=draft_ms,
            server_url=server_url,
        )
    finally:
        runner.wait()
        db.dispose()


def demo_url() -> str:
    return f"sqlite:///{data_dir() / 'demo.db'}"


def seed_with_progress(db: Database, runner: BackgroundRunner, *, cases: int = DEMO_CASES) -> None:
    """Make the demo cases in a worker while a progress dialog shows how far it has come."""
    from services.demo import seed_demo

    dialog = QProgressDialog("Skapar demoärenden …", "", 0, cases)
    dialog.setWindowTitle("Fokus – DEMO")
    dialog.setCancelButton(None)  # one transaction: stopping halfway would undo it all anyway
    dialog.setWindowModality(Qt.WindowModality.ApplicationModal)
    dialog.setMinimumDuration(0)
    dialog.setAutoClose(False)
    dialog.setValue(0)
    dialog.show()
    loop = QEventLoop()
    outcome: list[BaseException | None] = []
    actor = Actor(username="demo-setup", role=Role.ADMIN, workstation=workstation())

    def done(_result: object) -> None:
        outcome.append(None)
        loop.quit()

    def failed(exc: BaseException) -> None:
        outcome.append(exc)
        loop.quit()

    runner.run_with_progress(
        lambda progress: seed_demo(
            db, actor, cases=cases, seed=DEMO_SEED, as_of=date.today(), progress=progress
        ),
        on_done=done,
        on_error=failed,
        on_progress=lambda n, total: dialog.setValue(n),
    )
    if not outcome:
        loop.exec()
    dialog.close()
    if outcome and outcome[0] is not None:
        raise outcome[0]


def open_demo(runner: BackgroundRunner, *, cases: int = DEMO_CASES) -> Database:
    """Open (and on first use fill) the demo database."""
    from services.register import RegisterService
    from services.search import RegisterFilter

    db = open_database(demo_url())
    try:
        if RegisterService(db=db).count(RegisterFilter()) == 0:
            seed_with_progress(db, runner, cases=cases)
    except BaseException:
        db.dispose()
        raise
    return db


def run_demo_app() -> int:
    """``python main.py demo``: the demo database, logged in as a demo caseworker."""
    from ui.crash import install_crash_handler

    app = create_application()
    install_crash_handler()
    runner = BackgroundRunner()
    try:
        db = open_demo(runner, cases=DEMO_CASES)
    except FokusError as exc:
        show_fatal(exc.message)
        return exc.exit_code
    try:
        user = demo_login(db, workstation())
        state = ViewState.open("ui-state-demo")
        return _main_loop(app, db, user, state, runner)
    except FokusError as exc:
        show_fatal(exc.message)
        return exc.exit_code
    finally:
        runner.wait()
        db.dispose()
