"""Ärendefördelning: caseload per caseworker against the cap, and moving a case.

View only (a table model and the window's widgets); the behaviour is in
ui/caseload_controller.py.
"""

from __future__ import annotations

import uuid
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from services.caseload import CaseloadRow

USER, NAME, FOCUS, OPEN, FOCUS_CASES, CAP = range(6)
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
ROW_ROLE = Qt.ItemDataRole.UserRole + 2
_HEADERS = ("Handläggare", "Namn", "Fokus", "Öppna ärenden", "varav fokus", "Tak")
_Index = QModelIndex | QPersistentModelIndex


class CaseloadModel(QAbstractTableModel):
    """One row per caseworker; a row over its cap is shown in red."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[CaseloadRow] = []

    def set_rows(self, rows: list[CaseloadRow]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def rows(self) -> list[CaseloadRow]:
        return list(self._rows)

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(_HEADERS)

    def headerData(  # noqa: N802
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return _HEADERS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        r = self._rows[index.row()]
        col = index.column()
        values = (r.username, r.full_name, "ja" if r.is_focus else "", r.open_cases,
                  r.focus_cases, r.cap)  # fmt: skip
        if role == Qt.ItemDataRole.DisplayRole:
            return values[col]
        if role == SORT_ROLE:
            return values[col] if col != FOCUS else int(r.is_focus)
        if role == ROW_ROLE:
            return r
        if role == Qt.ItemDataRole.ForegroundRole and r.over_cap and col in (OPEN, CAP):
            return QBrush(QColor("#b00020"))
        if role == Qt.ItemDataRole.TextAlignmentRole and col >= OPEN:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class CaseloadWindow(QWidget):
    """The table, and a small form: case number, to whom, Flytta."""

    def __init__(self, *, unit_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle(self.tr("Fokus – ärendefördelning, %s") % unit_name)
        self.model = CaseloadModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.status_label = QLabel(self.tr("Laddar …"))
        self.refresh_button = QPushButton(self.tr("&Uppdatera"))
        self.case_edit = QLineEdit()
        self.case_edit.setPlaceholderText("FS-2026-00012")
        self.worker_combo = QComboBox()
        self.move_button = QPushButton(self.tr("&Flytta ärendet"))
        form = QFormLayout()
        form.addRow(self.tr("Ärendenummer"), self.case_edit)
        form.addRow(self.tr("Till handläggare"), self.worker_combo)
        move_box = QGroupBox(self.tr("Flytta ett ärende"))
        box_layout = QVBoxLayout(move_box)
        box_layout.addLayout(form)
        box_layout.addWidget(self.move_button, 0, Qt.AlignmentFlag.AlignRight)
        top = QHBoxLayout()
        top.addWidget(self.status_label, 1)
        top.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addWidget(move_box)
        self.resize(760, 600)

    def selected_worker(self) -> uuid.UUID | None:
        data = self.worker_combo.currentData()
        return uuid.UUID(data) if data else None

    def select_worker(self, user_id: uuid.UUID) -> bool:
        i = self.worker_combo.findData(str(user_id))
        if i >= 0:
            self.worker_combo.setCurrentIndex(i)
        return i >= 0

    def set_rows(self, rows: list[CaseloadRow]) -> None:
        current = self.worker_combo.currentData()
        self.model.set_rows(rows)
        self.worker_combo.clear()
        for r in rows:
            focus = self.tr(", fokus") if r.is_focus else ""
            self.worker_combo.addItem(
                f"{r.username} – {r.full_name} ({r.open_cases}/{r.cap}{focus})", str(r.user_id)
            )
        if current is not None:
            i = self.worker_combo.findData(current)
            if i >= 0:
                self.worker_combo.setCurrentIndex(i)
