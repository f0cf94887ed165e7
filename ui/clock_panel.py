"""ClockPanel: a person's and the household's time on support, for the case window.

Plain data in (:class:`services.longterm.ClockPanelData`, from
``LongTermService.case_clock_panel``), labels out: months per calendar year,
the Långvarig flag, the current run with the month jobbstimulans and the
aktivitetskrav were reached, and mycket långvarig labelled with its
threshold setting. No queries here; the case window loads the data in its
worker and calls :meth:`ClockPanel.set_data`.
"""

from __future__ import annotations

from datetime import date

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QLabel, QVBoxLayout, QWidget

from services.longterm import Clock, ClockPanelData


def _month(d: date | None) -> str:
    return f"{d:%Y-%m}" if d is not None else "–"


class ClockPanel(QWidget):
    """A grid: one row for the household, one per person who belonged to it."""

    HEADERS_AFTER_YEARS = (
        "Långvarig",
        "Pågående period",
        "Jobbstimulans",
        "Aktivitetskrav",
        "36 mån",
    )

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.caption = QLabel(self.tr("Tid med försörjningsstöd"))
        self.caption.setStyleSheet("font-weight: 600;")
        self.note = QLabel("")
        self.note.setWordWrap(True)
        self.grid = QGridLayout()
        self.grid.setHorizontalSpacing(14)
        layout = QVBoxLayout(self)
        layout.addWidget(self.caption)
        layout.addLayout(self.grid)
        layout.addWidget(self.note)
        self.data: ClockPanelData | None = None

    def cell(self, row: int, column: int) -> str:
        """The text at (row, column) of the grid; row 0 is the header (for tests)."""
        item = self.grid.itemAtPosition(row, column)
        widget = item.widget() if item is not None else None
        return widget.text() if isinstance(widget, QLabel) else ""

    def clear(self) -> None:
        while self.grid.count():
            item = self.grid.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.setParent(None)
                widget.deleteLater()

    def set_data(self, data: ClockPanelData) -> None:
        self.clear()
        self.data = data
        headers = [self.tr("Vem"), *(str(y) for y in data.years)]
        headers += [self.tr(h) for h in self.HEADERS_AFTER_YEARS]
        for col, text in enumerate(headers):
            label = QLabel(text)
            label.setStyleSheet("font-weight: 600;")
            self.grid.addWidget(label, 0, col)
        for i, row in enumerate(data.rows, start=1):
            who = f"{row.label} ({row.role})" if row.role else row.label
            values = [who, *(self._year(row.clock, y) for y in data.years), *self._rest(row.clock)]
            for col, text in enumerate(values):
                label = QLabel(text)
                if col > 0:
                    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
                self.grid.addWidget(label, i, col)
        self.note.setText(
            self.tr(
                "Per referensmånaden %s. Långvarig: minst 10 månader ett kalenderår. "
                "Jobbstimulans efter 6 månader i följd; aktivitetskrav efter 3 månader i följd, "
                "från %s. 36 mån: %s."
            )
            % (
                _month(data.reference_month),
                f"{data.aktivitetskrav_from:%Y-%m-%d}",
                data.very_long_term_label,
            )
        )

    def _year(self, clock: Clock, year: int) -> str:
        n = clock.months_by_year.get(year, 0)
        return str(n) if n else "–"

    def _rest(self, clock: Clock) -> list[str]:
        long_term = self.tr("ja") if clock.long_term_flag else self.tr("nej")
        run = (
            self.tr("%s mån sedan %s") % (clock.run_months, _month(clock.run_started))
            if clock.run_months
            else "–"
        )
        very = f"{clock.window_months}" + (self.tr(" (mycket långvarig)")
                                           if clock.very_long_term else "")  # fmt: skip
        return [
            long_term,
            run,
            _month(clock.jobbstimulans_reached),
            _month(clock.aktivitetskrav_reached),
            very,
        ]
