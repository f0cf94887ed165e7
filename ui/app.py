"""Start of the desktop application: check for a display, then hand over to Qt.

Qt is imported only past the display check, so a missing display gives one
Swedish line instead of Qt's misleading abort about ``xcb-cursor0``.
"""

from __future__ import annotations

import os
import sys

NO_DISPLAY = "fokus: ingen skärm hittades (DISPLAY saknas); sätt QT_QPA_PLATFORM=offscreen för test"


def _display_available() -> bool:
    if os.environ.get("QT_QPA_PLATFORM"):
        return True
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def _import_domain_before_qt() -> None:
    """Import the Qt-free layers that the login needs before PySide6 is loaded.

    Once PySide6 is loaded, its import hook reads the source of every module
    imported after it (looking for ``from __feature__``). SQLAlchemy, Alembic
    and our models and services are several hundred modules: importing them
    first saves about a tenth of the CPU time to the login dialog (measured
    with ``python main.py bench``, key ``start_s``). What only the main window
    needs (the register, case windows, reportlab for summaries) is imported
    after the login, not here.
    """
    import services.auth  # noqa: F401
    import services.db  # noqa: F401


def run_gui(*, url: str | None) -> int:
    """Open the database and show the main window; returns the exit code."""
    if not _display_available():
        print(NO_DISPLAY, file=sys.stderr)
        return 3
    _import_domain_before_qt()
    from ui.startup import run_app

    return run_app(url=url)


def run_demo() -> int:
    """Open (and on first use create) the demo database, logged in as a demo caseworker."""
    if not _display_available():
        print(NO_DISPLAY, file=sys.stderr)
        return 3
    from ui.startup import run_demo_app

    return run_demo_app()
