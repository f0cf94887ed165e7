"""The base of the case window's forms: fields with their error beside them, Ctrl+S, a guard.

Every form in the case window (a new contact, a member, a consent, closing
the case, …) is a :class:`FormDialog`. It lays out labelled fields, each
with an error label right beside it; :meth:`FormDialog.show_errors` puts a
service's :class:`ValidationError` messages beside the fields they name (the
Swedish field name in the message is the key), and anything it cannot place
above the buttons. The dialog does not save anything itself: ``save_requested``
asks its controller, which runs the service call in the background and
either closes the dialog (:meth:`saved`) or shows the errors. Until then the
dialog stays open with everything the user typed.

Closing a dialog with unsaved changes asks first (``confirm_discard``,
replaceable in tests). :meth:`FormDialog.draft_state` and
:meth:`FormDialog.restore_draft` turn what was typed into plain data and
back, so :mod:`ui.drafts` can autosave any form as an encrypted draft.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from services.errors import FieldError, ValidationError

ERROR_STYLE = "color: #b00020;"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class InputError(ValueError):
    """A field the form itself could not read (e.g. a date typed wrong)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def parse_day(field: str, text: str, *, required: bool = False) -> date | None:
    """``YYYY-MM-DD`` → date; empty → None (or an error when required)."""
    text = text.strip()
    if not text:
        if required:
            raise InputError(field, "måste fyllas i")
        return None
    if not _DATE.match(text):
        raise InputError(field, "ange datum som ÅÅÅÅ-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise InputError(field, f"datumet {text} finns inte") from exc


def day_text(d: date | None) -> str:
    return d.isoformat() if d is not None else ""


def find_data(combo: QComboBox, value: object) -> int:
    """Index of the item holding ``value`` (also Python objects such as UUIDs), or -1."""
    for i in range(combo.count()):
        if combo.itemData(i) == value:
            return i
    return -1


def error_label() -> QLabel:
    label = QLabel()
    label.setStyleSheet(ERROR_STYLE)
    label.setWordWrap(True)
    label.setVisible(False)
    return label


def ask_discard(parent: QWidget) -> bool:
    """Ask whether unsaved changes may be thrown away (Qt's own Swedish buttons)."""
    answer = QMessageBox.question(
        parent,
        QCoreApplication.translate("FormDialog", "Fokus – osparade ändringar"),
        QCoreApplication.translate(
            "FormDialog", "Det finns ändringar som inte är sparade. Stänga ändå och kasta dem?"
        ),
        QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
        QMessageBox.StandardButton.Cancel,
    )
    return answer == QMessageBox.StandardButton.Discard


class FormDialog(QDialog):
    """A modeless-to-the-app, window-modal form whose controller does the saving."""

    save_requested = Signal()
    edited = Signal()  # the user changed something (the draft autosave listens)

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Fokus – {title}")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.form = QFormLayout()
        self.fields: dict[str, QWidget] = {}
        self.errors: dict[str, QLabel] = {}
        self._aliases: dict[str, str] = {}
        self.general_error = error_label()
        self.general_error.setAccessibleName(self.tr("Fel"))
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.save_button = QPushButton(self.tr("Spara"))
        self.save_button.setDefault(True)
        self.buttons.addButton(self.save_button, QDialogButtonBox.ButtonRole.AcceptRole)
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(self.general_error)
        layout.addWidget(self.buttons)
        self.dirty = False
        self.keep_draft = False  # closed with its window: its draft stays to be offered back
        self._saving = False
        self._closing_saved = False
        self.confirm_discard: Callable[[], bool] = lambda: ask_discard(self)
        self._save_shortcut = QShortcut(QKeySequence.StandardKey.Save, self)
        self._save_shortcut.activated.connect(self._on_save)
        self.buttons.rejected.connect(self.reject)
        self.save_button.clicked.connect(self._on_save)

    # --- building
    def add_field(
        self, key: str, label: str, widget: QWidget, *, aliases: Iterable[str] = ()
    ) -> QWidget:
        """A labelled field with its error label beside it; ``key`` is the service's name."""
        widget.setAccessibleName(label)
        err = error_label()
        err.setAccessibleName(self.tr("Fel: %s") % label)
        row = QWidget()
        box = QHBoxLayout(row)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(widget, 1)
        box.addWidget(err, 1)
        self.form.addRow(label, row)
        self.fields[key] = widget
        self.errors[key] = err
        for name in (key, label.lower(), *aliases):
            self._aliases[name.lower()] = key
        self._watch(widget)
        return widget

    def line(self, key: str, label: str, text: str = "", **kw: Iterable[str]) -> QLineEdit:
        edit = QLineEdit(text)
        self.add_field(key, label, edit, **kw)
        return edit

    def date_line(self, key: str, label: str, value: date | None = None) -> QLineEdit:
        edit = self.line(key, label, day_text(value))
        edit.setPlaceholderText(self.tr("ÅÅÅÅ-MM-DD"))
        return edit

    def combo(
        self, key: str, label: str, items: Iterable[tuple[object, str]], current: object = None
    ) -> QComboBox:
        box = QComboBox()
        for data, text in items:
            box.addItem(text, data)
            if data == current:
                box.setCurrentIndex(box.count() - 1)
        self.add_field(key, label, box)
        return box

    def text_area(self, key: str, label: str, text: str = "") -> QPlainTextEdit:
        edit = QPlainTextEdit(text)
        edit.setTabChangesFocus(True)
        self.add_field(key, label, edit)
        return edit

    def check(self, key: str, label: str, checked: bool = False) -> QCheckBox:
        box = QCheckBox()
        box.setChecked(checked)
        self.add_field(key, label, box)
        return box

    def _watch(self, widget: QWidget) -> None:
        if isinstance(widget, QLineEdit):
            widget.textEdited.connect(self._mark_dirty)
        elif isinstance(widget, QPlainTextEdit):
            widget.textChanged.connect(self._mark_dirty)
        elif isinstance(widget, QComboBox):
            widget.activated.connect(self._mark_dirty)
        elif isinstance(widget, QCheckBox):
            widget.clicked.connect(self._mark_dirty)

    def _mark_dirty(self, *_: object) -> None:
        self.dirty = True
        self.edited.emit()

    # --- drafts
    def draft_state(self) -> dict[str, Any]:
        """What was typed, field key → text / combo data (as text) / checked."""
        state: dict[str, Any] = {}
        for key, widget in self.fields.items():
            if isinstance(widget, QLineEdit):
                state[key] = widget.text()
            elif isinstance(widget, QPlainTextEdit):
                state[key] = widget.toPlainText()
            elif isinstance(widget, QComboBox):
                data = widget.currentData()
                state[key] = "" if data is None else str(data)
            elif isinstance(widget, QCheckBox):
                state[key] = widget.isChecked()
        state.update(self._draft_extra())
        return state

    def restore_draft(self, state: dict[str, Any]) -> None:
        """Put a draft back (values no longer offered, e.g. a member who left, are skipped)."""
        self._restore_extra(state)
        for key, widget in self.fields.items():
            if key not in state:
                continue
            value = state[key]
            if isinstance(widget, QLineEdit):
                widget.setText(str(value))
            elif isinstance(widget, QPlainTextEdit):
                widget.setPlainText(str(value))
            elif isinstance(widget, QComboBox):
                for i in range(widget.count()):
                    data = widget.itemData(i)
                    if ("" if data is None else str(data)) == str(value):
                        widget.setCurrentIndex(i)
                        break
            elif isinstance(widget, QCheckBox) and widget.isEnabled():
                widget.setChecked(bool(value))
        self.dirty = True

    def _draft_extra(self) -> dict[str, Any]:
        """Form parts that are not plain fields (a subclass adds them)."""
        return {}

    def _restore_extra(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`_draft_extra` saved (before the plain fields)."""

    # --- errors
    def clear_errors(self) -> None:
        for label in self.errors.values():
            label.clear()
            label.setVisible(False)
        self.general_error.clear()
        self.general_error.setVisible(False)

    def set_error(self, key: str, message: str) -> None:
        label = self.errors.get(self._aliases.get(key.lower(), key))
        if label is None:
            text = self.general_error.text()
            line = f"{key}: {message}"
            self.general_error.setText(f"{text}\n{line}" if text else line)
            self.general_error.setVisible(True)
            return
        label.setText(message)
        label.setVisible(True)

    def show_errors(self, errors: Iterable[FieldError] | ValidationError) -> None:
        """Each message beside the field it names; the rest above the buttons."""
        self.clear_errors()
        items = errors.errors if isinstance(errors, ValidationError) else list(errors)
        for e in items:
            self.set_error(e.field, e.message)
        self.set_busy(False)

    def show_message(self, message: str) -> None:
        self.clear_errors()
        self.general_error.setText(message)
        self.general_error.setVisible(True)
        self.set_busy(False)

    def error_text(self, key: str) -> str:
        label = self.errors[key]
        return label.text() if label.isVisible() or label.text() else ""

    # --- saving
    def set_busy(self, busy: bool) -> None:
        self._saving = busy
        self.save_button.setEnabled(not busy)

    def _on_save(self) -> None:
        if self._saving:
            return
        self.clear_errors()
        self.set_busy(True)
        self.save_requested.emit()

    def saved(self) -> None:
        """The controller saved it: close without asking."""
        self.dirty = False
        self._closing_saved = True
        self.set_busy(False)
        self.accept()

    def reject(self) -> None:
        if self.dirty and not self._closing_saved and not self.confirm_discard():
            return
        self._closing_saved = True  # asked once; closing goes on without asking again
        super().reject()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        if self.dirty and not self._closing_saved and not self.confirm_discard():
            event.ignore()
            return
        self._closing_saved = True  # QDialog's closeEvent calls reject(): do not ask twice
        super().closeEvent(event)
