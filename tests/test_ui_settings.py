"""Administration → Databasanslutning: real files, a real server, the test in a worker.

The dialog is driven with qtbot; "Testa anslutning" runs through the real
BackgroundRunner against a real SQLite file and the real PostgreSQL server,
and "Spara" writes the real settings file that ``resolve_url`` reads.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QDialog
from sqlalchemy.engine import make_url

from services.audit import Actor
from services.connection_settings import (
    ConnectionChoice,
    ConnectionSettingsService,
    save_choice,
)
from services.db import create_db_engine, head_revision, open_database, resolve_url, upgrade
from services.errors import ValidationError
from services.settings import load_settings, settings_path
from ui.settings_controller import SettingsController, SettingsMenu
from ui.settings_dialog import SettingsDialog
from ui.worker import BackgroundRunner

pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise"),
]


@pytest.fixture
def runner() -> Iterator[BackgroundRunner]:
    r = BackgroundRunner()
    yield r
    r.wait()


def _dialog(qtbot, runner, chosen: list[str] | None = None):  # type: ignore[no-untyped-def]
    dialog = SettingsDialog()
    qtbot.addWidget(dialog)
    picks = list(chosen or [])
    controller = SettingsController(
        dialog=dialog,
        service=ConnectionSettingsService(),
        runner=runner,
        choose=lambda parent, current: picks.pop(0) if picks else None,
    )
    dialog.show()
    return dialog, controller


def _test(qtbot, dialog: SettingsDialog, controller: SettingsController) -> tuple[bool, str]:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(controller.tested, timeout=20_000) as blocker:
        qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
        if controller.busy:  # a quick file may already be done
            assert not dialog.test_button.isEnabled() and not dialog.save_button.isEnabled()
    assert not controller.busy and dialog.test_button.isEnabled()
    ok, message = blocker.args
    if (
        message
        and not dialog.error.isVisible()
        and not any(label.isVisible() for label in dialog.field_errors().values())
    ):
        assert dialog.test_result.isVisible() and dialog.test_result.text() == message
        assert "\n" not in message
    return ok, message


def test_local_file_test_and_save_keeps_the_rest_of_the_settings(  # type: ignore[no-untyped-def]
    qtbot, runner, tmp_path
) -> None:
    settings_path().parent.mkdir(parents=True)
    settings_path().write_text(
        '# Fokus på den här datorn\nidle_lock_minutes = 7\nmunicipality = "Södertälje"\n',
        encoding="utf-8",
    )
    good = tmp_path / "filer" / "fokus-lokal.db"
    good.parent.mkdir()
    open_database(f"sqlite:///{good}").dispose()
    old = tmp_path / "filer" / "gammal.db"
    engine = create_db_engine(f"sqlite:///{old}")
    upgrade(engine, "0002")
    engine.dispose()
    junk = tmp_path / "filer" / "skräp.db"
    junk.write_bytes(b"this is not a database file at all" * 100)

    dialog, controller = _dialog(qtbot, runner, [str(good), str(old), str(junk)])
    assert dialog.local.isChecked() and not dialog.server_box.isEnabled()
    assert dialog.path.text().endswith("fokus.db")  # the default file, nothing saved yet
    assert "standardfilen" in dialog.in_use.text()

    qtbot.mouseClick(dialog.browse_button, Qt.MouseButton.LeftButton)
    assert dialog.path.text() == str(good)
    ok, message = _test(qtbot, dialog, controller)
    assert ok and message == (
        f"Anslutningen fungerar: databasfilen {good} har aktuell schemaversion ({head_revision()})"
    )
    qtbot.mouseClick(dialog.browse_button, Qt.MouseButton.LeftButton)
    ok, message = _test(qtbot, dialog, controller)
    assert ok and "äldre schemaversion (0002, aktuell" in message and "uppgraderas" in message
    qtbot.mouseClick(dialog.browse_button, Qt.MouseButton.LeftButton)
    ok, message = _test(qtbot, dialog, controller)
    assert not ok and message == f"Filen {junk} är ingen Fokus-databas (eller är skadad)"

    dialog.path.setText("relativ/fokus.db")
    ok, message = _test(qtbot, dialog, controller)
    assert not ok and dialog.field_errors()["fil"].text() == "ange hela sökvägen till databasfilen"

    dialog.path.setText(str(good))
    with qtbot.waitSignal(controller.saved, timeout=5000) as saved:
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert saved.args == [f"sqlite:///{good}"]
    assert dialog.result() == QDialog.DialogCode.Accepted
    settings = load_settings()
    assert settings.database_url == f"sqlite:///{good}"
    assert settings.idle_lock_minutes == 7 and settings.municipality == "Södertälje"
    assert settings_path().read_text(encoding="utf-8").startswith("# Fokus på den här datorn\n")
    assert resolve_url(None).url == f"sqlite:///{good}"  # what the next start opens


def test_server_fields_are_checked_and_a_dead_server_is_one_line(  # type: ignore[no-untyped-def]
    qtbot, runner
) -> None:
    dialog, controller = _dialog(qtbot, runner)
    dialog.server.setChecked(True)
    assert dialog.server_box.isEnabled() and not dialog.local_box.isEnabled()
    dialog.host.setText("")
    dialog.database.setText("fokus; drop")
    ok, _message = _test(qtbot, dialog, controller)
    assert not ok
    assert dialog.field_errors()["värd"].text() == "måste fyllas i"
    assert dialog.field_errors()["databas"].text().startswith("ogiltigt databasnamn")

    dialog.host.setText("127.0.0.1")
    dialog.port.setValue(1)
    dialog.database.setText("fokus")
    ok, message = _test(qtbot, dialog, controller)
    assert not ok and message == "Servern 127.0.0.1:1 svarar inte (nere, eller fel värd eller port)"
    assert not dialog.field_errors()["värd"].isVisible()


def test_a_slow_server_does_not_block_the_gui_thread(qtbot, runner) -> None:  # type: ignore[no-untyped-def]
    silent = socket.socket()  # accepts connections (the kernel's backlog), never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    port = silent.getsockname()[1]
    dialog, controller = _dialog(qtbot, runner)
    dialog.server.setChecked(True)
    dialog.host.setText("127.0.0.1")
    dialog.port.setValue(port)
    dialog.database.setText("fokus")
    ticks: list[int] = []
    timer = QTimer()
    timer.setInterval(50)
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start()
    try:
        with qtbot.waitSignal(controller.tested, timeout=20_000) as blocker:
            qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
            assert controller.busy and dialog.test_result.text() == "Testar anslutningen …"
    finally:
        timer.stop()
        silent.close()
    ok, message = blocker.args
    assert not ok and message == f"Servern 127.0.0.1:{port} svarar inte (tidsgränsen gick ut)"
    assert len(ticks) > 20  # the GUI thread kept running for the seconds the test took


def test_saving_never_writes_a_user_or_password(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    url = save_choice(
        ConnectionChoice("server", host="db.kommun.se", port=5433, database="fokus"), path
    )
    assert url == "postgresql+psycopg://db.kommun.se:5433/fokus"
    assert path.read_text(encoding="utf-8") == f'database_url = "{url}"\n'
    save_choice(ConnectionChoice("local", path=str(tmp_path / "a b.db")), path)
    assert load_settings(path).database_url == f"sqlite:///{tmp_path / 'a b.db'}"
    path.write_text("[extra]\nx = 1\n", encoding="utf-8")
    save_choice(ConnectionChoice("server", host="h", port=1, database="d"), path)
    assert load_settings(path).database_url == "postgresql+psycopg://h:1/d"  # top level
    with pytest.raises(ValidationError, match="port: ska vara ett heltal"):
        save_choice(ConnectionChoice("server", host="h", port=0, database="d"), path)


@pytest.mark.postgres
def test_real_server_as_the_users_own_role_and_wrong_database(  # type: ignore[no-untyped-def]
    qtbot, runner, pg_url
) -> None:
    from models.codes import Role
    from services import pg_roles
    from services.users import UserInput, create_user_in

    username = f"ada{uuid.uuid4().hex[:6]}"
    password = "Adas-lösen-1"
    db = open_database(pg_url)
    try:
        with db.begin() as s:
            user = create_user_in(
                s,
                Actor.cli(),
                UserInput(
                    username=username,
                    full_name="Ada Admin",
                    role=Role.ADMIN,
                    unit_name="IT",
                    password=password,
                ),
            )
            role = pg_roles.create_login_role(s, Actor.cli(), user, password)
    finally:
        db.dispose()
    url = make_url(pg_url)
    try:
        dialog, controller = _dialog(qtbot, runner)
        dialog.server.setChecked(True)
        dialog.host.setText(url.host or "")
        dialog.port.setValue(url.port or 5432)
        dialog.database.setText(url.database or "")
        dialog.test_username.setText(username)
        dialog.test_password.setText(password)
        where = f"{url.host}:{url.port or 5432}"
        ok, message = _test(qtbot, dialog, controller)
        assert ok and message == (
            f"Anslutningen fungerar: databasen {url.database} på {where} har aktuell "
            f"schemaversion ({head_revision()})"
        )
        dialog.database.setText("fokus_finns_inte")
        ok, message = _test(qtbot, dialog, controller)
        assert not ok and message == (
            f"Servern {where} svarar, men databasen fokus_finns_inte finns inte där (fel databas?)"
        )
        dialog.database.setText(url.database or "")
        with qtbot.waitSignal(controller.saved, timeout=5000):
            qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
        text = settings_path().read_text(encoding="utf-8")
        assert text == f'database_url = "postgresql+psycopg://{where}/{url.database}"\n'
        assert password not in text and username not in text and "postgres@" not in text
    finally:
        with psycopg.connect(
            url.set(drivername="postgresql").render_as_string(hide_password=False),
            autocommit=True,
        ) as conn:
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')  # type: ignore[arg-type]


def test_the_menu_opens_the_dialog_for_the_administrator(qtbot, runner) -> None:  # type: ignore[no-untyped-def]
    from ui.main_window import MainWindow

    main = MainWindow(user_label="Ada Admin (administratör)")
    qtbot.addWidget(main)
    assert not main.settings_action.isVisible()
    menu = SettingsMenu(main_window=main, service=ConnectionSettingsService(), runner=runner)
    assert main.admin_menu.menuAction().isVisible() and main.settings_action.isVisible()
    assert main.settings_action.text() == "&Databasanslutning …"
    with qtbot.waitSignal(menu.opened, timeout=2000):
        main.settings_action.trigger()
    first = menu.dialog
    assert first is not None and first.isVisible()
    assert first.windowTitle() == "Fokus – databasanslutning"
    main.settings_action.trigger()
    assert menu.dialog is first
    first.reject()
    qtbot.waitUntil(lambda: menu.dialog is None, timeout=2000)
