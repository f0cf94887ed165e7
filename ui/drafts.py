"""Autosave of the case window's forms into the user's encrypted draft store.

While a form (:class:`ui.case_forms.FormDialog`: a contact note, a member,
a consent, a goal, closing the case, a new case, … — or the Hushåll tab's
inline housing form) has unsaved changes, what was typed is written to
:class:`services.drafts.DraftStore` every few seconds (the setting
``draft_autosave_seconds``, default 5 s). When the form is saved, or the
user discards it on purpose, the draft is deleted; when the window closes,
the user is logged out or the program crashes it stays, and the same form
opened again gets it back with a notice. Drafts live in the author's own
store only, encrypted (see :mod:`services.drafts`).

Draft keys name the form and the row it edits, never its content:
``note:new:<case>``, ``note:edit:<note>``, ``member:edit:<member>``,
``consent:new:<case>``, ``case:new:<unit>`` …
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QLabel, QVBoxLayout

from services.drafts import Draft, DraftStore
from ui.case_forms import FormDialog

log = logging.getLogger(__name__)
DEFAULT_INTERVAL_MS = 5_000

# The forms of a case window with a draft of their own, keyed by the case
# (a new row) or by the row they edit.
CASE_FORMS = ("note:new", "member:new", "reason:new", "consent:new", "goal:new")
CASE_FORMS += ("direction:new", "outcome:new", "month:new", "case:close", "housing")
ROW_FORMS = ("note:edit", "note:correct", "member:edit", "member:end")


def draft_key(case_id: uuid.UUID, mode: str, note_id: uuid.UUID | None) -> str:
    """``note:new:<case>`` for a new note, ``note:edit:<note>`` / ``note:correct:<note>``."""
    return f"note:{mode}:{note_id or case_id}"


def form_key(form: str, ident: uuid.UUID) -> str:
    """``<form>:<id>``, e.g. ``consent:new:<case>`` or ``member:edit:<member>``."""
    return f"{form}:{ident}"


def case_draft_keys(
    case_id: uuid.UUID, notes: list[tuple[uuid.UUID, bool]], members: list[uuid.UUID]
) -> list[str]:
    """Every draft key a case window may have left: ``notes`` are (id, signed).

    A signed note may still have an edit draft (it was signed elsewhere while the
    text was being changed); :meth:`Rätta <ui.case_controller.CaseController>`
    offers that text back, so it is listed too.
    """
    keys = [form_key(f, case_id) for f in CASE_FORMS]
    keys += [form_key("note:edit", n) for n, _signed in notes]
    keys += [form_key("note:correct", n) for n, signed in notes if signed]
    keys += [form_key(f, m) for m in members for f in ("member:edit", "member:end")]
    return keys


def saved_at_text(draft: Draft) -> str:
    return draft.saved_at.astimezone().strftime("%Y-%m-%d %H:%M")


class DraftAutosaver(QObject):
    """Writes ``state()`` under ``key`` a while after each change, while ``dirty()``.

    :meth:`touch` (re)starts the timer; :meth:`save_now` writes at once (the
    window closes, the user is logged out); :meth:`discard` deletes the draft.
    """

    def __init__(
        self,
        *,
        store: DraftStore,
        key: str,
        state: Callable[[], dict[str, Any]],
        dirty: Callable[[], bool],
        interval_ms: int = DEFAULT_INTERVAL_MS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._store = store
        self._state = state
        self._dirty = dirty
        self.key = key
        self.saves = 0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.save_now)

    def existing(self) -> Draft | None:
        return self._store.load(self.key)

    def touch(self, *_: object) -> None:
        if not self._timer.isActive():
            self._timer.start()

    def save_now(self) -> None:
        self._timer.stop()
        if not self._dirty():
            return
        try:
            self._store.save(self.key, self._state())
            self.saves += 1
        except OSError:
            log.exception("draft could not be written")  # never the text itself

    def discard(self) -> None:
        self._timer.stop()
        self._store.delete(self.key)


class FormDraftAutosaver(DraftAutosaver):
    """Autosaves one :class:`FormDialog`; a draft already saved under its key is put back
    with a notice at the top of the form."""

    def __init__(
        self,
        *,
        dialog: FormDialog,
        store: DraftStore,
        key: str,
        interval_ms: int = DEFAULT_INTERVAL_MS,
    ) -> None:
        self._dialog = dialog
        super().__init__(
            store=store,
            key=key,
            state=dialog.draft_state,
            dirty=lambda: shiboken6.isValid(dialog) and dialog.dirty,
            interval_ms=interval_ms,
            parent=dialog,
        )
        self.restored = False
        self.notice: QLabel | None = None
        existing = self.existing()
        if existing is not None:
            dialog.restore_draft(existing.payload)
            self.restored = True
            notice = QLabel(self.tr("Återställt osparat utkast från %s.") % saved_at_text(existing))
            notice.setAccessibleName(self.tr("Återställt utkast"))
            notice.setStyleSheet("background: #fff4d6; padding: 4px;")
            notice.setWordWrap(True)
            layout = dialog.layout()
            assert isinstance(layout, QVBoxLayout)
            layout.insertWidget(0, notice)
            self.notice = notice
        dialog.edited.connect(self.touch)
        dialog.accepted.connect(self.discard)  # saved: the database has it now
        dialog.rejected.connect(self._on_rejected)

    def _on_rejected(self) -> None:
        """Avbryt (after "kasta ändringarna?"): thrown away on purpose. A window closed
        with the form still open saved the draft first (:meth:`save_now`) and keeps it."""
        if getattr(self._dialog, "keep_draft", False):
            self._timer.stop()
            return
        self.discard()


# The contact note form was the first with a draft; the name stays for its callers.
NoteDraftAutosaver = FormDraftAutosaver
