"""Logguppföljning, the layout: a case's log, the period export and the nödåtkomster, as tabs.

The tables are read-only lists of text (a case's log is hundreds of rows at
most; a review period's nödåtkomster a handful), so one small
:class:`QAbstractTableModel` of strings serves all of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QDate, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDateEdit,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ui.login_dialog import ERROR_STYLE, busy_bar

_Index = QModelIndex | QPersistentModelIndex

CASE_LOG_HEADERS = ("Löpnummer", "Tid", "Användare", "Arbetsstation", "Åtgärd", "Detaljer")
EMERGENCY_HEADERS = (
    "Beviljad",
    "Användare",
    "Namn",
    "Användarens enhet",
    "Ärende",
    "Ärendets enhet",
    "Skäl",
    "Skyddad",
    "Gäller till",
)


class TextTableModel(QAbstractTableModel):
    """Rows of ready-made text under fixed headers."""

    def __init__(self, headers: Sequence[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._headers = tuple(headers)
        self._rows: list[tuple[str, ...]] = []

    def set_rows(self, rows: Sequence[Sequence[str]]) -> None:
        self.beginResetModel()
        self._rows = [tuple(r) for r in rows]
        self.endResetModel()

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self._headers)

    def headerData(  # noqa: N802
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if (
            orientation == Qt.Orientation.Horizontal
            and role == Qt.ItemDataRole.DisplayRole
            and 0 <= section < len(self._headers)
        ):
            return self._headers[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return self._rows[index.row()][index.column()]
        return None


def _table(name: str, model: TextTableModel) -> QTableView:
    table = QTableView()
    table.setAccessibleName(name)
    table.setModel(model)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setStretchLastSection(True)
    table.setWordWrap(False)
    return table


def date_edit(value: date, name: str) -> QDateEdit:
    edit = QDateEdit(QDate(value.year, value.month, value.day))
    edit.setDisplayFormat("yyyy-MM-dd")
    edit.setCalendarPopup(True)
    edit.setAccessibleName(name)
    return edit


def edit_date(edit: QDateEdit) -> date:
    d = edit.date()
    return date(d.year(), d.month(), d.day())


class _Status(QLabel):
    def __init__(self, name: str) -> None:
        super().__init__()
        self.setObjectName(name)
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

    def show_text(self, text: str, *, error: bool = False) -> None:
        self.setStyleSheet(ERROR_STYLE if error else "")
        self.setText(text)


class AuditReviewWindow(QWidget):
    """Three tabs: Ärendets logg, Export för logguppföljning and (when available) Nödåtkomster."""

    def __init__(
        self, *, start: date, end: date, emergency: bool = True, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle(self.tr("Fokus – logguppföljning"))
        self.setObjectName("auditReviewWindow")
        self.tabs = QTabWidget()

        # --- a case's log
        self.case_number = QLineEdit()
        self.case_number.setAccessibleName(self.tr("Ärendenummer"))
        self.case_number.setPlaceholderText(self.tr("t.ex. FS-2024-00042"))
        self.case_button = QPushButton(self.tr("&Visa loggen"))
        self.case_model = TextTableModel(CASE_LOG_HEADERS, self)
        self.case_table = _table(self.tr("Ärendets logg"), self.case_model)
        self.case_status = _Status("caseLogStatus")
        self.case_busy = busy_bar()
        case_tab = QWidget()
        label = QLabel(self.tr("Ä&rendenummer:"))
        label.setBuddy(self.case_number)
        row = QHBoxLayout()
        row.addWidget(label)
        row.addWidget(self.case_number, 1)
        row.addWidget(self.case_button)
        layout = QVBoxLayout(case_tab)
        layout.addLayout(row)
        layout.addWidget(self.case_status)
        layout.addWidget(self.case_busy)
        layout.addWidget(self.case_table, 1)
        self.tabs.addTab(case_tab, self.tr("Ärendets logg"))

        # --- the period export
        self.export_from = date_edit(start, self.tr("Från och med"))
        self.export_to = date_edit(end, self.tr("Till och med"))
        self.export_button = QPushButton(self.tr("&Exportera till CSV …"))
        self.export_status = _Status("exportStatus")
        self.export_busy = busy_bar()
        export_tab = QWidget()
        intro = QLabel(
            self.tr(
                "Exportera loggen för en period till en CSV-fil (semikolonseparerad, UTF-8) "
                "för den regelbundna logguppföljningen. Du får händelserna i din enhets ärenden "
                "och av din enhets personal. Filen innehåller inga namn, personnummer eller "
                "söktexter, men behandla den ändå som sekretessbelagd."
            )
        )
        intro.setWordWrap(True)
        form = QFormLayout()
        form.addRow(self.tr("&Från och med:"), self.export_from)
        form.addRow(self.tr("&Till och med:"), self.export_to)
        layout = QVBoxLayout(export_tab)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.export_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.export_busy)
        layout.addWidget(self.export_status)
        layout.addStretch(1)
        self.tabs.addTab(export_tab, self.tr("Export för logguppföljning"))

        # --- nödåtkomster
        self.emergency_from = date_edit(start, self.tr("Nödåtkomster från och med"))
        self.emergency_to = date_edit(end, self.tr("Nödåtkomster till och med"))
        self.emergency_button = QPushButton(self.tr("Visa &nödåtkomster"))
        self.emergency_model = TextTableModel(EMERGENCY_HEADERS, self)
        self.emergency_table = _table(self.tr("Nödåtkomster"), self.emergency_model)
        self.emergency_status = _Status("emergencyStatus")
        self.emergency_busy = busy_bar()
        self.emergency_tab = QWidget()
        row = QHBoxLayout()
        row.addWidget(QLabel(self.tr("Från och med:")))
        row.addWidget(self.emergency_from)
        row.addWidget(QLabel(self.tr("till och med:")))
        row.addWidget(self.emergency_to)
        row.addWidget(self.emergency_button)
        row.addStretch(1)
        layout = QVBoxLayout(self.emergency_tab)
        layout.addLayout(row)
        layout.addWidget(self.emergency_status)
        layout.addWidget(self.emergency_busy)
        layout.addWidget(self.emergency_table, 1)
        if emergency:
            self.tabs.addTab(self.emergency_tab, self.tr("Nödåtkomster"))

        outer = QVBoxLayout(self)
        outer.addWidget(self.tabs)
        self.resize(1000, 560)
