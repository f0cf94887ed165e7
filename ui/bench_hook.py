"""Start-up timing for ``python main.py bench`` (``FOKUS_BENCH_EXIT_AT=login``).

Kept apart from :mod:`ui.bench` so the hook imports nothing but QtCore: what
it imports would otherwise be counted in the start-up it measures.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QEvent, QObject, QTimer


class _FirstPaint(QObject):
    """Prints ``FOKUS_BENCH login <monotonic>`` once the dialog has painted, then rejects it."""

    _done = False  # a class default: Qt may deliver events while the instance is torn down

    def __init__(self, dialog: QObject) -> None:
        super().__init__(dialog)
        self._dialog = dialog

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if not self._done and event.type() == QEvent.Type.Paint:
            self._done = True
            QTimer.singleShot(0, self._report)
        return False

    def _report(self) -> None:
        print(f"FOKUS_BENCH login {time.monotonic():.6f}", flush=True)
        self._dialog.removeEventFilter(self)
        reject = getattr(self._dialog, "reject", None)
        if callable(reject):
            reject()


def exit_when_shown(dialog: QObject) -> None:
    """Report when ``dialog`` is first painted, on the clock the bench reads, and close it."""
    dialog.installEventFilter(_FirstPaint(dialog))
