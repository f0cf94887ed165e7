"""User administration, the layout: the user table, its window and the two dialogs.

The table is a small :class:`QAbstractTableModel` (a municipality has
hundreds of users, not thousands) sorted and filtered by a proxy. The
dialogs put each validation message beside the field it names; the
controller (:mod:`ui.user_admin_controller`) decides everything else.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from models.codes import ROLE_LABELS, Role
from services.audit import LOCAL_TZ
from services.user_admin import UserRow
from services.users import PASSWORD_MIN
from ui.login_dialog import ERROR_STYLE, busy_bar

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
ROW_ROLE = Qt.ItemDataRole.UserRole + 2

COL_USERNAME, COL_NAME, COL_ROLE, COL_UNIT, COL_ACTIVE, COL_LOCKED = range(6)
HEADERS = ("Användarnamn", "Namn", "Roll", "Enhet", "Aktiv", "Låst till")
INACTIVE_COLOUR = "#777777"

_Index = QModelIndex | QPersistentModelIndex


def locked_text(row: UserRow, now: datetime) -> str:
    """ "2026-11-23 14:05" while the account is locked out, else empty."""
    if row.locked_until is None or row.locked_until <= now:
        return ""
    return row.locked_until.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")


class UserTableModel(QAbstractTableModel):
    """The accounts as rows; ``ROW_ROLE`` gives the :class:`UserRow`, ``SORT_ROLE`` a sort key."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[UserRow] = []
        self._now = datetime.now(LOCAL_TZ)

    def set_rows(self, rows: list[UserRow], now: datetime) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self._now = now
        self.endResetModel()

    def row_at(self, row: int) -> UserRow:
        return self._rows[row]

    def row_of(self, user_id: object) -> int:
        for i, r in enumerate(self._rows):
            if r.id == user_id:
                return i
        return -1

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(  # noqa: N802
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if (
            orientation == Qt.Orientation.Horizontal
            and role == Qt.ItemDataRole.DisplayRole
            and 0 <= section < len(HEADERS)
        ):
            return HEADERS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        r = self._rows[index.row()]
        col = index.column()
        if role == ROW_ROLE:
            return r
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(r, col)
        if role == SORT_ROLE:
            if col == COL_ACTIVE:
                return int(r.active)
            if col == COL_LOCKED:
                return locked_text(r, self._now)
            return self._text(r, col).casefold()
        if role == Qt.ItemDataRole.ForegroundRole and not r.active:
            from PySide6.QtGui import QColor

            return QColor(INACTIVE_COLOUR)
        return None

    def _text(self, r: UserRow, col: int) -> str:
        if col == COL_USERNAME:
            return r.username
        if col == COL_NAME:
            return r.full_name
        if col == COL_ROLE:
            return r.role_label
        if col == COL_UNIT:
            return r.unit_name
        if col == COL_ACTIVE:
            return "ja" if r.active else "nej"
        if col == COL_LOCKED:
            return locked_text(r, self._now)
        return ""


class UserAdminWindow(QWidget):
    """The administrator's list of accounts with the actions above it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle(self.tr("Fokus – användare"))
        self.setObjectName("userAdminWindow")
        self.filter = QLineEdit()
        self.filter.setPlaceholderText(self.tr("Filtrera på användarnamn, namn, roll eller enhet"))
        self.filter.setAccessibleName(self.tr("Filtrera användare"))
        self.filter.setClearButtonEnabled(True)
        self.add_button = QPushButton(self.tr("&Ny användare …"))
        self.edit_button = QPushButton(self.tr("Ä&ndra …"))
        self.active_button = QPushButton(self.tr("&Inaktivera"))
        self.password_button = QPushButton(self.tr("Nytt &lösenord …"))
        self.unlock_button = QPushButton(self.tr("Lås &upp"))
        self.refresh_button = QPushButton(self.tr("Uppdatera"))
        self.table = QTableView()
        self.table.setAccessibleName(self.tr("Användare"))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSortingEnabled(True)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.status = QLabel()
        self.status.setObjectName("userAdminStatus")
        self.status.setWordWrap(True)
        self.busy = busy_bar()

        buttons = QHBoxLayout()
        for b in (
            self.add_button,
            self.edit_button,
            self.active_button,
            self.password_button,
            self.unlock_button,
        ):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.filter)
        layout.addLayout(buttons)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.busy)
        layout.addWidget(self.status)
        self.resize(900, 520)

    def show_status(self, text: str, *, error: bool = False) -> None:
        self.status.setStyleSheet(ERROR_STYLE if error else "")
        self.status.setText(text)


class _FieldForm:
    """A form whose rows each have an error line beneath the field."""

    def __init__(self, form: QFormLayout) -> None:
        self._form = form
        self.errors: dict[str, QLabel] = {}

    def add(self, label: str, field_name: str, widget: QWidget) -> None:
        error = QLabel()
        error.setObjectName(f"error_{field_name}")
        error.setStyleSheet(ERROR_STYLE)
        error.setWordWrap(True)
        error.setVisible(False)
        box = QVBoxLayout()
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(2)
        box.addWidget(widget)
        box.addWidget(error)
        caption = QLabel(label)
        caption.setBuddy(widget)  # Alt+letter moves to the field (a layout row has no buddy)
        self._form.addRow(caption, box)
        self.errors[field_name] = error


class _FormDialog(QDialog):
    """Shared behaviour: per-field errors, a general error, a busy state."""

    def __init__(self, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.form = QFormLayout()
        self.fields = _FieldForm(self.form)
        self.error = QLabel()
        self.error.setObjectName("formError")
        self.error.setStyleSheet(ERROR_STYLE)
        self.error.setWordWrap(True)
        self.error.setVisible(False)
        self.busy = busy_bar()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)

    def _finish_layout(self) -> None:
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(self.error)
        layout.addWidget(self.busy)
        layout.addWidget(self.buttons)

    def clear_errors(self) -> None:
        for label in self.fields.errors.values():
            label.clear()
            label.setVisible(False)
        self.error.clear()
        self.error.setVisible(False)

    def show_field_error(self, field_name: str, message: str) -> bool:
        """Show ``message`` beside the field; False when the form has no such field."""
        label = self.fields.errors.get(field_name)
        if label is None:
            return False
        label.setText(message)
        label.setVisible(True)
        return True

    def show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.setVisible(True)

    def set_busy(self, busy: bool) -> None:
        for child in self.findChildren(QLineEdit) + self.findChildren(QComboBox):
            child.setEnabled(not busy)
        self.ok_button.setEnabled(not busy)
        self.busy.setVisible(busy)


class UserFormDialog(_FormDialog):
    """A new account (username, password) or changes to one (name, role, unit)."""

    def __init__(
        self, *, units: list[str], user: UserRow | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.user = user
        new = user is None
        self.setWindowTitle(
            self.tr("Fokus – ny användare") if new else self.tr("Fokus – ändra användare")
        )
        self.setObjectName("userFormDialog")
        self.username = QLineEdit()
        self.username.setAccessibleName(self.tr("Användarnamn"))
        self.username.setMaxLength(64)
        self.username.setPlaceholderText(self.tr("små bokstäver, t.ex. kajsa.o"))
        self.full_name = QLineEdit()
        self.full_name.setAccessibleName(self.tr("Namn"))
        self.role = QComboBox()
        self.role.setAccessibleName(self.tr("Roll"))
        for role, label in ROLE_LABELS.items():
            self.role.addItem(label, role.value)
        self.unit = QComboBox()
        self.unit.setAccessibleName(self.tr("Enhet"))
        self.unit.setEditable(True)  # a new name creates the unit
        self.unit.addItems(units)
        self.password = QLineEdit()
        self.password.setAccessibleName(self.tr("Lösenord"))
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText(self.tr("minst %d tecken") % PASSWORD_MIN)
        self.repeat = QLineEdit()
        self.repeat.setAccessibleName(self.tr("Upprepa lösenordet"))
        self.repeat.setEchoMode(QLineEdit.EchoMode.Password)

        if new:
            self.fields.add(self.tr("&Användarnamn:"), "användarnamn", self.username)
        self.fields.add(self.tr("&Namn:"), "namn", self.full_name)
        self.fields.add(self.tr("&Roll:"), "roll", self.role)
        self.fields.add(self.tr("&Enhet:"), "enhet", self.unit)
        if new:
            self.fields.add(self.tr("&Lösenord:"), "lösenord", self.password)
            self.fields.add(self.tr("&Upprepa lösenord:"), "upprepa lösenord", self.repeat)
            self.ok_button.setText(self.tr("Skapa användare"))
        else:
            assert user is not None
            self.username.setText(user.username)
            self.full_name.setText(user.full_name)
            self.role.setCurrentIndex(self.role.findData(user.role.value))
            self.unit.setCurrentText(user.unit_name)
            self.ok_button.setText(self.tr("Spara"))
            heading = QLabel(self.tr("Användarnamn: <b>%s</b>") % user.username)
            self.form.insertRow(0, heading)
        self._finish_layout()
        self.setMinimumWidth(460)

    def selected_role(self) -> Role:
        return Role(self.role.currentData())


class PasswordDialog(_FormDialog):
    """A new password for someone who forgot theirs (typed twice)."""

    def __init__(self, *, username: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Fokus – nytt lösenord"))
        self.setObjectName("passwordDialog")
        intro = QLabel(
            self.tr(
                "Nytt lösenord för <b>%s</b>. Kontrollera vem som frågar innan du byter; "
                "en låsning hävs samtidigt."
            )
            % username
        )
        intro.setWordWrap(True)
        self.form.addRow(intro)
        self.password = QLineEdit()
        self.password.setAccessibleName(self.tr("Nytt lösenord"))
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText(self.tr("minst %d tecken") % PASSWORD_MIN)
        self.repeat = QLineEdit()
        self.repeat.setAccessibleName(self.tr("Upprepa lösenordet"))
        self.repeat.setEchoMode(QLineEdit.EchoMode.Password)
        self.fields.add(self.tr("&Nytt lösenord:"), "nytt lösenord", self.password)
        self.fields.add(self.tr("&Upprepa:"), "upprepa lösenord", self.repeat)
        self.ok_button.setText(self.tr("Byt lösenord"))
        self._finish_layout()
        self.setMinimumWidth(420)
