"""The GUI half of ``python main.py bench``: the register and the case window, timed.

Run by :func:`services.bench.gui_figures` as ``python -m ui.bench PLAN OUT``
in an offscreen subprocess, which is then the GUI process whose peak memory
is reported. It builds the real main window (:func:`ui.startup.build_main_window`)
and case window (:class:`ui.case_controller.CaseWindows`) on the bench
database and times them against Qt's C++ ``QSqlQueryModel`` in a
``QTableView``, given the SQL the register itself runs.

"Shown" means painted: the rows are in the model, and the widget that shows
them (the table's viewport; the case window) has then been painted. A
:class:`PaintWatch` sees the paint event; the clock stops when the paint has
run. (One pass of the event loop after the rows arrived was not enough: the
register's rows were often painted only later, outside the time.) Waiting is
done in a ``QEventLoop`` that a signal ends, never by spinning, so the worker
thread that fetches the rows is not starved of the GIL.

The start-up hook (``FOKUS_BENCH_EXIT_AT=login``) is :mod:`ui.bench_hook`.
"""

from __future__ import annotations

import json
import resource
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import (
    QAbstractItemModel,
    QEvent,
    QEventLoop,
    QObject,
    QSettings,
    Qt,
    QTimer,
    Signal,
    SignalInstance,
)
from PySide6.QtSql import QSqlDatabase, QSqlDriver, QSqlQuery, QSqlQueryModel
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QTableView, QWidget

from services.bench import (
    SEARCHES,
    bench_user,
    connection_parts,
    median,
    percentile,
    register_sql,
)
from services.case_view import CaseViewService
from services.db import Database, open_database
from services.register import RegisterService
from services.search import RegisterFilter, SearchAuditService
from ui.case_controller import CaseWindows
from ui.register_model import ROW_ROLE
from ui.startup import (
    MainParts,
    build_main_window,
    create_application,
    freeze_startup_objects,
)
from ui.view_state import ViewState
from ui.worker import BackgroundRunner

TIMEOUT_MS = 120_000
PAINT_TIMEOUT_MS = 10_000
JUMP_TIMEOUT_S = 150.0
FETCH_BUDGET_S = 60.0
SEARCH_BUDGET_S = 150.0
SCROLL_WINDOWS = 50
# Openings of the register (ours and the reference, alternated) for the first-rows
# figures: each is 10-25 ms, and a median of three moved by more than the ratio's
# margin on a 2-core machine (docs/performance.md, fourth pass); seven took less
# than half a second, and one burst of the machine's own noise could move their
# median (a run at 1.95 among ratios of 1.36-1.49, fifth pass). 21 take about 1 s.
FIRST_ROWS_PAIRS = 21
SIZE = (1200, 720)


def _say(text: str) -> None:
    print(f"bench: {text}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- waiting


def wait_for(
    signal: SignalInstance, done: Callable[[], bool], timeout_ms: int = TIMEOUT_MS
) -> bool:
    """Run the event loop until ``done()`` holds (checked whenever ``signal`` fires)."""
    if done():
        return True
    loop = QEventLoop()

    def check(*_args: object) -> None:
        if done():
            loop.quit()

    signal.connect(check)
    timer = QTimer()
    timer.setSingleShot(True)
    timer.timeout.connect(loop.quit)
    timer.start(timeout_ms)
    try:
        loop.exec()
    finally:
        signal.disconnect(check)
        timer.stop()
    return done()


def settle() -> None:
    """Process what the last change caused (layout, paint), outside any timed span."""
    QApplication.processEvents()


class PaintWatch(QObject):
    """Counts the paint events of one widget and, with ``model``, when the model last changed.

    The filter sees a paint event before the widget paints; a :func:`wait_for`
    that ``painted`` ends returns only after the paint has run, since its loop
    quits when control comes back to it.
    """

    painted = Signal()

    def __init__(self, widget: QWidget, model: QAbstractItemModel | None = None) -> None:
        super().__init__(widget)
        self.count = 0
        self._changed = -1  # the paints counted when the model last changed
        self._widget = widget
        widget.installEventFilter(self)
        if model is not None:
            for signal in (
                model.modelReset,
                model.rowsInserted,
                model.rowsRemoved,
                model.dataChanged,
                model.layoutChanged,
            ):
                signal.connect(self._on_change)

    def _on_change(self, *_args: object) -> None:
        self._changed = self.count

    def wait_shown(self, timeout_ms: int = PAINT_TIMEOUT_MS) -> None:
        """Run the event loop until the widget has painted since the model last changed
        (at once if it has: a search with no cases changes nothing after its reset)."""
        if not wait_for(self.painted, lambda: self.count > self._changed, timeout_ms):
            raise RuntimeError("det som visas ritades inte om")

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if watched is self._widget and event.type() == QEvent.Type.Paint:
            self.count += 1
            self.painted.emit()
        return False

    def wait_next(self, seen: int | None = None, timeout_ms: int = PAINT_TIMEOUT_MS) -> None:
        """Run the event loop until the widget has painted once more than ``seen``
        times (by default: once more from now)."""
        seen = self.count if seen is None else seen
        if not wait_for(self.painted, lambda: self.count > seen, timeout_ms):
            raise RuntimeError("det som visas ritades inte om")

    def remove(self) -> None:
        if shiboken6.isValid(self._widget):
            self._widget.removeEventFilter(self)


def destroy(obj: QObject) -> None:
    """Close and delete a window now (``deleteLater`` would wait for an event loop to return)."""
    if isinstance(obj, QWidget):
        obj.close()
    if shiboken6.isValid(obj):
        shiboken6.delete(obj)
    QApplication.processEvents()


def wait_idle(runner: BackgroundRunner) -> None:
    """Let background work (e.g. the count) finish before the next measurement."""
    runner.wait()
    QApplication.processEvents()
    QApplication.processEvents()


# --------------------------------------------------------------------------- the run


class GuiBench:
    """Times the real register and case window, and the QSqlQueryModel references."""

    def __init__(self, plan: dict[str, Any]) -> None:
        self.plan = plan
        self.runs = int(plan["runs"])
        self.work = Path(plan["work_dir"])
        self.app = create_application()
        self.db: Database = open_database(plan["url"])
        self.user = bench_user(self.db)  # the team leader: the whole unit's register
        self.runner = BackgroundRunner()
        self.service = RegisterService(db=self.db, actor=self.user.actor)  # as ui.startup
        self.state = ViewState(
            QSettings(str(self.work / "ui-state.ini"), QSettings.Format.IniFormat)
        )
        self.figures: dict[str, Any] = {"notes": {}}
        self.references: dict[str, Any] = {}
        self.qdb = self._open_qt_database()
        freeze_startup_objects()  # as the app does once started (ui.startup)

    # --- the Fokus side
    def build(self) -> MainParts:
        parts = build_main_window(
            service=self.service,
            user=self.user,
            state=self.state,
            db_label="bench",
            runner=self.runner,
            case_source=CaseViewService(db=self.db, actor=self.user.actor),
            search_audit=SearchAuditService(db=self.db, actor=self.user.actor),  # as the app
        )
        parts.window.resize(*SIZE)
        parts.window.show()
        return parts

    def wait_counted(self, parts: MainParts) -> None:
        """Until the register's filter is counted (after its first rows were painted)."""
        register = parts.register
        if not wait_for(register.count_changed, lambda: register.last_count is not None):
            raise RuntimeError("the register was not counted")
        wait_idle(self.runner)

    def close(self, parts: MainParts) -> None:
        wait_idle(self.runner)
        destroy(parts.window)

    def first_rows_ms(self) -> float:
        start = time.perf_counter()
        parts = self.build()
        model = parts.model
        watch = PaintWatch(parts.window.register.table.viewport(), model)  # not painted yet
        if not wait_for(model.window_loaded, lambda: model.rowCount() > 0 or model.exhausted):
            raise RuntimeError("the register showed no rows")
        watch.wait_shown()
        elapsed = (time.perf_counter() - start) * 1000
        watch.remove()
        self.close(parts)
        return elapsed

    def window_fetches_ms(self, parts: MainParts) -> list[float]:
        """Scroll down, a window at a time, onto rows not fetched yet, until they are shown.

        The register has a row for every case once counted; the next rows past
        those fetched are brought to the top of the view, whose paint asks the
        model for them (the worker, the service, ``dataChanged``, the repaint).
        """
        table, model = parts.window.register.table, parts.model
        watch = PaintWatch(table.viewport(), model)
        times: list[float] = []
        deadline = time.monotonic() + FETCH_BUDGET_S
        for _ in range(SCROLL_WINDOWS):
            if time.monotonic() > deadline:
                break
            wait_idle(self.runner)
            target = model.first_missing()
            if target is None:
                break
            start = time.perf_counter()
            table.scrollTo(model.index(target, 0), QTableView.ScrollHint.PositionAtTop)
            if not wait_for(
                model.window_loaded, lambda t=target: model.is_loaded(t) and not model.loading
            ):
                raise RuntimeError("a window did not arrive")
            watch.wait_shown()
            times.append((time.perf_counter() - start) * 1000)
        watch.remove()
        return times

    def jump_to_end_ms(self, parts: MainParts) -> float | None:
        """Ctrl+End from the top of the counted register until the last case is shown."""
        table, model = parts.window.register.table, parts.model
        model.set_filter(RegisterFilter(), descending=True)
        parts.register.refresh()  # counted again, as the app does for a new filter
        wait_for(model.window_loaded, lambda: not model.loading)
        self.wait_counted(parts)  # after it
        if model.total is None:
            raise RuntimeError("the register was not counted")
        table.setFocus()
        table.setCurrentIndex(model.index(0, 0))
        settle()
        last = model.rowCount() - 1
        watch = PaintWatch(table.viewport(), model)
        start = time.perf_counter()
        QTest.keyClick(table, Qt.Key.Key_End, Qt.KeyboardModifier.ControlModifier)
        if not wait_for(
            model.window_loaded,
            lambda: table.currentIndex().row() == last and model.is_loaded(last),
            int(JUMP_TIMEOUT_S * 1000),
        ):
            watch.remove()
            return None
        watch.wait_shown()
        elapsed = (time.perf_counter() - start) * 1000
        watch.remove()
        if table.currentIndex().data(ROW_ROLE) is None:
            raise RuntimeError("the last row was not shown")
        return elapsed

    def search_ms(self, parts: MainParts, queries: list[str]) -> list[float]:
        view, model = parts.window.register, parts.model
        watch = PaintWatch(view.table.viewport(), model)
        times: list[float] = []
        deadline = time.monotonic() + SEARCH_BUDGET_S
        for q in queries:
            if time.monotonic() > deadline:
                break
            self.wait_counted(parts)  # the last search's count (and audit) are done
            start = time.perf_counter()
            view.search.setText(q)
            QTest.keyClick(view.search, Qt.Key.Key_Return)  # Enter: no typing pause
            if not wait_for(
                model.window_loaded,
                lambda q=q: model.current_filter.text == q and not model.loading,
            ):
                raise RuntimeError("a search did not finish")
            watch.wait_shown()
            times.append((time.perf_counter() - start) * 1000)
        watch.remove()
        view.search.clear()
        QTest.keyClick(view.search, Qt.Key.Key_Return)
        wait_for(model.window_loaded, lambda: not model.loading)
        self.wait_counted(parts)
        return times

    def open_case_ms(self, parts: MainParts, case_id: uuid.UUID) -> float:
        wait_idle(self.runner)
        source = CaseViewService(db=self.db, actor=self.user.actor)
        cases = CaseWindows(source=source, runner=self.runner, parent_window=parts.window)
        start = time.perf_counter()
        controller = cases.open(case_id)
        view = controller.parent()
        assert isinstance(view, QWidget)
        watch = PaintWatch(view)  # show() has not painted it yet
        if not wait_for(controller.loaded, lambda: controller.detail is not None):
            raise RuntimeError("the case window was not filled")
        watch.wait_next()
        elapsed = (time.perf_counter() - start) * 1000
        watch.remove()
        wait_idle(self.runner)
        if isinstance(view, QWidget):
            destroy(view)
        destroy(cases)
        return elapsed

    # --- the references
    def _open_qt_database(self) -> QSqlDatabase | None:
        parts = connection_parts(self.plan["url"])
        if parts["backend"] == "sqlite":
            qdb = QSqlDatabase.addDatabase("QSQLITE", "bench")
            qdb.setDatabaseName(parts["database"])
        else:
            qdb = QSqlDatabase.addDatabase("QPSQL", "bench")
            qdb.setHostName(parts["host"])
            qdb.setPort(int(parts["port"]))
            qdb.setDatabaseName(parts["database"])
            qdb.setUserName(parts["username"])
            qdb.setPassword(parts["password"])
        if not qdb.open():
            self.figures["notes"]["register_ratio_vs_qsqlquerymodel"] = (
                f"Qt:s databasdrivrutin kunde inte öppna databasen: {qdb.lastError().text()}"
            )
            return None
        return qdb

    def qt_table(self, sql: str) -> tuple[QTableView, QSqlQueryModel, PaintWatch]:
        """The reference: ``sql`` in a QSqlQueryModel, shown in a QTableView (not painted yet)."""
        assert self.qdb is not None
        view = QTableView()
        model = QSqlQueryModel(view)
        model.setQuery(QSqlQuery(sql, self.qdb))
        if model.lastError().isValid():
            raise RuntimeError(f"QSqlQueryModel: {model.lastError().text()}")
        view.setModel(model)
        view.resize(*SIZE)
        watch = PaintWatch(view.viewport())
        view.show()
        return view, model, watch

    def qt_first_rows_ms(self, sql: str) -> float:
        start = time.perf_counter()
        view, _model, watch = self.qt_table(sql)
        watch.wait_next(seen=0)
        elapsed = (time.perf_counter() - start) * 1000
        destroy(view)
        return elapsed

    def qt_search_ms(self, statements: list[str]) -> float:
        """A search's statements in order through QSqlQuery, the last one shown in a model."""
        assert self.qdb is not None
        start = time.perf_counter()
        for sql in statements[:-1]:
            query = QSqlQuery(self.qdb)
            query.setForwardOnly(True)
            if not query.exec(sql):
                raise RuntimeError(f"QSqlQuery: {query.lastError().text()}")
            while query.next():
                pass
        view, _model, watch = self.qt_table(statements[-1])
        watch.wait_next(seen=0)
        elapsed = (time.perf_counter() - start) * 1000
        destroy(view)
        return elapsed

    def qt_jump_to_end_ms(self, sql: str) -> float:
        """Ctrl+End on a QSqlQueryModel, with every row fetched inside the time.

        With QSQLITE the model has the first 255 rows when shown and fetches the rest
        during the jump. With QPSQL libpq fetches every row when the query runs, so
        there the time starts before the query: otherwise the reference would only
        move a cursor through rows already in memory, without the fetch it stands for.
        """
        prefetched = self.qdb is not None and self.qdb.driver().hasFeature(
            QSqlDriver.DriverFeature.QuerySize
        )
        start = time.perf_counter()
        view, model, watch = self.qt_table(sql)
        watch.wait_next(seen=0)
        view.setFocus()
        view.setCurrentIndex(model.index(0, 0))
        if not prefetched:
            start = time.perf_counter()
        while True:  # Ctrl+End held: QSqlQueryModel fetches 255 rows per step
            QTest.keyClick(view, Qt.Key.Key_End, Qt.KeyboardModifier.ControlModifier)
            if model.canFetchMore():
                model.fetchMore()
            elif view.currentIndex().row() == model.rowCount() - 1:
                break
        watch.wait_next()
        elapsed = (time.perf_counter() - start) * 1000
        destroy(view)
        return elapsed

    # --- everything, in an order that keeps the references out of the peak memory
    def run(self) -> None:
        f, ref, runs = self.figures, self.references, self.runs
        actor = self.user.actor
        window_sql = register_sql(self.db, RegisterFilter(), actor=actor)
        whole_sql = register_sql(self.db, RegisterFilter(), actor=actor, whole=True)
        queries: list[str] = list(self.plan["queries"])[:SEARCHES]
        search_sqls: list[list[str]] = list(self.plan["sqls"])[:SEARCHES]

        _say("registret: första raderna")
        ours, theirs = [], []
        for i in range(max(runs, FIRST_ROWS_PAIRS) + 1):  # the first pair warms up
            a = self.first_rows_ms()
            b = self.qt_first_rows_ms(window_sql) if self.qdb is not None else None
            if i:
                ours.append(a)
                if b is not None:
                    theirs.append(b)
        f["register_first_rows_ms"] = round(median(ours), 1)
        if theirs:
            ref["qsqlquerymodel_first_rows_ms"] = round(median(theirs), 1)
            f["register_ratio_vs_qsqlquerymodel"] = round(median(ours) / median(theirs), 2)

        parts = self.build()
        wait_for(parts.model.window_loaded, lambda: parts.model.rowCount() > 0)
        self.wait_counted(parts)  # counted once its first rows are painted: a row per case
        _say("registret: rullning fönster för fönster")
        fetches = self.window_fetches_ms(parts)
        if fetches:
            f["window_fetch_p95_ms"] = round(percentile(fetches, 95), 1)
            ref["window_fetches"] = len(fetches)
            if len(fetches) < SCROLL_WINDOWS and not parts.model.exhausted:
                f["notes"]["window_fetch_p95_ms"] = (
                    f"{len(fetches)} fönster hann hämtas inom {FETCH_BUDGET_S:.0f} s"
                )
        else:
            f["notes"]["window_fetch_p95_ms"] = "alla ärenden fick plats i första fönstret"

        _say("registret: Ctrl+End")
        jumps = []
        for _ in range(min(runs, 3)):
            if jumps and sum(jumps) > 30_000:
                break  # slow enough that more runs would not change the picture
            ms = self.jump_to_end_ms(parts)
            if ms is None:
                f["notes"]["jump_to_end_ms"] = f"sista raden nåddes inte på {JUMP_TIMEOUT_S:.0f} s"
                break
            jumps.append(ms)
        if jumps:
            f["jump_to_end_ms"] = round(median(jumps), 1)
        parts.model.set_filter(RegisterFilter())
        wait_for(parts.model.window_loaded, lambda: not parts.model.loading)

        _say(f"registret: {len(queries)} sökningar")
        self.search_ms(parts, queries[:10])  # warm-up
        ours = self.search_ms(parts, queries)
        if len(ours) < len(queries):
            f["notes"]["search_p95_ms"] = (
                f"{len(ours)} av {len(queries)} sökningar hann göras inom {SEARCH_BUDGET_S:.0f} s"
            )
        search_sqls = search_sqls[: len(ours)]
        f["search_p50_ms"] = round(percentile(ours, 50), 1)
        f["search_p95_ms"] = round(percentile(ours, 95), 1)

        _say("ärendefönstret: 1 000 anteckningar")
        case_id = uuid.UUID(self.plan["open_case_id"])
        self.open_case_ms(parts, case_id)  # warm-up
        f["open_case_ms"] = round(
            median([self.open_case_ms(parts, case_id) for _ in range(runs)]), 1
        )

        f["peak_rss_mb"] = round(peak_rss_mb(), 1)
        self.close(parts)

        if self.qdb is not None:
            _say(f"QSqlQueryModel: {len(search_sqls)} sökningar")
            theirs = [self.qt_search_ms(statements) for statements in search_sqls]
            ref["qsqlquerymodel_search_p50_ms"] = round(percentile(theirs, 50), 1)
            ref["qsqlquerymodel_search_p95_ms"] = round(percentile(theirs, 95), 1)
            f["search_ratio_vs_qsqlquerymodel"] = round(
                percentile(ours, 50) / percentile(theirs, 50), 2
            )
            _say("QSqlQueryModel: Ctrl+End (hämtar alla rader)")
            theirs = [self.qt_jump_to_end_ms(whole_sql) for _ in range(min(runs, 3))]
            ref["qsqlquerymodel_jump_to_end_ms"] = round(median(theirs), 1)
            if f.get("jump_to_end_ms") is not None:
                f["jump_end_ratio_vs_qsqlquerymodel"] = round(
                    f["jump_to_end_ms"] / median(theirs), 2
                )
        wait_idle(self.runner)

    def shutdown(self) -> None:
        self.runner.wait()
        if self.qdb is not None:
            self.qdb.close()
        self.qdb = None
        QSqlDatabase.removeDatabase("bench")
        self.db.dispose()


def peak_rss_mb() -> float:
    """This process's own peak resident memory.

    On Linux ``getrusage`` is wrong here: at exec the kernel carries the forking
    parent's peak over into the child's ``ru_maxrss``, so a GUI process started by
    a bench that has just seeded 100,000 cases in-process "peaked" at the seeder's
    866 MB before it drew anything. ``VmHWM`` in /proc belongs to this process's
    own memory map. Elsewhere ``ru_maxrss`` (kilobytes; bytes on macOS).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def main(argv: list[str]) -> int:
    plan_path, out_path = Path(argv[0]), Path(argv[1])
    plan = json.loads(plan_path.read_text(encoding="utf-8"))
    bench = GuiBench(plan)
    try:
        bench.run()
    finally:
        bench.shutdown()
    out_path.write_text(
        json.dumps({"figures": bench.figures, "references": bench.references}), encoding="utf-8"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
