"""The case window's ClockPanel, fed by LongTermService.case_clock_panel (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import select

from models import HouseholdMember, Person
from models.codes import MemberRole, MonthSource
from services.audit import Actor
from services.cases import CaseService
from services.db import Database
from services.longterm import LongTermService
from services.settings import Settings
from services.support import set_month_in
from tests.factories import KARIN, OSKAR, make_case
from ui.clock_panel import ClockPanel

AS_OF = date(2026, 11, 20)


def test_the_clock_panel_shows_years_runs_and_thresholds(
    qtbot, db: Database, actor: Actor, unit_id: uuid.UUID
) -> None:  # type: ignore[no-untyped-def]
    cases = CaseService(db=db, actor=actor)
    ref = make_case(
        cases, unit_id, (MemberRole.APPLICANT, KARIN), (MemberRole.CHILD, OSKAR),
        opened_on=date(2024, 12, 1),
    )  # fmt: skip
    months = [date(2025, m, 1) for m in range(1, 11)]  # 10 months in 2025: långvarig
    months += [date(2026, m, 1) for m in range(3, 11)]  # a run of 8 ending at 2026-10
    with db.begin() as s:
        for m in months:
            set_month_in(s, actor, ref.id, m, 1, MonthSource.MANUAL, audit=False)
    data = LongTermService(db=db, actor=actor, settings=Settings()).case_clock_panel(
        ref.id, as_of=AS_OF
    )
    assert data.years == (2023, 2024, 2025, 2026)
    assert [r.label for r in data.rows] == ["Hushållet", "Karin Nyström", "Oskar Nyström"]
    panel = ClockPanel()
    qtbot.addWidget(panel)
    panel.set_data(data)
    header = [panel.cell(0, c) for c in range(10)]
    assert header == ["Vem", "2023", "2024", "2025", "2026", "Långvarig", "Pågående period",
                      "Jobbstimulans", "Aktivitetskrav", "36 mån"]  # fmt: skip
    household = [panel.cell(1, c) for c in range(10)]
    assert household == ["Hushållet", "–", "–", "10", "8", "ja", "8 mån sedan 2026-03",
                         "2026-08", "2026-07", "18"]  # fmt: skip
    assert panel.cell(2, 0) == "Karin Nyström (sökande)"
    assert "minst 27 av 36 månader" in panel.note.text()
    # Refreshing replaces the grid instead of stacking rows.
    panel.set_data(data)
    assert panel.grid.rowCount() >= 4 and panel.cell(3, 0).startswith("Oskar")
    with db.begin() as s:
        pids = set(s.scalars(select(HouseholdMember.person_id)))
        names = {p.first_name for p in s.scalars(select(Person).where(Person.id.in_(pids)))}
    assert names == {"Karin", "Oskar"}
