"""The connection indicator and a save on a killed connection (issue 6, item 8).

The PostgreSQL test drives the real case window: a note typed into "Ny kontakt"
is saved while the backend serving the save is terminated mid-transaction
(``pg_terminate_backend`` from an admin connection). The form must stay open
with its text and its encrypted draft, the status bar must say "Frånkopplad",
no crash dialog may appear, and once the probe finds the server again
("Ansluten") the same Spara saves the note exactly once.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QWidget
from sqlalchemy import func, select

from models import AuditEvent, ContactEntry
from models.codes import MemberRole
from services.audit import Actor, verify_chain
from services.case_view import CaseViewService
from services.cases import CaseEditService, CaseService
from services.db import Database, open_database
from services.drafts import DraftStore
from services.errors import ConnectionLostError
from services.journal import JournalService
from services.register import RegisterService
from services.targets import TargetService
from tests.factories import KARIN, make_case
from tests.test_pg_connection import Killer, _admin
from ui.case_controller import CaseServices, CaseWindows
from ui.connection_status import ConnectionMonitor, install_connection_status
from ui.contact_dialog import ContactDialog
from ui.main_window import MainWindow
from ui.register_model import RegisterModel
from ui.worker import BackgroundRunner

pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise"),
]

WAIT = 15_000
TEXT = "Samtal med Karin – hyran för mars är betald, ny ansökan i april"


@pytest.fixture(autouse=True)
def _no_crash_dialog(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any crash or question box fails the test instead of hanging it."""
    from PySide6.QtWidgets import QMessageBox

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"unexpected message box: {args[1:3]}")

    for name in ("critical", "question", "warning"):
        monkeypatch.setattr(QMessageBox, name, refuse)


class FlakyProbe:
    """A server that does not answer the first ``down`` probes, then does."""

    def __init__(self, down: int) -> None:
        self.down = down
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1
        if self.calls <= self.down:
            raise ConnectionLostError("databasen kan inte nås (test)")


def test_the_monitor_backs_off_while_down_and_reports_the_way_back(qtbot) -> None:  # type: ignore[no-untyped-def]
    probe = FlakyProbe(down=3)
    monitor = ConnectionMonitor(probe=probe, check_ms=60_000, retry_ms=20, max_retry_ms=80)
    states: list[bool] = []
    monitor.changed.connect(states.append)
    monitor.report_lost(ConnectionLostError())
    monitor.report_lost(ConnectionLostError())  # a second failure does not probe again at once
    assert states == [False] and not monitor.connected and monitor.probes == 0
    qtbot.waitUntil(lambda: monitor.connected, timeout=WAIT)
    assert states == [False, True]
    assert probe.calls == monitor.probes == 4  # three refused, one answered
    # Connected: the next check is a minute away, so nothing more reaches the server.
    qtbot.wait(300)
    assert monitor.probes == 4
    monitor.stop()
    monitor.wait()


def test_a_lost_connection_without_a_handler_is_no_crash(qtbot, runner) -> None:  # type: ignore[no-untyped-def]
    lost: list[BaseException] = []
    runner.connection_lost.connect(lost.append)

    def fail() -> None:
        raise ConnectionLostError()

    runner.run(fail, on_done=lambda _r: None)  # no on_error: a bug would be re-raised
    qtbot.waitUntil(lambda: bool(lost), timeout=WAIT)
    assert isinstance(lost[0], ConnectionLostError)

    def bug() -> None:
        raise KeyError("a real bug")

    seen: list[BaseException] = []
    runner.run(bug, on_done=lambda _r: None, on_error=seen.append)
    qtbot.waitUntil(lambda: bool(seen), timeout=WAIT)
    assert len(lost) == 1  # other errors do not touch the indicator


@pytest.mark.postgres
def test_a_note_saved_on_a_killed_connection_stays_in_the_form_and_saves_later(  # type: ignore[no-untyped-def]
    qtbot, pg_url: str, runner: BackgroundRunner, tmp_path: Path
) -> None:
    db: Database = open_database(pg_url)
    try:
        _run(qtbot, db, pg_url, runner, tmp_path)
    finally:
        db.dispose()


def _run(qtbot, db: Database, pg_url: str, runner: BackgroundRunner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from services.users import get_or_create_unit

    actor = Actor.cli()
    with db.begin() as s:
        unit_id = get_or_create_unit(s, actor, "Försörjningsstöd Södertälje").id
    ref = make_case(
        CaseService(db=db, actor=actor),
        unit_id,
        (MemberRole.APPLICANT, KARIN),
        opened_on=date(2024, 5, 2),
    )
    window = MainWindow(user_label="Test (handläggare)")
    qtbot.addWidget(window)
    monitor = install_connection_status(
        window=window,
        label=window.connection_label,
        runner=runner,
        probe=db.ping,
        check_ms=60_000,
        retry_ms=400,
    )
    assert window.connection_label.text() == "● Ansluten"
    store = DraftStore(directory=tmp_path / "drafts", username=actor.username)
    host = QWidget()
    qtbot.addWidget(host)
    windows = CaseWindows(
        source=CaseViewService(db=db, actor=actor),
        runner=runner,
        parent_window=host,
        services=CaseServices(
            cases=CaseService(db=db, actor=actor),
            edits=CaseEditService(db=db, actor=actor),
            journal=JournalService(db=db, actor=actor),
            targets=TargetService(db=db, actor=actor),
            drafts=store,
            draft_interval_ms=50,
        ),
    )
    controller = windows.open(ref.id)
    qtbot.waitUntil(lambda: controller.detail is not None, timeout=WAIT)
    view = controller.parent()
    controller.confirm_discard = lambda: True

    view.new_note_action.trigger()  # type: ignore[attr-defined]
    dialog = controller.dialog
    assert isinstance(dialog, ContactDialog)
    dialog.agency.setCurrentIndex(dialog.agency.findData("fk"))
    dialog.member_boxes[controller.detail.members[0].person_id].setChecked(True)
    dialog.text.setPlainText(TEXT)
    qtbot.waitUntil(lambda: controller.autosaver.saves >= 1, timeout=WAIT)
    key = controller.autosaver.key
    events_before = _count(db, AuditEvent)

    # The line drops in the middle of the save: the note row has been sent.
    killer = Killer(db, _admin(pg_url))
    killer.arm(after=r"INSERT INTO contact_entry")
    with qtbot.waitSignal(controller.action_failed, timeout=WAIT) as failed:
        dialog.save_button.click()
    assert killer.killed
    assert "anslutningen till databasservern bröts; inget sparades" in failed.args[0]
    # The form is still open, with the text, a clear message and Spara enabled again.
    assert controller.dialog is dialog and dialog.isVisible()
    assert dialog.text.toPlainText() == TEXT
    assert "inget sparades" in dialog.general_error.text()
    assert dialog.save_button.isEnabled()
    assert store.load(key) is not None and store.load(key).payload["text"] == TEXT  # type: ignore[union-attr]
    # The status bar says so at once.
    assert window.connection_label.text() == "● Frånkopplad"
    assert "Anslutningen till databasen bröts" in window.statusBar().currentMessage()
    # Nothing was half-written.
    assert _count(db, ContactEntry, ContactEntry.case_id == ref.id) == 0
    assert _count(db, AuditEvent) == events_before

    # The probe finds the server again (only that backend was killed): "Ansluten".
    qtbot.waitUntil(lambda: monitor.connected, timeout=WAIT)
    assert window.connection_label.text() == "● Ansluten"
    assert monitor.probes == 1

    # Spara again: saved once, the form closes, the draft is gone.
    with qtbot.waitSignal(controller.action_done, timeout=WAIT):
        dialog.save_button.click()
    assert controller.dialog is None
    assert [n.text for n in controller.detail.notes] == [TEXT]
    assert _count(db, ContactEntry, ContactEntry.case_id == ref.id) == 1
    assert store.load(key) is None
    with db.begin() as s:
        assert verify_chain(s).ok
    view.close()  # type: ignore[attr-defined]
    monitor.stop()
    monitor.wait()
    runner.wait()
    QCoreApplication.processEvents()


def _count(db: Database, what: object, *where: object) -> int:
    with db.begin() as s:
        return int(s.scalar(select(func.count()).select_from(what).where(*where)) or 0)  # type: ignore[arg-type]


@pytest.mark.postgres
def test_the_main_window_shows_the_indicator_for_a_server_only(  # type: ignore[no-untyped-def]
    qtbot, pg_url: str, runner: BackgroundRunner, tmp_path: Path
) -> None:
    from types import SimpleNamespace

    from ui.startup import install_connection_indicator

    for url, shown in ((f"sqlite:///{tmp_path / 'local.db'}", False), (pg_url, True)):
        db = open_database(url)
        try:
            window = MainWindow(user_label="Test")
            qtbot.addWidget(window)
            window.show()
            model = RegisterModel(source=RegisterService(db=db), runner=runner)
            parts = SimpleNamespace(window=window, model=model, register=None)
            monitor = install_connection_indicator(db, runner, parts)  # type: ignore[arg-type]
            assert (monitor is not None) is shown
            assert window.connection_label.isVisible() is shown
            if monitor is not None:
                assert window.connection_label.text() == "● Ansluten"
                monitor.check_now()  # the real probe against the real server
                qtbot.waitUntil(lambda m=monitor: m.probes == 1 and not m._probing, timeout=WAIT)
                assert monitor.connected
                monitor.stop()
                monitor.wait()
            window.close()
        finally:
            db.dispose()


class Proxy:
    """A TCP hop between Fokus and PostgreSQL that the test can cut, like a network.

    ``down()`` drops every open connection (no goodbye to either side) and refuses
    new ones; ``up()`` listens again on the same port.
    """

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self.port = 0
        self.up()

    def up(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            _close(listener)
        with self._lock:
            dropped, self._open = self._open, []
        for s in dropped:
            _close(s)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self._target)
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._open += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            _close(a)
            _close(b)


def _close(s: socket.socket) -> None:
    with contextlib.suppress(OSError):
        s.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        s.close()


@pytest.mark.postgres
def test_a_network_outage_during_a_save_and_the_way_back(  # type: ignore[no-untyped-def]
    qtbot, pg_url: str, runner: BackgroundRunner, tmp_path: Path
) -> None:
    """The network between the workstation and the server goes away in the middle of a
    save and stays away: the form keeps the note, the indicator stays Frånkopplad while
    the probes back off, a save tried meanwhile fails the same clear way; when the network
    is back the indicator says Ansluten and the same Spara saves the note once."""
    from sqlalchemy import event
    from sqlalchemy.engine import make_url

    from services.users import get_or_create_unit

    real = make_url(pg_url)
    proxy = Proxy(real.host or "127.0.0.1", real.port or 5432)
    db = open_database(real.set(port=proxy.port).render_as_string(hide_password=False))
    try:
        actor = Actor.cli()
        with db.begin() as s:
            unit_id = get_or_create_unit(s, actor, "Försörjningsstöd Södertälje").id
        ref = make_case(CaseService(db=db, actor=actor), unit_id, (MemberRole.APPLICANT, KARIN))
        window = MainWindow(user_label="Test (handläggare)")
        qtbot.addWidget(window)
        monitor = install_connection_status(
            window=window,
            label=window.connection_label,
            runner=runner,
            probe=db.ping,
            check_ms=60_000,
            retry_ms=100,
            max_retry_ms=400,
        )
        host = QWidget()
        qtbot.addWidget(host)
        windows = CaseWindows(
            source=CaseViewService(db=db, actor=actor),
            runner=runner,
            parent_window=host,
            services=CaseServices(
                cases=CaseService(db=db, actor=actor),
                edits=CaseEditService(db=db, actor=actor),
                journal=JournalService(db=db, actor=actor),
                targets=TargetService(db=db, actor=actor),
                drafts=DraftStore(directory=tmp_path / "drafts", username=actor.username),
                draft_interval_ms=50,
            ),
        )
        controller = windows.open(ref.id)
        qtbot.waitUntil(lambda: controller.detail is not None, timeout=WAIT)
        controller.confirm_discard = lambda: True
        controller.parent().new_note_action.trigger()  # type: ignore[attr-defined]
        dialog = controller.dialog
        assert isinstance(dialog, ContactDialog)
        dialog.agency.setCurrentIndex(dialog.agency.findData("fk"))
        dialog.member_boxes[controller.detail.members[0].person_id].setChecked(True)
        dialog.text.setPlainText(TEXT)

        def cut(_conn: Any, _cur: Any, statement: str, *_a: Any) -> None:
            if statement.lstrip().upper().startswith("INSERT INTO CONTACT_ENTRY"):
                proxy.down()  # the note row is about to go out: the network goes away

        event.listen(db.engine, "before_cursor_execute", cut)
        with qtbot.waitSignal(controller.action_failed, timeout=WAIT) as failed:
            dialog.save_button.click()
        event.remove(db.engine, "before_cursor_execute", cut)
        assert "inget sparades" in failed.args[0]
        assert controller.dialog is dialog and dialog.text.toPlainText() == TEXT
        assert window.connection_label.text() == "● Frånkopplad"

        # Still down: the probes fail and back off; a second try fails the same clear way.
        qtbot.waitUntil(lambda: monitor.probes >= 3, timeout=WAIT)
        assert not monitor.connected
        with qtbot.waitSignal(controller.action_failed, timeout=WAIT) as again:
            dialog.save_button.click()
        assert "anslutningen till databasservern bröts" in again.args[0]
        assert dialog.text.toPlainText() == TEXT

        proxy.up()  # the network is back
        qtbot.waitUntil(lambda: monitor.connected, timeout=WAIT)
        assert window.connection_label.text() == "● Ansluten"
        with qtbot.waitSignal(controller.action_done, timeout=WAIT):
            dialog.save_button.click()
        assert [n.text for n in controller.detail.notes] == [TEXT]
        with db.begin() as s:
            count = s.scalar(
                select(func.count()).select_from(ContactEntry).where(ContactEntry.case_id == ref.id)
            )
            assert count == 1 and verify_chain(s).ok
        controller.parent().close()  # type: ignore[attr-defined]
        monitor.stop()
        monitor.wait()
        runner.wait()
        QCoreApplication.processEvents()
    finally:
        db.dispose()
        proxy.down()


def test_a_lost_connection_that_escapes_a_slot_is_one_line_not_an_internal_error(  # type: ignore[no-untyped-def]
    qtbot, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from PySide6.QtWidgets import QMessageBox

    from ui import crash

    shown: list[tuple[str, str]] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda _p, title, text: shown.append((title, text)))
    lost = ConnectionLostError()
    crash._hook(ConnectionLostError, lost, None)
    assert shown == [("Fokus – ingen anslutning", lost.message)]
    assert not (tmp_path / "data" / "logs" / "fokus-errors.log").exists()  # not a bug report
    with pytest.raises(AssertionError, match="unexpected message box"):  # a bug still is one
        crash._hook(KeyError, KeyError("x"), None)


def test_a_register_window_lost_with_the_connection_is_fetched_again_when_it_is_back(  # type: ignore[no-untyped-def]
    qtbot, pg_url: str, runner: BackgroundRunner, tmp_path: Path
) -> None:
    """The register's window fails while the network is down (the model then stops
    asking); when the probe finds the server again the register fetches by itself."""
    from PySide6.QtCore import QSettings
    from sqlalchemy.engine import make_url

    from services.auth import demo_login
    from services.demo import seed_demo
    from ui.startup import build_main_window, refetch_register_when_back
    from ui.view_state import ViewState

    real = make_url(pg_url)
    proxy = Proxy(real.host or "127.0.0.1", real.port or 5432)
    db = open_database(real.set(port=proxy.port).render_as_string(hide_password=False))
    try:
        seed_demo(db, Actor.cli(), cases=40, seed=3, as_of=date(2026, 11, 20))
        user = demo_login(db, "test")
        parts = build_main_window(
            service=RegisterService(db=db, actor=user.actor),
            user=user,
            state=ViewState(QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat)),
            db_label="PostgreSQL – test",
            runner=runner,
        )
        qtbot.addWidget(parts.window)
        monitor = install_connection_status(
            window=parts.window,
            label=parts.window.connection_label,
            runner=runner,
            probe=db.ping,
            check_ms=60_000,
            retry_ms=100,
            max_retry_ms=400,
        )
        refetch_register_when_back(monitor, parts)
        model = parts.model
        qtbot.waitUntil(lambda: model.rowCount() > 0 and not model.loading, timeout=WAIT)
        shown = model.rowCount()

        proxy.down()
        with qtbot.waitSignal(model.load_failed, timeout=WAIT):
            parts.register.refresh()
        qtbot.waitUntil(lambda: not monitor.connected, timeout=WAIT)
        assert model.rowCount() == 0  # nothing to show while the server is away

        proxy.up()
        qtbot.waitUntil(lambda: monitor.connected, timeout=WAIT)
        qtbot.waitUntil(
            lambda: model.rowCount() > 0 and model.row_at(0) is not None and not model.loading,
            timeout=WAIT,
        )
        assert model.rowCount() == shown
        monitor.stop()
        monitor.wait()
        runner.wait()
        QCoreApplication.processEvents()
    finally:
        db.dispose()
        proxy.down()
