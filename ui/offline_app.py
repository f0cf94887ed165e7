"""The desktop app on a laptop copy: ``python main.py gui --offline FILE``.

The login dialog's password opens the encrypted file (the key is derived
from it) and then logs the user in against the copy's own user row; an
expired or revoked copy is refused there with its reason. The main window is
the usual one, with :class:`ui.sync_dialog.OfflineMenu` added.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QDialog

from services.auth import SessionUser, authenticate
from services.case_view import CaseViewService
from services.db import Database, resolve_url
from services.errors import FokusError
from services.offline import open_local, require_case_usable
from services.register import RegisterService
from services.search import SearchAuditService
from services.summary import SummaryService
from ui.login_dialog import LoginController, LoginDialog
from ui.startup import (
    build_main_window,
    case_services,
    create_application,
    freeze_startup_objects,
    show_fatal,
    workstation,
)
from ui.sync_dialog import OfflineMenu, local_functions
from ui.view_state import ViewState
from ui.worker import BackgroundRunner

log = logging.getLogger(__name__)


class OfflineCaseSource:
    """The case window's source on a laptop copy: refuses every case once the checkout
    has expired or was revoked (checked at each opening, in the worker)."""

    def __init__(self, *, inner: CaseViewService, local: Database) -> None:
        self._inner = inner
        self._local = local

    def load(self, case_id: uuid.UUID) -> Any:
        require_case_usable(self._local, case_id)
        return self._inner.load(case_id)

    def __getattr__(self, name: str) -> Any:  # everything else as the real service
        return getattr(self._inner, name)


def run_offline_app(*, local_path: Path, central_url: str | None) -> int:
    """Log in to the laptop copy at ``local_path`` and show the register; returns the exit code."""
    from ui.crash import install_crash_handler

    app = create_application()
    install_crash_handler()
    runner = BackgroundRunner()
    station = workstation()
    opened: dict[str, Database] = {}

    def check(username: str, password: str) -> SessionUser:
        db = opened.get("db") or open_local(local_path, password, allow_expired=False)
        opened["db"] = db
        return authenticate(db, username, password, station)

    try:
        state = ViewState.open()
        dialog = LoginDialog(database_label=f"Offline: {local_path}")
        login = LoginController(dialog=dialog, authenticate=check, state=state, runner=runner)
        if dialog.exec() != QDialog.DialogCode.Accepted or login.user is None:
            return 0
        user, db = login.user, opened["db"]
        log.info("offline login user_id=%s", user.user_id)
        parts = build_main_window(
            service=RegisterService(db=db, actor=user.actor),
            user=user,
            state=state,
            db_label=f"Offline: {local_path}",
            runner=runner,
            case_source=OfflineCaseSource(inner=CaseViewService(db=db, actor=user.actor), local=db),
            # New notes, edits and new cases work offline as online, on the laptop copy.
            case_services=case_services(db, user.actor),
            summary_service=SummaryService(db=db, actor=user.actor),
            search_audit=SearchAuditService(db=db, actor=user.actor),
        )
        OfflineMenu(
            main_window=parts.window,
            runner=runner,
            **local_functions(db, resolve_url(central_url).url, workstation=station),
        )
        parts.window.show()
        freeze_startup_objects()
        return app.exec()
    except FokusError as exc:
        show_fatal(exc.message)
        return exc.exit_code
    finally:
        runner.wait()
        if "db" in opened:
            opened["db"].dispose()
