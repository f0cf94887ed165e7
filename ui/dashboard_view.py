"""The dashboard window (Översikt): key figures and four charts, each exportable.

View only: it lays out the key figures and one :class:`ChartCard` per chart
(QtCharts) and turns a :class:`services.dashboard.Dashboard` into series and
into the plain :class:`ui.dashboard_export.ChartTable` each card exports.
The controller loads the data in the background and handles the buttons.
"""

from __future__ import annotations

from PySide6.QtCharts import (
    QBarCategoryAxis,
    QBarSeries,
    QBarSet,
    QChart,
    QChartView,
    QLineSeries,
    QValueAxis,
)
from PySide6.QtCore import QMargins, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from services.dashboard import Dashboard
from ui.dashboard_export import ChartTable
from ui.i18n import format_count

CASELOAD, TREND, TARGETS, DISTRIBUTION = "caseload", "trend", "targets", "distribution"
CHART_KEYS = (TARGETS, TREND, CASELOAD, DISTRIBUTION)
_BLUE, _GREY, _ORANGE, _GREEN = "#1f5f99", "#9aa5b1", "#d9822b", "#3d8b57"


class ChartCard(QGroupBox):
    """One chart with its export buttons."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(title, parent)
        self.chart = QChart()
        self.chart.setMargins(QMargins(4, 4, 4, 4))
        self.chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
        self.chart.setAnimationOptions(QChart.AnimationOption.NoAnimation)
        self.view = QChartView(self.chart)
        self.view.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.view.setMinimumSize(420, 260)
        self.png_button = QPushButton(self.tr("Spara bild (PNG) …"))
        self.csv_button = QPushButton(self.tr("Spara siffror (CSV) …"))
        self.xlsx_button = QPushButton(self.tr("Spara siffror (Excel) …"))
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for b in (self.png_button, self.csv_button, self.xlsx_button):
            b.setEnabled(False)
            buttons.addWidget(b)
        layout = QVBoxLayout(self)
        layout.addWidget(self.view, 1)
        layout.addLayout(buttons)
        self.table: ChartTable | None = None

    def set_table(self, table: ChartTable) -> None:
        self.table = table
        for b in (self.png_button, self.csv_button, self.xlsx_button):
            b.setEnabled(True)

    def reset(self) -> None:
        self.chart.removeAllSeries()
        for axis in self.chart.axes():
            self.chart.removeAxis(axis)


def _bar_set(label: str, values: list[int], color: str) -> QBarSet:
    s = QBarSet(label)
    s.append([float(v) for v in values])
    s.setColor(QColor(color))
    return s


def _axes(chart: QChart, series: QBarSeries | QLineSeries, categories: list[str], top: int) -> None:
    x = QBarCategoryAxis()
    x.append(categories)
    y = QValueAxis()
    y.setRange(0, max(1, top) * 1.1)
    y.setLabelFormat("%d")
    chart.addAxis(x, Qt.AlignmentFlag.AlignBottom)
    chart.addAxis(y, Qt.AlignmentFlag.AlignLeft)
    series.attachAxis(x)
    series.attachAxis(y)


class DashboardWindow(QWidget):
    """Key figures on top, the four charts below in a grid."""

    def __init__(self, *, unit_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle(self.tr("Fokus – översikt, %s") % unit_name)
        self.status_label = QLabel(self.tr("Laddar …"))
        self.refresh_button = QPushButton(self.tr("&Uppdatera"))
        self.figures: dict[str, QLabel] = {}
        figures = QGridLayout()
        names = [
            ("households", self.tr("Långvariga hushåll")),
            ("persons", self.tr("Långvariga personer")),
            ("children", self.tr("varav hushåll med barn")),
            ("very", self.tr("Mycket långvariga hushåll")),
            ("jobb", self.tr("Jobbstimulans nådd i månaden")),
            ("ak", self.tr("Aktivitetskrav nått i månaden")),
            ("followups", self.tr("Bevakningar att göra")),
        ]
        for i, (key, text) in enumerate(names):
            value = QLabel("–")
            value.setObjectName(f"figure_{key}")
            value.setStyleSheet("font-size: 18pt; font-weight: 600;")
            caption = QLabel(text)
            caption.setWordWrap(True)
            figures.addWidget(value, 0, i)
            figures.addWidget(caption, 1, i)
            self.figures[key] = value
        self.very_label = QLabel("")
        self.very_label.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(self.status_label, 1)
        top.addWidget(self.refresh_button)
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        self.cards = {
            TARGETS: ChartCard(self.tr("Utfall mot mål (personer)")),
            TREND: ChartCard(self.tr("Långvariga hushåll och personer per år")),
            CASELOAD: ChartCard(self.tr("Ärenden per handläggare mot tak")),
            DISTRIBUTION: ChartCard(self.tr("Tid med försörjningsstöd (hushåll)")),
        }
        grid = QGridLayout()
        for i, key in enumerate(CHART_KEYS):
            grid.addWidget(self.cards[key], i // 2, i % 2)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(figures)
        layout.addWidget(self.very_label)
        layout.addWidget(line)
        layout.addLayout(grid, 1)
        self.resize(1280, 900)

    # -- filling -------------------------------------------------------------------------

    def show_dashboard(self, d: Dashboard) -> None:
        values = {
            "households": d.long_term_households,
            "persons": d.long_term_persons,
            "children": d.long_term_with_children,
            "very": d.very_long_term_households,
            "jobb": d.jobbstimulans_reached,
            "ak": d.aktivitetskrav_reached,
            "followups": d.follow_ups_due,
        }
        for key, n in values.items():
            self.figures[key].setText(format_count(n))
        self.very_label.setText(
            self.tr("Per %s, referensmånad %s; %s.")
            % (f"{d.as_of:%Y-%m-%d}", f"{d.reference_month:%Y-%m}", d.very_long_term_label)
        )
        self.status_label.setText(
            self.tr("Uppdaterad. %s bevakningar, varav %s försenade.")
            % (format_count(d.follow_ups_due), format_count(d.follow_ups_overdue))
        )
        self._targets(d)
        self._trend(d)
        self._caseload(d)
        self._distribution(d)

    def _targets(self, d: Dashboard) -> None:
        card = self.cards[TARGETS]
        card.reset()
        if d.targets:
            labels, goal, reached = [], [], []
            for t in d.targets:
                for g in t.groups:
                    label = g.label if len(d.targets) == 1 else f"{t.name}: {g.label}"
                    labels.append(label)
                    goal.append(g.count_target)
                    reached.append(g.achieved)
            series = QBarSeries()
            series.append(_bar_set(self.tr("Mål"), goal, _GREY))
            series.append(_bar_set(self.tr("Uppnått"), reached, _GREEN))
            card.chart.addSeries(series)
            _axes(card.chart, series, labels, max(goal + reached))
            rows = tuple((lbl, g, r) for lbl, g, r in zip(labels, goal, reached, strict=True))
            card.set_table(
                ChartTable(
                    card.title(), (self.tr("Grupp"), self.tr("Mål"), self.tr("Uppnått")), rows
                )  # fmt: skip
            )
            card.chart.setTitle(
                ", ".join(
                    f"{t.name} ({t.period_from:%Y-%m-%d}–{t.period_to:%Y-%m-%d})" for t in d.targets
                )  # fmt: skip
            )
            return
        labels = [label for _, label, _ in d.outcomes]
        counts = [n for _, _, n in d.outcomes]
        series = QBarSeries()
        series.append(_bar_set(self.tr("Personer %s") % d.year, counts, _GREEN))
        card.chart.addSeries(series)
        _axes(card.chart, series, labels, max(counts, default=0))
        card.chart.setTitle(self.tr("Inget mål för perioden – utfall under %s") % d.year)
        card.set_table(
            ChartTable(
                card.title(),
                (self.tr("Utfall"), self.tr("Personer")),
                tuple(zip(labels, counts, strict=True)),
            )  # fmt: skip
        )

    def _trend(self, d: Dashboard) -> None:
        card = self.cards[TREND]
        card.reset()
        years = [str(p.year) + (" *" if p.partial else "") for p in d.trend]
        top = 0
        for label, values, color in (
            (self.tr("Hushåll"), [p.households for p in d.trend], _BLUE),
            (self.tr("Personer"), [p.persons for p in d.trend], _ORANGE),
        ):
            line = QLineSeries()
            line.setName(label)
            line.setColor(QColor(color))
            for i, v in enumerate(values):
                line.append(i, v)
            card.chart.addSeries(line)
            top = max([top, *values])
        x = QBarCategoryAxis()
        x.append(years)
        y = QValueAxis()
        y.setRange(0, max(1, top) * 1.1)
        y.setLabelFormat("%d")
        card.chart.addAxis(x, Qt.AlignmentFlag.AlignBottom)
        card.chart.addAxis(y, Qt.AlignmentFlag.AlignLeft)
        for s in card.chart.series():
            s.attachAxis(x)
            s.attachAxis(y)
        if any(p.partial for p in d.trend):
            card.chart.setTitle(
                self.tr("* t.o.m. referensmånaden %s") % f"{d.reference_month:%Y-%m}"
            )
        card.set_table(
            ChartTable(
                card.title(),
                (self.tr("År"), self.tr("Hushåll"), self.tr("Personer"), self.tr("Del av år")),
                tuple(
                    (p.year, p.households, p.persons, self.tr("ja") if p.partial else "")
                    for p in d.trend
                ),
            )
        )

    def _caseload(self, d: Dashboard) -> None:
        card = self.cards[CASELOAD]
        card.reset()
        rows = list(d.caseload)
        names = [r.username for r in rows]
        series = QBarSeries()
        series.append(_bar_set(self.tr("Öppna ärenden"), [r.open_cases for r in rows], _BLUE))
        series.append(_bar_set(self.tr("Tak"), [r.cap for r in rows], _GREY))
        card.chart.addSeries(series)
        _axes(card.chart, series, names, max([0, *(max(r.open_cases, r.cap) for r in rows)]))
        over = sum(1 for r in rows if r.over_cap)
        card.chart.setTitle(self.tr("%s över taket") % over if over else "")
        card.set_table(
            ChartTable(
                card.title(),
                (
                    self.tr("Handläggare"),
                    self.tr("Namn"),
                    self.tr("Fokus"),
                    self.tr("Öppna ärenden"),
                    self.tr("varav fokusärenden"),
                    self.tr("Tak"),
                    self.tr("Andel av taket (%)"),
                ),
                tuple(
                    (
                        r.username,
                        r.full_name,
                        self.tr("ja") if r.is_focus else "",
                        r.open_cases,
                        r.focus_cases,
                        r.cap,
                        round(100.0 * r.open_cases / r.cap, 2) if r.cap else 0.0,
                    )  # fmt: skip
                    for r in rows
                ),
            )
        )

    def _distribution(self, d: Dashboard) -> None:
        card = self.cards[DISTRIBUTION]
        card.reset()
        labels = [b.label for b in d.distribution]
        counts = [b.households for b in d.distribution]
        series = QBarSeries()
        series.append(_bar_set(self.tr("Hushåll"), counts, _BLUE))
        card.chart.addSeries(series)
        _axes(card.chart, series, labels, max(counts, default=0))
        card.chart.setTitle(self.tr("Månader med stöd i fönstret för mycket långvarig"))
        card.set_table(
            ChartTable(
                card.title(),
                (self.tr("Månader"), self.tr("Hushåll"), self.tr("Mycket långvarig")),
                tuple(
                    (b.label, b.households, self.tr("ja") if b.very_long_term else "")
                    for b in d.distribution
                ),
            )
        )
