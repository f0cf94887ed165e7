"""Table models of the case window: the contact log, and small read-only lists.

The contact log is a :class:`NoteTableModel` over the notes the read model
delivered (a case holds at most a few thousand, all read in one query set);
filtering by agency, counterpart and date happens in the model, so the
view never rebuilds item widgets. :class:`RowsModel` serves the small lists
(members, consents, months, history) with the object behind each row.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from PySide6.QtCore import (
    QT_TRANSLATE_NOOP,
    QAbstractTableModel,
    QCoreApplication,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtGui import QBrush, QColor

from services.case_view import NoteDetail

ModelIndex = QModelIndex | QPersistentModelIndex
OBJECT_ROLE = Qt.ItemDataRole.UserRole + 1
SORT_ROLE = Qt.ItemDataRole.UserRole + 2
WARNING_COLOR = QColor("#b00020")


class RowsModel(QAbstractTableModel):
    """Text rows with an object each (``OBJECT_ROLE``); optional red rows."""

    def __init__(self, headers: Sequence[str], parent: Any = None) -> None:
        super().__init__(parent)
        self._headers = list(headers)
        self._rows: list[tuple[str, ...]] = []
        self._objects: list[Any] = []
        self._warn: list[bool] = []

    def set_rows(
        self,
        rows: Sequence[Sequence[str]],
        objects: Sequence[Any] | None = None,
        warn: Sequence[bool] | None = None,
    ) -> None:
        self.beginResetModel()
        self._rows = [tuple(r) for r in rows]
        self._objects = list(objects) if objects is not None else [None] * len(self._rows)
        self._warn = list(warn) if warn is not None else [False] * len(self._rows)
        self.endResetModel()

    def object(self, row: int) -> Any:
        return self._objects[row] if 0 <= row < len(self._objects) else None

    def text(self, row: int, column: int) -> str:
        return self._rows[row][column]

    def column_texts(self, column: int) -> list[str]:
        return [r[column] for r in self._rows]

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._headers)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        text = self._rows[index.row()][index.column()]
        if role in (Qt.ItemDataRole.DisplayRole, SORT_ROLE):
            return text
        if role == Qt.ItemDataRole.ToolTipRole:
            return text or None
        if role == OBJECT_ROLE:
            return self._objects[index.row()]
        if role == Qt.ItemDataRole.ForegroundRole and self._warn[index.row()]:
            return QBrush(WARNING_COLOR)
        return None

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


COL_TIME, COL_AGENCY, COL_METHOD, COL_COUNTERPART, COL_MEMBERS = range(5)
COL_STATUS, COL_CONSENT, COL_TEXT = range(5, 8)
NOTE_HEADERS = (
    QT_TRANSLATE_NOOP("NoteTableModel", "Datum och tid"),
    QT_TRANSLATE_NOOP("NoteTableModel", "Myndighet/motpart"),
    QT_TRANSLATE_NOOP("NoteTableModel", "Kontaktsätt"),
    QT_TRANSLATE_NOOP("NoteTableModel", "Kontaktperson"),
    QT_TRANSLATE_NOOP("NoteTableModel", "Berör"),
    QT_TRANSLATE_NOOP("NoteTableModel", "Status"),
    QT_TRANSLATE_NOOP("NoteTableModel", "Samtycke"),
    QT_TRANSLATE_NOOP("NoteTableModel", "Anteckning"),
)


@dataclass(frozen=True)
class NoteFilter:
    """Which notes the log shows; empty fields do not filter."""

    agency_code: str = ""
    counterpart: str = ""
    date_from: date | None = None
    date_to: date | None = None

    def accepts(self, n: NoteDetail) -> bool:
        day = n.occurred_at.date()
        if self.agency_code and n.agency_code != self.agency_code:
            return False
        if self.counterpart and self.counterpart.casefold() not in n.counterpart.casefold():
            return False
        if self.date_from is not None and day < self.date_from:
            return False
        return not (self.date_to is not None and day > self.date_to)


def _tr(text: str) -> str:
    return QCoreApplication.translate("NoteTableModel", text)


class NoteTableModel(QAbstractTableModel):
    """The contact log: chronological, filterable, with a consent warning per note."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._all: list[NoteDetail] = []
        self._shown: list[NoteDetail] = []
        self._names: dict[uuid.UUID, str] = {}
        self._filter = NoteFilter()

    # --- content
    def set_notes(self, notes: Sequence[NoteDetail], names: dict[uuid.UUID, str]) -> None:
        self.beginResetModel()
        self._all = list(notes)
        self._names = dict(names)
        self._shown = [n for n in self._all if self._filter.accepts(n)]
        self.endResetModel()

    def set_filter(self, f: NoteFilter) -> None:
        if f == self._filter:
            return
        self.beginResetModel()
        self._filter = f
        self._shown = [n for n in self._all if f.accepts(n)]
        self.endResetModel()

    @property
    def current_filter(self) -> NoteFilter:
        return self._filter

    def note(self, row: int) -> NoteDetail | None:
        return self._shown[row] if 0 <= row < len(self._shown) else None

    def row_of(self, note_id: uuid.UUID) -> int:
        for i, n in enumerate(self._shown):
            if n.id == note_id:
                return i
        return -1

    def notes(self) -> list[NoteDetail]:
        return list(self._shown)

    # --- Qt
    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._shown)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(NOTE_HEADERS)

    def headerData(  # noqa: N802
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if (
            orientation == Qt.Orientation.Horizontal
            and role == Qt.ItemDataRole.DisplayRole
            and 0 <= section < len(NOTE_HEADERS)
        ):
            return _tr(str(NOTE_HEADERS[section]))
        return None

    def status_text(self, n: NoteDetail) -> str:
        text = (
            QCoreApplication.translate("NoteTableModel", "signerad")
            if n.signed
            else QCoreApplication.translate("NoteTableModel", "utkast")
        )
        if n.corrects_id is not None:
            text += QCoreApplication.translate("NoteTableModel", " (rättelse)")
        if n.corrected_by:
            text += QCoreApplication.translate("NoteTableModel", " (rättad)")
        return text

    def consent_text(self, n: NoteDetail) -> str:
        missing = n.missing_consent
        if not missing:
            return ""
        return QCoreApplication.translate(
            "NoteTableModel", "⚠ inget giltigt samtycke: %s"
        ) % ", ".join(missing)

    def display(self, n: NoteDetail, column: int) -> str:
        if column == COL_TIME:
            return n.occurred_at.strftime("%Y-%m-%d %H:%M")
        if column == COL_AGENCY:
            return n.agency_label
        if column == COL_METHOD:
            return n.method_label
        if column == COL_COUNTERPART:
            return n.counterpart
        if column == COL_MEMBERS:
            return ", ".join(self._names.get(p, "") for p in n.member_ids)
        if column == COL_STATUS:
            return self.status_text(n)
        if column == COL_CONSENT:
            return self.consent_text(n)
        if column == COL_TEXT:
            first = n.text.splitlines()[0] if n.text else ""
            return first if len(first) <= 120 else first[:119] + "…"
        return ""

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._shown):
            return None
        n = self._shown[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self.display(n, col)
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == COL_TEXT:
                return n.text
            if col == COL_CONSENT and n.missing_consent:
                return QCoreApplication.translate(
                    "NoteTableModel",
                    "Anteckningen gäller en myndighet som saknar giltigt samtycke från "
                    "personen vid kontakttillfället",
                )
            return None
        if role == Qt.ItemDataRole.ForegroundRole and col == COL_CONSENT and n.missing_consent:
            return QBrush(WARNING_COLOR)
        if role == SORT_ROLE:
            return n.occurred_at.isoformat() if col == COL_TIME else self.display(n, col)
        if role == OBJECT_ROLE:
            return n
        return None
