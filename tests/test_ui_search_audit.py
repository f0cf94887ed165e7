"""A settled register search is audited once, in a worker, without its text (issue 6 item 4).

Real widgets (offscreen) over a real seeded SQLite file: typing a query key by
key yields exactly one ``case_search`` event once the typing pause has passed
and the count is shown; the event holds the number of cases and the filter
names, never the text; it is written off the GUI thread; refreshing the same
search or clearing the field writes nothing more.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtTest import QTest
from sqlalchemy import select

from models import AuditEvent
from services.audit import CASE_SEARCH
from services.auth import demo_login
from services.db import Database
from services.register import RegisterService
from services.search import RegisterFilter, SearchAuditService, filter_names, search_cases
from tests.factories import seeded_sqlite
from ui.startup import MainParts, build_main_window
from ui.view_state import ViewState
from ui.worker import BackgroundRunner

pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("propagateSizeHints"),
]

AS_OF = date(2026, 6, 30)
WAIT = 10_000


@pytest.fixture
def seeded(tmp_path: Path) -> Iterator[Database]:
    with seeded_sqlite(tmp_path / "audit.db", cases=150, seed=9, as_of=AS_OF) as db:
        yield db


class SpyAudit:
    """The real service, noting the thread of each call."""

    def __init__(self, inner: SearchAuditService) -> None:
        self.inner = inner
        self.threads: list[threading.Thread] = []

    def record_search(self, flt: RegisterFilter, rows: int) -> None:
        self.threads.append(threading.current_thread())
        self.inner.record_search(flt, rows)


def _events(db: Database) -> list[AuditEvent]:
    with db.begin() as s:
        return list(
            s.scalars(
                select(AuditEvent).where(AuditEvent.action == CASE_SEARCH).order_by(AuditEvent.id)
            )
        )


def _open(
    qtbot, db: Database, tmp_path: Path, runner: BackgroundRunner
) -> tuple[MainParts, SpyAudit]:  # type: ignore[no-untyped-def]
    user = demo_login(db, "ws-test")
    spy = SpyAudit(SearchAuditService(db=db, actor=user.actor))
    state = ViewState(QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat))
    parts = build_main_window(
        service=RegisterService(db=db, today=lambda: AS_OF, actor=user.actor),
        user=user,
        state=state,
        db_label="SQLite – test",
        runner=runner,
        search_audit=spy,
    )
    qtbot.addWidget(parts.window)
    _settle(qtbot, parts, runner)
    return parts, spy


def _settle(qtbot, parts: MainParts, runner: BackgroundRunner) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(
        lambda: not parts.model.loading and parts.register.last_count is not None, timeout=WAIT
    )
    qtbot.waitUntil(lambda: not runner.busy, timeout=WAIT)  # the audit write too


def test_typing_a_search_writes_one_event_without_the_text(qtbot, seeded, tmp_path, runner) -> None:  # type: ignore[no-untyped-def]
    parts, spy = _open(qtbot, seeded, tmp_path, runner)
    assert _events(seeded) == []  # opening the register is not a search
    with seeded.begin() as s:
        name = search_cases(s, RegisterFilter(), limit=1, actor=spy.inner.actor)[0].applicant_name
    query = "".join(c for c in name.split()[-1][:4].lower() if c.isascii())  # keyClicks: ASCII only
    assert len(query) >= 2

    QTest.keyClicks(parts.window.register.search, query)  # one key at a time, no pause
    qtbot.waitUntil(lambda: parts.model.current_filter.text == query, timeout=WAIT)
    _settle(qtbot, parts, runner)

    events = _events(seeded)
    assert len(events) == 1  # not one per keystroke
    event = events[0]
    detail = json.loads(event.detail)
    assert detail == {"filters": ["text"], "rows": parts.register.last_count}
    assert detail["rows"] >= 1
    assert query not in event.detail.lower() and query not in (event.chain_hash or "")
    assert event.workstation == "ws-test" and event.user_id is not None
    assert spy.threads and all(t is not threading.main_thread() for t in spy.threads)

    # The same search again (a refresh after a saved case) is not a new search.
    parts.register.refresh()
    _settle(qtbot, parts, runner)
    assert len(_events(seeded)) == 1

    # A quick filter on top of the text is a new settled search; clearing the text is none.
    parts.window.register.focus.setChecked(True)
    _settle(qtbot, parts, runner)
    parts.window.register.search.clear()
    QTest.keyClick(parts.window.register.search, "\r")
    qtbot.waitUntil(lambda: parts.model.current_filter.text == "", timeout=WAIT)
    _settle(qtbot, parts, runner)
    events = _events(seeded)
    assert [json.loads(e.detail)["filters"] for e in events] == [["text"], ["focus", "text"]]
    assert len(spy.threads) == 2


def test_filter_names_never_hold_values() -> None:
    flt = RegisterFilter(text="Öberg 19780214", focus_only=True, long_term=True)
    assert filter_names(flt) == ["text", "focus", "long_term"]
    assert filter_names(RegisterFilter(text="   ")) == []
