"""The follow-up list (Uppföljning / bevakningar) window: a sortable table.

View only: a table model over :class:`services.followup.FollowUpItem` rows
(sorted through a proxy with a native sort role), a scope choice and a
horizon. Overdue items are shown in red. The controller loads in the
background and opens a case on double-click.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from services.followup import FollowUpItem

DUE, KIND, CASE, PERSON, WORKER, DETAIL = range(6)
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
ITEM_ROLE = Qt.ItemDataRole.UserRole + 2
_HEADERS = ("Datum", "Bevakning", "Ärende", "Person", "Handläggare", "Detalj")
_Index = QModelIndex | QPersistentModelIndex


class FollowUpModel(QAbstractTableModel):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._items: list[FollowUpItem] = []
        self.today = date.today()

    def set_items(self, items: list[FollowUpItem], today: date) -> None:
        self.beginResetModel()
        self._items = list(items)
        self.today = today
        self.endResetModel()

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self._items)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(_HEADERS)

    def headerData(  # noqa: N802
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return _HEADERS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._items):
            return None
        item = self._items[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (
                f"{item.due:%Y-%m-%d}",
                item.kind_label,
                item.case_number,
                item.person_name,
                item.caseworker or "",
                item.detail,
            )[col]
        if role == SORT_ROLE:
            return (
                item.due.toordinal(),
                item.kind_label,
                item.case_number,
                item.person_name,
                item.caseworker or "",
                item.detail,
            )[col]
        if role == ITEM_ROLE:
            return item
        if role == Qt.ItemDataRole.ForegroundRole and item.overdue(self.today):
            return QBrush(QColor("#b00020"))
        return None


class FollowUpWindow(QWidget):
    def __init__(self, *, leader: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle(self.tr("Fokus – uppföljning"))
        self.model = FollowUpModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(DUE, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.scope_combo = QComboBox()
        self.scope_combo.addItem(self.tr("Mina ärenden"), "mine")
        if leader:
            self.scope_combo.addItem(self.tr("Hela enheten"), "unit")
        self.scope_combo.setVisible(leader)
        self.horizon_combo = QComboBox()
        for days, text in ((0, self.tr("till och med i dag")), (7, self.tr("inom en vecka")),
                           (30, self.tr("inom 30 dagar"))):  # fmt: skip
            self.horizon_combo.addItem(text, days)
        self.horizon_combo.setCurrentIndex(1)
        self.refresh_button = QPushButton(self.tr("&Uppdatera"))
        self.status_label = QLabel(self.tr("Laddar …"))
        top = QHBoxLayout()
        top.addWidget(self.scope_combo)
        top.addWidget(QLabel(self.tr("Uppföljningsdatum")))
        top.addWidget(self.horizon_combo)
        top.addStretch(1)
        top.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.status_label)
        self.resize(980, 560)

    def item_at(self, proxy_row: int) -> FollowUpItem | None:
        item: FollowUpItem | None = self.proxy.index(proxy_row, 0).data(ITEM_ROLE)
        return item
