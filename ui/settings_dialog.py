"""Administration → Databasanslutning, the layout: local file or network server, test, save.

The view only builds widgets (public attributes); :mod:`ui.settings_controller`
decides. There is no password field for the saved choice: the server
choice is host, port and database; the optional user name and password are
for "Testa anslutning" only and are never stored.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ui.login_dialog import ERROR_STYLE, busy_bar
from ui.user_admin_view import _FieldForm

OK_STYLE = "color: #1b5e20; font-weight: bold;"


class SettingsDialog(QDialog):
    """Radio buttons for the kind, the fields of each, the test line and Spara/Avbryt."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Fokus – databasanslutning"))
        self.setObjectName("settingsDialog")
        intro = QLabel(
            self.tr(
                "Var den här datorns Fokus hittar sin databas. Ändringen gäller från nästa "
                "start. Inget lösenord sparas: mot en server loggar var och en in med sin "
                "egen databasroll."
            )
        )
        intro.setWordWrap(True)
        self.in_use = QLabel()
        self.in_use.setObjectName("inUse")
        self.in_use.setWordWrap(True)
        self.in_use.setStyleSheet("color: #555;")

        self.local = QRadioButton(self.tr("&Lokal fil (SQLite, en användare)"))
        self.server = QRadioButton(self.tr("&Nätverksserver (PostgreSQL, flera användare)"))
        self.kind = QButtonGroup(self)
        self.kind.addButton(self.local)
        self.kind.addButton(self.server)

        self.path = QLineEdit()
        self.path.setAccessibleName(self.tr("Databasfil"))
        self.browse_button = QPushButton(self.tr("&Välj …"))
        self.local_box = QGroupBox(self.tr("Lokal fil"))
        local_form = QFormLayout(self.local_box)
        self.local_fields = _FieldForm(local_form)
        row = QWidget()
        row_layout = QHBoxLayout(row)
        row_layout.setContentsMargins(0, 0, 0, 0)
        row_layout.addWidget(self.path, 1)
        row_layout.addWidget(self.browse_button)
        self.local_fields.add(self.tr("&Fil:"), "fil", row)

        self.host = QLineEdit()
        self.host.setAccessibleName(self.tr("Värd"))
        self.host.setPlaceholderText(self.tr("t.ex. fokus-db.kommun.se"))
        self.port = QSpinBox()
        self.port.setAccessibleName(self.tr("Port"))
        self.port.setRange(1, 65535)
        self.port.setValue(5432)
        self.database = QLineEdit()
        self.database.setAccessibleName(self.tr("Databas"))
        self.test_username = QLineEdit()
        self.test_username.setAccessibleName(self.tr("Användarnamn för testet"))
        self.test_username.setPlaceholderText(self.tr("ditt Fokus-användarnamn (sparas inte)"))
        self.test_password = QLineEdit()
        self.test_password.setAccessibleName(self.tr("Lösenord för testet"))
        self.test_password.setEchoMode(QLineEdit.EchoMode.Password)
        self.test_password.setPlaceholderText(self.tr("sparas inte"))
        self.server_box = QGroupBox(self.tr("Nätverksserver"))
        server_form = QFormLayout(self.server_box)
        self.server_fields = _FieldForm(server_form)
        self.server_fields.add(self.tr("&Värd:"), "värd", self.host)
        self.server_fields.add(self.tr("&Port:"), "port", self.port)
        self.server_fields.add(self.tr("&Databas:"), "databas", self.database)
        self.server_fields.add(self.tr("Användar&namn (test):"), "användarnamn", self.test_username)
        self.server_fields.add(self.tr("Lösen&ord (test):"), "lösenord", self.test_password)

        self.test_button = QPushButton(self.tr("&Testa anslutning"))
        self.busy = busy_bar()
        self.test_result = QLabel()
        self.test_result.setObjectName("testResult")
        self.test_result.setWordWrap(True)
        self.test_result.setVisible(False)
        self.error = QLabel()
        self.error.setObjectName("formError")
        self.error.setStyleSheet(ERROR_STYLE)
        self.error.setWordWrap(True)
        self.error.setVisible(False)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.save_button.setText(self.tr("&Spara"))

        test_row = QHBoxLayout()
        test_row.addWidget(self.test_button)
        test_row.addWidget(self.busy)
        test_row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.in_use)
        layout.addWidget(self.local)
        layout.addWidget(self.local_box)
        layout.addWidget(self.server)
        layout.addWidget(self.server_box)
        layout.addLayout(test_row)
        layout.addWidget(self.test_result)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(520)

    def field_errors(self) -> dict[str, QLabel]:
        return {**self.local_fields.errors, **self.server_fields.errors}

    def clear_errors(self) -> None:
        for label in self.field_errors().values():
            label.clear()
            label.setVisible(False)
        self.error.clear()
        self.error.setVisible(False)

    def show_field_error(self, field_name: str, message: str) -> bool:
        label = self.field_errors().get(field_name)
        if label is None:
            return False
        label.setText(message)
        label.setVisible(True)
        return True

    def show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.setVisible(True)

    def show_result(self, message: str, *, ok: bool) -> None:
        self.test_result.setStyleSheet(OK_STYLE if ok else ERROR_STYLE)
        self.test_result.setText(message)
        self.test_result.setVisible(True)

    def set_busy(self, busy: bool, text: str = "") -> None:
        for widget in (self.test_button, self.save_button, self.local, self.server):
            widget.setEnabled(not busy)
        self.busy.setVisible(busy)
        if busy:
            self.test_result.setStyleSheet("")
            self.test_result.setText(text)
            self.test_result.setVisible(bool(text))
