"""The read-only case window: an overview and four small tables in tabs. Layout only.

:class:`ui.case_controller.CaseController` loads the case and fills it; the
tables are :class:`QTableWidget` because they hold a few dozen rows at most
and are never edited.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)


def _table(name: str, headers: Sequence[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setAccessibleName(name)
    table.setHorizontalHeaderLabels(list(headers))
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setAlternatingRowColors(True)
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    return table


def fill_table(table: QTableWidget, rows: Sequence[Sequence[str]]) -> None:
    """Replace a table's rows with read-only text cells."""
    table.setRowCount(0)
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            item = QTableWidgetItem(text)
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
            table.setItem(r, c, item)


class CaseView(QWidget):
    """A top-level window with the case's tabs; ``closed`` tells its controller."""

    closed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.resize(760, 480)
        self.loading = QLabel(self.tr("Hämtar ärendet …"))
        self.loading.setAccessibleName(self.tr("Status"))

        self.tabs = QTabWidget()
        overview = QWidget()
        form = QFormLayout(overview)
        self.fields: dict[str, QLabel] = {}
        for key, label in (
            ("case_number", self.tr("Ärendenummer")),
            ("status", self.tr("Status")),
            ("opened", self.tr("Öppnat")),
            ("closed", self.tr("Avslutat")),
            ("caseworker", self.tr("Handläggare")),
            ("direction", self.tr("Inriktning")),
            ("focus", self.tr("Fokusärende")),
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
        self.tabs.addTab(overview, self.tr("Översikt"))

        self.members = _table(
            self.tr("Hushåll"),
            [
                self.tr("Namn"),
                self.tr("Personnummer"),
                self.tr("Ålder"),
                self.tr("Roll"),
                self.tr("Från"),
                self.tr("Till"),
                self.tr("Skydd"),
            ],
        )
        self.tabs.addTab(self.members, self.tr("Hushåll"))
        self.notes = _table(
            self.tr("Kontaktlogg"),
            [
                self.tr("Datum och tid"),
                self.tr("Myndighet/motpart"),
                self.tr("Kontaktsätt"),
                self.tr("Kontaktperson"),
                self.tr("Status"),
                self.tr("Anteckning"),
            ],
        )
        self.notes.setWordWrap(True)
        self.tabs.addTab(self.notes, self.tr("Kontaktlogg"))
        self.months = _table(self.tr("Ersättning"), [self.tr("Månad"), self.tr("Belopp")])
        self.tabs.addTab(self.months, self.tr("Ersättning"))
        self.history = _table(
            self.tr("Historik"), [self.tr("Tid"), self.tr("Användare"), self.tr("Händelse")]
        )
        self.tabs.addTab(self.history, self.tr("Historik"))

        layout = QVBoxLayout(self)
        layout.addWidget(self.loading)
        layout.addWidget(self.tabs)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        self.closed.emit()
        super().closeEvent(event)
