"""The dashboard window on a real seeded SQLite register: numbers, charts and exports."""

from __future__ import annotations

import csv
import os
import re
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook
from PySide6.QtGui import QColor, QImage, QPainter
from sqlalchemy import select

from models import Unit
from models.codes import Role
from services import longterm as lt
from services.audit import Actor
from services.dashboard import DashboardService
from services.db import Database, open_database
from services.demo import seed_demo
from services.targets import FOCUS_TARGET_GROUPS, TargetInput, TargetService
from ui.dashboard_controller import DashboardController
from ui.dashboard_view import CASELOAD, DISTRIBUTION, TARGETS, TREND, DashboardWindow
from ui.i18n import format_count
from ui.worker import BackgroundRunner

AS_OF = date(2026, 11, 20)
WAIT = 30_000
LEADER = Actor(username="lena", role=Role.TEAM_LEADER, workstation="test")
SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "screenshots" / "dashboard.png"


@pytest.fixture(scope="module")
def seeded_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dashboard") / "seeded.db"
    db = open_database(f"sqlite:///{path}")
    try:
        seed_demo(db, Actor.cli(), cases=400, seed=5, as_of=AS_OF)
        with db.begin() as s:
            unit_id = s.scalars(select(Unit.id)).one()
        TargetService(db=db, actor=LEADER).create_target(
            TargetInput(
                unit_id,
                "Fokustjänsterna 2026",
                date(2026, 1, 1),
                date(2026, 12, 31),
                FOCUS_TARGET_GROUPS,
            )  # fmt: skip
        )
    finally:
        db.dispose()
    return path


@pytest.fixture
def seeded(seeded_file: Path, tmp_path: Path) -> Iterator[Database]:
    path = tmp_path / "dashboard.db"
    shutil.copy(seeded_file, path)
    db = open_database(f"sqlite:///{path}")
    yield db
    db.dispose()


def _open(qtbot, db: Database, runner: BackgroundRunner, ask=None):  # type: ignore[no-untyped-def]
    with db.begin() as s:
        unit_id = s.scalars(select(Unit.id)).one()
    window = DashboardWindow(unit_name="Försörjningsstöd Test")
    qtbot.addWidget(window)
    kw = {"ask_path": ask} if ask else {}
    controller = DashboardController(
        window=window,
        service=DashboardService(db=db, actor=LEADER),
        runner=runner,
        unit_id=unit_id,
        as_of=AS_OF,
        **kw,
    )
    window.show()
    with qtbot.waitSignal(controller.loaded, timeout=WAIT):
        controller.load()
    return window, controller


def test_the_dashboard_shows_the_seeded_figures(qtbot, seeded, runner) -> None:  # type: ignore[no-untyped-def]
    window, controller = _open(qtbot, seeded, runner)
    with seeded.begin() as s:
        dates = lt.reference_dates(AS_OF)
        flagged = len(set(s.scalars(lt.long_term_case_ids_from_months(dates))))
        figures = lt.stats_from_months(s, as_of=AS_OF, year=2025)
    d = controller.data
    assert d is not None
    assert window.windowTitle().startswith("Fokus")
    assert window.figures["households"].text() == format_count(flagged)
    assert d.long_term_households == flagged > 0
    trend = {p.year: p for p in d.trend}
    assert trend[2025].households == figures["long_term_cases"]
    # Charts: the target's two groups (goal and achieved), five years, one bar per caseworker.
    targets = window.cards[TARGETS]
    assert targets.table is not None
    assert [r[0] for r in targets.table.rows] == [g.label for g in FOCUS_TARGET_GROUPS]
    assert [r[1] for r in targets.table.rows] == [15, 20]
    assert len(window.cards[TREND].chart.series()) == 2
    assert len(window.cards[TREND].table.rows) == 5  # type: ignore[union-attr]
    caseload = window.cards[CASELOAD].table
    assert caseload is not None and len(caseload.rows) == len(d.caseload) > 0
    assert sum(r[1] for r in window.cards[DISTRIBUTION].table.rows) > 0  # type: ignore[union-attr]
    assert "Laddar" not in window.status_label.text()


def test_exports_read_back(qtbot, seeded, runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    asked: list[str] = []

    def ask(_parent, _title, suggested, _filter):  # type: ignore[no-untyped-def]
        asked.append(suggested)
        return str(tmp_path / suggested.rsplit(".", 1)[0])  # no suffix: the controller adds it

    window, controller = _open(qtbot, seeded, runner, ask)
    card = window.cards[CASELOAD]
    with qtbot.waitSignal(controller.exported, timeout=WAIT):
        card.csv_button.click()
    csv_path = Path(str(tmp_path / asked[-1]))
    raw = csv_path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM for Excel
    rows = list(csv.reader(raw.decode("utf-8-sig").splitlines(), delimiter=";"))
    assert rows[0] == ["Handläggare", "Namn", "Fokus", "Öppna ärenden", "varav fokusärenden",
                       "Tak", "Andel av taket (%)"]  # fmt: skip
    assert [int(r[3]) for r in rows[1:]] == [r.open_cases for r in controller.data.caseload]
    # Decimal comma, two decimals, as Swedish Excel reads a number.
    shares = [r[6] for r in rows[1:]]
    assert all(re.fullmatch(r"\d+,\d\d", s) for s in shares), shares
    expected = [f"{100 * r.open_cases / r.cap:.2f}".replace(".", ",")
                for r in controller.data.caseload]  # fmt: skip
    assert shares == expected
    with qtbot.waitSignal(controller.exported, timeout=WAIT):
        card.xlsx_button.click()
    cells = list(load_workbook(tmp_path / asked[-1]).active.iter_rows(values_only=True))
    # A number in XLSX, not text (openpyxl reads 50.0 back as 50).
    assert [c[6] for c in cells[1:]] == [
        pytest.approx(100 * r.open_cases / r.cap, abs=0.01) for r in controller.data.caseload
    ]

    with qtbot.waitSignal(controller.exported, timeout=WAIT):
        window.cards[TREND].xlsx_button.click()
    wb = load_workbook(tmp_path / asked[-1])
    ws = wb.active
    values = list(ws.iter_rows(values_only=True))
    assert values[0] == ("År", "Hushåll", "Personer", "Del av år")
    assert [v[1] for v in values[1:]] == [p.households for p in controller.data.trend]
    assert ws.title == "Långvariga hushåll och personer"[:31]

    png = tmp_path / "chart.png"
    controller.export(TARGETS, "png", png)
    image = QImage(str(png))
    assert not image.isNull() and image.width() > 300


def test_a_failed_load_says_so(qtbot, runner) -> None:  # type: ignore[no-untyped-def]
    import uuid

    from services.errors import PermissionDeniedError

    class Refusing:
        def load(self, unit_id, *, as_of=None, year=None):  # type: ignore[no-untyped-def]
            raise PermissionDeniedError("bara arbetsledare får se översikten")

    window = DashboardWindow(unit_name="X")
    qtbot.addWidget(window)
    controller = DashboardController(
        window=window, service=Refusing(), runner=runner, unit_id=uuid.uuid4()
    )
    with qtbot.waitSignal(controller.failed, timeout=WAIT):
        controller.load()
    assert "bara arbetsledare" in window.status_label.text()
    assert window.refresh_button.isEnabled()


def test_screenshot(qtbot, seeded, runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """An offscreen grab on white; with FOKUS_SCREENSHOTS=1 it becomes the docs screenshot."""
    window, _ = _open(qtbot, seeded, runner)
    window.resize(1400, 950)
    qtbot.wait(200)
    grabbed = window.grab().toImage()
    image = QImage(grabbed.size(), QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    painter.drawImage(0, 0, grabbed)
    painter.end()
    target = SCREENSHOT if os.environ.get("FOKUS_SCREENSHOTS") == "1" else tmp_path / "d.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    assert image.save(str(target))
    assert QImage(str(target)).width() == 1400
