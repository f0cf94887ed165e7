"""The case window: Översikt, Hushåll, Kontaktlogg, Ersättning, Planering och utfall,
Historik. Layout only.

:class:`ui.case_controller.CaseController` loads the case, fills the tabs and
runs every action. Tables are model/view (:mod:`ui.case_models`); the edit
buttons exist from the start and the controller enables them (a window
opened without editing services stays read-only).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QTableView,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from ui.case_forms import error_label
from ui.case_models import COL_TEXT, NoteTableModel, RowsModel

NOTE_COLUMN_WIDTHS = (116, 150, 90, 120, 120, 120, 190)
MONTH_NAMES = ("jan", "feb", "mar", "apr", "maj", "jun", "jul", "aug", "sep", "okt", "nov", "dec")
SUPPORT_CELL = "background: #2e7d5b; color: white; border: 1px solid #1f5a41; padding: 2px;"
EMPTY_CELL = "background: #eef0f2; color: #555; border: 1px solid #d5d8dc; padding: 2px;"
MESSAGE_STYLE = "QLabel { background: #fdecea; color: #7a1c1c; padding: 4px 8px; }"


def _table(name: str, model: RowsModel | NoteTableModel) -> QTableView:
    table = QTableView()
    table.setModel(model)
    table.setAccessibleName(name)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setAlternatingRowColors(True)
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    return table


def _buttons(*buttons: QPushButton) -> QHBoxLayout:
    row = QHBoxLayout()
    for b in buttons:
        row.addWidget(b)
    row.addStretch(1)
    return row


class MonthStrip(QWidget):
    """One row per year: twelve cells, coloured for months with support, amount as text."""

    def __init__(self) -> None:
        super().__init__()
        self.grid = QGridLayout(self)
        self.grid.setHorizontalSpacing(3)
        self.grid.setVerticalSpacing(3)
        self.cells: dict[tuple[int, int], QLabel] = {}

    def fill(self, years: Sequence[tuple[int, Sequence[str], str]]) -> None:
        """``years``: (year, twelve amount texts ("" = no support), year total text)."""
        while self.grid.count():
            item = self.grid.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self.cells.clear()
        for col, name in enumerate(MONTH_NAMES, start=1):
            head = QLabel(name)
            head.setAlignment(Qt.AlignmentFlag.AlignCenter)
            self.grid.addWidget(head, 0, col)
        total_head = QLabel(self.tr("Summa"))
        self.grid.addWidget(total_head, 0, 13)
        for row, (year, amounts, total) in enumerate(years, start=1):
            self.grid.addWidget(QLabel(f"<b>{year}</b>"), row, 0)
            supported = 0
            for m, amount in enumerate(amounts, start=1):
                cell = QLabel(amount)
                cell.setAlignment(Qt.AlignmentFlag.AlignCenter)
                cell.setMinimumWidth(64)
                cell.setStyleSheet(SUPPORT_CELL if amount else EMPTY_CELL)
                name = f"{year}-{m:02d}"
                cell.setAccessibleName(name)
                cell.setToolTip(f"{name}: {amount}" if amount else f"{name}: –")
                self.grid.addWidget(cell, row, m)
                self.cells[(year, m)] = cell
                supported += bool(amount)
            label = QLabel(self.tr("%s (%d mån.)") % (total, supported))
            self.grid.addWidget(label, row, 13)


class CaseView(QWidget):
    """A top-level window with the case's tabs; ``closed`` tells its controller."""

    closed = Signal()
    print_requested = Signal(object)  # the case id (uuid.UUID)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.resize(1000, 680)
        # Asked before the window closes; the controller replaces it (unsaved changes).
        self.close_guard: Callable[[], bool] = lambda: True
        self.loading = QLabel(self.tr("Hämtar ärendet …"))
        self.loading.setAccessibleName(self.tr("Status"))
        self.message = QLabel()
        self.message.setAccessibleName(self.tr("Meddelande"))
        self.message.setWordWrap(True)
        self.message.setStyleSheet(MESSAGE_STYLE)
        self.message.setVisible(False)

        self.print_action = QAction(self.tr("Skriv ut sammanfattning …"), self)
        self.print_action.setShortcut(QKeySequence.StandardKey.Print)
        self.save_action = QAction(self.tr("Spara"), self)
        self.save_action.setShortcut(QKeySequence.StandardKey.Save)
        self.new_note_action = QAction(self.tr("Ny kontakt …"), self)
        self.new_note_action.setShortcut(QKeySequence(self.tr("Ctrl+K")))
        for action in (self.print_action, self.save_action, self.new_note_action):
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            self.addAction(action)

        self.tabs = QTabWidget()
        self._build_overview()
        self._build_household()
        self._build_contacts()
        self._build_months()
        self._build_plan()
        self.history_model = RowsModel([self.tr("Tid"), self.tr("Användare"), self.tr("Händelse")])
        self.history = _table(self.tr("Historik"), self.history_model)
        self.tabs.addTab(self.history, self.tr("Historik"))

        layout = QVBoxLayout(self)
        layout.addWidget(self.loading)
        layout.addWidget(self.message)
        layout.addWidget(self.tabs)

    # --- tabs
    def _build_overview(self) -> None:
        overview = QWidget()
        outer = QHBoxLayout(overview)
        left = QVBoxLayout()
        form = QFormLayout()
        self.fields: dict[str, QLabel] = {}
        for key, label in (
            ("case_number", self.tr("Ärendenummer")),
            ("status", self.tr("Status")),
            ("opened", self.tr("Öppnat")),
            ("closed", self.tr("Avslutat")),
            ("outcome", self.tr("Utfall")),
            ("caseworker", self.tr("Handläggare")),
            ("direction", self.tr("Inriktning")),
            ("focus", self.tr("Fokusärende")),
            ("flags", self.tr("Markeringar")),
            ("address", self.tr("Adress")),
            ("housing_cost", self.tr("Boendekostnad")),
            ("summary", self.tr("Sammanfattning")),
        ):
            value = QLabel()
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setWordWrap(True)
            value.setAccessibleName(label)
            self.fields[key] = value
            form.addRow(label, value)
        left.addLayout(form)
        self.close_case_button = QPushButton(self.tr("Avsluta ärendet …"))
        self.reopen_button = QPushButton(self.tr("Återöppna ärendet"))
        self.print_button = QPushButton(self.tr("Skriv ut sammanfattning …"))
        left.addLayout(_buttons(self.close_case_button, self.reopen_button, self.print_button))
        left.addStretch(1)
        outer.addLayout(left, 3)
        # A place for the time-on-support clocks (ui/clock_panel.py), filled by whoever has it.
        self.clock_area = QWidget()
        self.clock_area.setObjectName("clockArea")
        self.clock_slot = QVBoxLayout(self.clock_area)
        self.clock_slot.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.clock_area, 2)
        self.tabs.addTab(overview, self.tr("Översikt"))

    def _build_household(self) -> None:
        page = QWidget()
        layout = QVBoxLayout(page)

        housing = QGroupBox(self.tr("Bostad"))
        form = QFormLayout(housing)
        self.housing_edits: dict[str, QLineEdit] = {}
        self.housing_errors: dict[str, QLabel] = {}
        for key, label in (
            ("adress", self.tr("Adress")),
            ("postnummer", self.tr("Postnummer")),
            ("ort", self.tr("Ort")),
            ("boendekostnad", self.tr("Boendekostnad")),
        ):
            edit = QLineEdit()
            edit.setAccessibleName(label)
            err = error_label()
            err.setAccessibleName(self.tr("Fel: %s") % label)
            row = QHBoxLayout()
            row.addWidget(edit, 1)
            row.addWidget(err, 1)
            form.addRow(label, row)
            self.housing_edits[key] = edit
            self.housing_errors[key] = err
        self.housing_edits["boendekostnad"].setPlaceholderText(self.tr("t.ex. 7 120"))
        self.housing_note = QLabel()
        self.save_housing_button = QPushButton(self.tr("Spara bostad"))
        form.addRow(self.housing_note, self.save_housing_button)
        layout.addWidget(housing)

        members = QGroupBox(self.tr("Medlemmar"))
        box = QVBoxLayout(members)
        self.members_model = RowsModel(
            [
                self.tr("Namn"),
                self.tr("Personnummer"),
                self.tr("Ålder"),
                self.tr("Roll"),
                self.tr("Från"),
                self.tr("Till"),
                self.tr("Skydd"),
            ]
        )
        self.members = _table(self.tr("Hushåll"), self.members_model)
        box.addWidget(self.members)
        self.add_member_button = QPushButton(self.tr("Lägg till …"))
        self.edit_member_button = QPushButton(self.tr("Ändra …"))
        self.end_member_button = QPushButton(self.tr("Avsluta medlemskap …"))
        box.addLayout(
            _buttons(self.add_member_button, self.edit_member_button, self.end_member_button)
        )
        layout.addWidget(members)

        lower = QHBoxLayout()
        reasons = QGroupBox(self.tr("Försörjningshinder"))
        rbox = QVBoxLayout(reasons)
        self.reasons_model = RowsModel(
            [self.tr("Person"), self.tr("Försörjningshinder"), self.tr("Från"), self.tr("Till")]
        )
        self.reasons = _table(self.tr("Försörjningshinder"), self.reasons_model)
        rbox.addWidget(self.reasons)
        self.add_reason_button = QPushButton(self.tr("Nytt försörjningshinder …"))
        rbox.addLayout(_buttons(self.add_reason_button))
        lower.addWidget(reasons)

        consents = QGroupBox(self.tr("Samtycken"))
        cbox = QVBoxLayout(consents)
        self.consents_model = RowsModel(
            [
                self.tr("Person"),
                self.tr("Till vem"),
                self.tr("Omfattning"),
                self.tr("Från"),
                self.tr("Till"),
                self.tr("Status"),
            ]
        )
        self.consents = _table(self.tr("Samtycken"), self.consents_model)
        cbox.addWidget(self.consents)
        self.add_consent_button = QPushButton(self.tr("Nytt samtycke …"))
        self.withdraw_consent_button = QPushButton(self.tr("Återkalla"))
        cbox.addLayout(_buttons(self.add_consent_button, self.withdraw_consent_button))
        lower.addWidget(consents)
        layout.addLayout(lower)

        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(page)
        self.household_page = scroll
        self.tabs.addTab(scroll, self.tr("Hushåll"))

    def _build_contacts(self) -> None:
        page = QWidget()
        layout = QVBoxLayout(page)
        filters = QHBoxLayout()
        self.agency_filter = QComboBox()
        self.agency_filter.setAccessibleName(self.tr("Filter: myndighet"))
        self.agency_filter.addItem(self.tr("Alla myndigheter"), "")
        self.agency_filter.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.counterpart_filter = QLineEdit()
        self.counterpart_filter.setPlaceholderText(self.tr("Kontaktperson"))
        self.counterpart_filter.setAccessibleName(self.tr("Filter: kontaktperson"))
        self.date_from_filter = QLineEdit()
        self.date_from_filter.setPlaceholderText(self.tr("från ÅÅÅÅ-MM-DD"))
        self.date_from_filter.setAccessibleName(self.tr("Filter: från datum"))
        self.date_to_filter = QLineEdit()
        self.date_to_filter.setPlaceholderText(self.tr("till ÅÅÅÅ-MM-DD"))
        self.date_to_filter.setAccessibleName(self.tr("Filter: till datum"))
        self.filter_error = error_label()
        self.note_count = QLabel()
        for w in (self.agency_filter, self.counterpart_filter):
            filters.addWidget(w)
        filters.addWidget(self.date_from_filter)
        filters.addWidget(self.date_to_filter)
        filters.addWidget(self.filter_error)
        filters.addStretch(1)
        filters.addWidget(self.note_count)
        layout.addLayout(filters)

        self.notes_model = NoteTableModel()
        self.notes = _table(self.tr("Kontaktlogg"), self.notes_model)
        self.notes.setWordWrap(False)
        self.notes.setTextElideMode(Qt.TextElideMode.ElideRight)
        header = self.notes.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for col, width in enumerate(NOTE_COLUMN_WIDTHS):
            self.notes.setColumnWidth(col, width)
        header.setSectionResizeMode(COL_TEXT, QHeaderView.ResizeMode.Stretch)
        self.note_detail = QTextBrowser()
        self.note_detail.setAccessibleName(self.tr("Anteckningens text"))
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.notes)
        split.addWidget(self.note_detail)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        layout.addWidget(split, 1)

        self.new_note_button = QPushButton(self.tr("Ny kontakt …"))
        self.new_note_button.setToolTip(self.tr("Ctrl+K"))
        self.edit_note_button = QPushButton(self.tr("Ändra utkast …"))
        self.sign_note_button = QPushButton(self.tr("Signera"))
        self.correct_note_button = QPushButton(self.tr("Rätta …"))
        layout.addLayout(
            _buttons(
                self.new_note_button,
                self.edit_note_button,
                self.sign_note_button,
                self.correct_note_button,
            )
        )

        children = QGroupBox(self.tr("Barnperspektiv – anteckningar per barn"))
        cbox = QVBoxLayout(children)
        self.child_combo = QComboBox()
        self.child_combo.setAccessibleName(self.tr("Barn"))
        cbox.addWidget(self.child_combo)
        self.child_notes_model = RowsModel(
            [
                self.tr("Datum och tid"),
                self.tr("Myndighet/motpart"),
                self.tr("Barnperspektiv"),
                self.tr("Anteckning"),
            ]
        )
        self.child_notes = _table(self.tr("Anteckningar om barnet"), self.child_notes_model)
        self.child_notes.setMaximumHeight(130)
        cbox.addWidget(self.child_notes)
        children.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        layout.addWidget(children)
        self.tabs.addTab(page, self.tr("Kontaktlogg"))

    def _build_months(self) -> None:
        page = QWidget()
        layout = QVBoxLayout(page)
        self.month_strip = MonthStrip()
        self.month_strip.setAccessibleName(self.tr("Månader med stöd per år"))
        layout.addWidget(self.month_strip)
        self.months_model = RowsModel([self.tr("Månad"), self.tr("Belopp")])
        self.months = _table(self.tr("Ersättning"), self.months_model)
        layout.addWidget(self.months, 1)
        self.add_month_button = QPushButton(self.tr("Registrera månad …"))
        layout.addLayout(_buttons(self.add_month_button))
        self.tabs.addTab(page, self.tr("Ersättning"))

    def _build_plan(self) -> None:
        page = QWidget()
        layout = QVBoxLayout(page)
        self.directions_model = RowsModel(
            [
                self.tr("Person"),
                self.tr("Inriktning"),
                self.tr("Från"),
                self.tr("Till"),
                self.tr("Mål"),
                self.tr("Måldatum"),
            ]
        )
        self.goals_model = RowsModel(
            [
                self.tr("Gäller"),
                self.tr("Inriktning"),
                self.tr("Mål"),
                self.tr("Måldatum"),
                self.tr("Uppnått"),
            ]
        )
        self.outcomes_model = RowsModel([self.tr("Person"), self.tr("Datum"), self.tr("Utfall")])
        self.directions = _table(self.tr("Inriktning per person"), self.directions_model)
        self.goals = _table(self.tr("Mål"), self.goals_model)
        self.outcomes = _table(self.tr("Utfall per person"), self.outcomes_model)
        for title, table in (
            (self.tr("Inriktning per person"), self.directions),
            (self.tr("Mål"), self.goals),
            (self.tr("Utfall per person"), self.outcomes),
        ):
            layout.addWidget(QLabel(f"<b>{title}</b>"))
            layout.addWidget(table, 1)
        self.add_direction_button = QPushButton(self.tr("Ny inriktning …"))
        self.add_goal_button = QPushButton(self.tr("Nytt mål …"))
        self.achieve_goal_button = QPushButton(self.tr("Markera mål uppnått"))
        self.add_outcome_button = QPushButton(self.tr("Registrera utfall …"))
        layout.addLayout(
            _buttons(
                self.add_direction_button,
                self.add_goal_button,
                self.achieve_goal_button,
                self.add_outcome_button,
            )
        )
        self.tabs.addTab(page, self.tr("Planering och utfall"))

    # --- messages
    def show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        if not self.close_guard():
            event.ignore()
            return
        self.closed.emit()
        super().closeEvent(event)
