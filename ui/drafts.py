"""Autosave of a contact note form into the user's encrypted draft store.

While a :class:`ui.contact_dialog.ContactDialog` has unsaved changes, its
content is written to :class:`services.drafts.DraftStore` every few seconds
(``interval_ms``, default 5 s). When the note is saved, or the user discards
it on purpose, the draft is deleted; when the window closes or the program
crashes it stays, and the same form opened again gets it back with a notice.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QLabel, QVBoxLayout

from services.drafts import DraftStore
from ui.case_forms import find_data
from ui.contact_dialog import ContactDialog

log = logging.getLogger(__name__)
DEFAULT_INTERVAL_MS = 5_000


def draft_key(case_id: uuid.UUID, mode: str, note_id: uuid.UUID | None) -> str:
    """``note:new:<case>`` for a new note, ``note:edit:<note>`` / ``note:correct:<note>``."""
    return f"note:{mode}:{note_id or case_id}"


def form_payload(d: ContactDialog) -> dict[str, Any]:
    return {
        "when": d.when.text(),
        "agency": str(d.agency.currentData() or ""),
        "method": str(d.method.currentData() or ""),
        "counterpart": d.counterpart.text(),
        "members": [str(p) for p in d.selected_members()],
        "text": d.text.toPlainText(),
        "follow_up": d.follow_up.text(),
        "child_perspective": d.child_perspective.isChecked(),
    }


def restore(d: ContactDialog, payload: dict[str, Any]) -> None:
    """Put a draft's content back into the form (unknown members and codes are skipped)."""
    d.when.setText(str(payload.get("when", d.when.text())))  # as typed; checked on save
    for combo, name in ((d.agency, "agency"), (d.method, "method")):
        index = find_data(combo, payload.get(name))
        if index >= 0:
            combo.setCurrentIndex(index)
    d.counterpart.setText(str(payload.get("counterpart", "")))
    chosen = {str(p) for p in payload.get("members", [])}
    for person_id, box in d.member_boxes.items():
        box.setChecked(str(person_id) in chosen)
    d.text.setPlainText(str(payload.get("text", "")))
    d.follow_up.setText(str(payload.get("follow_up", "")))
    if d.child_perspective.isEnabled():
        d.child_perspective.setChecked(bool(payload.get("child_perspective")))


class NoteDraftAutosaver(QObject):
    """Saves one contact form's content as an encrypted draft while it is unsaved."""

    def __init__(
        self,
        *,
        dialog: ContactDialog,
        store: DraftStore,
        key: str,
        interval_ms: int = DEFAULT_INTERVAL_MS,
    ) -> None:
        super().__init__(dialog)
        self._dialog = dialog
        self._store = store
        self.key = key
        self.restored = False
        self.saves = 0
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.save_now)
        existing = store.load(key)
        if existing is not None:
            restore(dialog, existing.payload)
            dialog.dirty = True
            self.restored = True
            notice = QLabel(
                self.tr("Återställt osparat utkast från %s.")
                % existing.saved_at.astimezone().strftime("%Y-%m-%d %H:%M")
            )
            notice.setAccessibleName(self.tr("Återställt utkast"))
            notice.setStyleSheet("background: #fff4d6; padding: 4px;")
            layout = dialog.layout()
            assert isinstance(layout, QVBoxLayout)
            layout.insertWidget(0, notice)
            self.notice = notice
        dialog.text.textChanged.connect(self._timer.start)
        dialog.counterpart.textEdited.connect(self._timer.start)
        dialog.accepted.connect(self._on_saved)
        dialog.rejected.connect(self._on_discarded)
        self._timer.start()

    def save_now(self) -> None:
        if not shiboken6.isValid(self._dialog) or not self._dialog.dirty:
            return
        try:
            self._store.save(self.key, form_payload(self._dialog))
            self.saves += 1
        except OSError:
            log.exception("draft could not be written")  # never the text itself

    def _on_saved(self) -> None:
        self._timer.stop()
        self._store.delete(self.key)

    def _on_discarded(self) -> None:
        """Avbryt (after "kasta ändringarna?"): the user threw the text away on purpose."""
        self._timer.stop()
        self._store.delete(self.key)
