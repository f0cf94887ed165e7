"""The register's widgets: search field, quick filters and the table. Layout only.

:class:`ui.register_controller.RegisterController` decides what they do.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QRect, Signal
from PySide6.QtGui import QPaintEvent, QRegion
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from models.codes import STATUS_LABELS


class RegisterTable(QTableView):
    """The register's table; tells, before the rows move, which rows a scroll will show.

    ``paint_plain``, when set, paints the plain cells of a paint event first and
    returns the part still to be painted by Qt; ``paint_texts``, when set, then draws
    the cells' texts (of the area being painted): see :mod:`ui.register_delegate`.
    """

    about_to_scroll = Signal(int, int)  # first and last row shown once the scroll is done
    painted = Signal()  # after each paint of the viewport

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.paint_plain: Callable[[QPaintEvent], QRegion] | None = None
        self.paint_texts: Callable[[QRect], None] | None = None

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        if self.paint_plain is None:
            super().paintEvent(event)
        else:
            rest = self.paint_plain(event)
            if not rest.isEmpty():
                super().paintEvent(QPaintEvent(rest))
        if self.paint_texts is not None:
            self.paint_texts(event.rect())
        self.painted.emit()

    def scrollContentsBy(self, dx: int, dy: int) -> None:  # noqa: N802 - Qt's name
        if dy:
            self.about_to_scroll.emit(*self.rows_shown_at(self.verticalScrollBar().value()))
        super().scrollContentsBy(dx, dy)

    def rows_shown_at(self, value: int) -> tuple[int, int]:
        """The rows shown when the vertical scroll bar is at ``value`` (fixed row height)."""
        height = max(self.verticalHeader().defaultSectionSize(), 1)
        per_item = self.verticalScrollMode() == QAbstractItemView.ScrollMode.ScrollPerItem
        first = value if per_item else value // height
        last = first + (self.viewport().height() + height - 1) // height - 1
        return first, min(last, self.model().rowCount() - 1 if self.model() else -1)


class RegisterView(QWidget):
    """Search row above the case table; every input has an accessible name."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.search = QLineEdit()
        self.search.setPlaceholderText(self.tr("Sök namn, personnummer eller ärendenummer"))
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName(self.tr("Sök i registret"))
        self.search.setMinimumWidth(200)

        self.mine = QCheckBox(self.tr("Mina ärenden"))
        self.focus = QCheckBox(self.tr("Fokusärenden"))
        self.long_term = QCheckBox(self.tr("Långvariga"))
        self.long_term.setToolTip(
            self.tr("Stöd minst 10 månader förra eller detta kalenderår (Socialstyrelsen)")
        )
        self.child_family = QCheckBox(self.tr("Barnfamiljer"))
        self.child_family.setToolTip(self.tr("Någon i hushållet är under 18 år"))

        self.status = QComboBox()
        self.status.setAccessibleName(self.tr("Status"))
        self.status.addItem(self.tr("Alla statusar"), "")
        for status, label in STATUS_LABELS.items():
            self.status.addItem(label.capitalize(), status.value)

        self.loading = QLabel()
        self.loading.setAccessibleName(self.tr("Laddar"))

        self.table = RegisterTable()
        self.table.setAccessibleName(self.tr("Ärenderegister"))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setSortingEnabled(False)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(24)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(True)
        header.setHighlightSections(False)
        header.setDefaultSectionSize(130)

        filters = QHBoxLayout()
        filters.addWidget(self.search, 3)
        for w in (self.mine, self.focus, self.long_term, self.child_family):
            filters.addWidget(w)
        filters.addWidget(self.status)
        filters.addWidget(self.loading)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 0)
        layout.addLayout(filters)
        layout.addWidget(self.table, 1)

        self.setTabOrder(self.search, self.mine)
        self.setTabOrder(self.mine, self.focus)
        self.setTabOrder(self.focus, self.long_term)
        self.setTabOrder(self.long_term, self.child_family)
        self.setTabOrder(self.child_family, self.status)
        self.setTabOrder(self.status, self.table)
