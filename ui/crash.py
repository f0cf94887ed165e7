"""Bugs in the running GUI: full details to the log file, a reference on screen.

Expected errors (:class:`services.errors.FokusError`) should never come here;
they are shown where they happen as one Swedish line. One kind is caught here
as a safety net: a lost database connection
(:class:`services.errors.ConnectionLostError`) that escaped a slot is shown as
that one line, never as an internal error.
"""

from __future__ import annotations

import logging
import sys
import traceback
import uuid
from types import TracebackType

from PySide6.QtWidgets import QApplication, QMessageBox

from services.errors import ConnectionLostError
from services.settings import data_dir

log = logging.getLogger(__name__)


def _write_log(ref: str, text: str) -> str:
    log_dir = data_dir() / "logs"
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
        with (log_dir / "fokus-errors.log").open("a", encoding="utf-8") as fh:
            fh.write(f"--- referens {ref}\n{text}\n")
        return str(log_dir / "fokus-errors.log")
    except OSError:
        return ""


def _hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    if isinstance(exc, ConnectionLostError):
        log.warning("database connection lost (outside a worker): %s", exc.message)
        if QApplication.instance() is not None:
            QMessageBox.warning(None, "Fokus – ingen anslutning", exc.message)
        return
    ref = uuid.uuid4().hex[:8]
    where = _write_log(ref, "".join(traceback.format_exception(exc_type, exc, tb)))
    log.error("internal error, reference %s", ref)
    if QApplication.instance() is not None:
        detail = f"\n\nDetaljer finns i {where}." if where else ""
        QMessageBox.critical(
            None,
            "Fokus – internt fel",
            f"Ett internt fel inträffade (referens {ref}).{detail}\n\n"
            "Det du sparat finns kvar. Kontakta support och ange referensen.",
        )


def install_crash_handler() -> None:
    """Route uncaught exceptions (also those raised in Qt slots) to :func:`_hook`."""
    sys.excepthook = _hook
