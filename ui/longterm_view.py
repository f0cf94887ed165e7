"""The Långvariga view (Visa → Långvariga): long-term households, prioritised.

View only: a table model over :class:`services.longterm.LongTermRow` rows,
sorted through a proxy with a native sort role, and a scope choice. The
service returns the rows in priority order (households with children and
persons flagged for mental ill-health first, then the most months in the
mycket-långvarig window); the Prioritet column sorts back to that order.
The service lists only cases the user may open, so the mental ill-health
flag is shown only to those who may see the case. The controller loads in
the background and opens a case on double-click.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from services.longterm import LongTermRow

(
    PRIORITY,
    CASE,
    APPLICANT,
    WORKER,
    CHILDREN,
    MENTAL,
    LAST_YEAR,
    THIS_YEAR,
    WINDOW,
    FOCUS,
) = range(10)
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
ROW_ROLE = Qt.ItemDataRole.UserRole + 2
_Index = QModelIndex | QPersistentModelIndex


class LongTermModel(QAbstractTableModel):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[LongTermRow] = []
        self.window_months = 36

    def set_rows(self, rows: list[LongTermRow], window_months: int) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.window_months = window_months
        self.endResetModel()
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, self.columnCount() - 1)

    def headers(self) -> tuple[str, ...]:
        return (
            self.tr("Prioritet"),
            self.tr("Ärende"),
            self.tr("Sökande"),
            self.tr("Handläggare"),
            self.tr("Barn"),
            self.tr("Psykisk ohälsa"),
            self.tr("Mån. i fjol"),
            self.tr("Mån. i år"),
            self.tr("Av %s mån.") % self.window_months,
            self.tr("Fokus"),
        )

    def priority_label(self, priority: int) -> str:
        labels = {
            1: self.tr("Barn och psykisk ohälsa"),
            2: self.tr("Barn"),
            3: self.tr("Psykisk ohälsa"),
            4: self.tr("Övriga"),
        }
        return labels.get(priority, str(priority))

    def _yes(self, flag: bool) -> str:
        return self.tr("ja") if flag else ""

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else 10

    def headerData(  # noqa: N802
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.headers()[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        r = self._rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            window: Any = r.window_months
            if r.very_long_term:
                window = self.tr("%s (mycket långvarig)") % r.window_months
            return (
                self.priority_label(r.priority),
                r.case_number,
                r.applicant_name,
                r.caseworker_name,
                self._yes(r.has_children),
                self._yes(r.mental_ill_health),
                r.months_last_year,
                r.months_current_year,
                window,
                self._yes(r.is_focus),
            )[col]
        if role == SORT_ROLE:
            return (
                index.row(),  # the service's order: priority, window months, case number
                r.case_number,
                r.applicant_name,
                r.caseworker_name,
                int(r.has_children),
                int(r.mental_ill_health),
                r.months_last_year,
                r.months_current_year,
                r.window_months,
                int(r.is_focus),
            )[col]
        if role == ROW_ROLE:
            return r
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (LAST_YEAR, THIS_YEAR, WINDOW):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class LongTermWindow(QWidget):
    def __init__(self, *, leader: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle(self.tr("Fokus – långvariga"))
        self.model = LongTermModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(PRIORITY, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QTableView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.scope_combo = QComboBox()
        self.scope_combo.addItem(self.tr("Mina ärenden"), "mine")
        if leader:
            self.scope_combo.addItem(self.tr("Hela enheten"), "unit")
        self.scope_combo.setVisible(leader)
        self.refresh_button = QPushButton(self.tr("&Uppdatera"))
        self.rule_label = QLabel(
            self.tr(
                "Långvarig: minst 10 månader med försörjningsstöd förra året, eller redan "
                "10 i år. Barnfamiljer och psykisk ohälsa först."
            )
        )
        self.rule_label.setWordWrap(True)
        self.status_label = QLabel(self.tr("Laddar …"))
        top = QHBoxLayout()
        top.addWidget(self.scope_combo)
        top.addWidget(self.rule_label, 1)
        top.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.status_label)
        self.resize(1100, 600)

    def row_at(self, proxy_row: int) -> LongTermRow | None:
        row: LongTermRow | None = self.proxy.index(proxy_row, 0).data(ROW_ROLE)
        return row
