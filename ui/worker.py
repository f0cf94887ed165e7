"""The one background helper: run a callable on a thread pool, answer on the GUI thread.

Worker code never touches a widget. It gets no session either: it calls a
service, which opens its own short transaction in the worker's thread. The
result (or the exception) travels back by a queued signal to
:class:`BackgroundRunner`, which lives in the GUI thread and calls the
callback there (Picard's ``thread.py`` and Anki's ``operations`` do the same).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import shiboken6
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

from services.errors import ConnectionLostError

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


class Runner(Protocol):
    """What a controller needs of :class:`BackgroundRunner` (tests pass stand-ins)."""

    def run(
        self,
        fn: Callable[[], Any],
        *,
        on_done: Callable[[Any], None],
        on_error: Callable[[BaseException], None] | None = None,
        owner: QObject | None = None,
    ) -> int: ...


class _Relay(QObject):
    """Signals emitted from worker threads; created in (and delivered to) the GUI thread."""

    done = Signal(int, object)
    failed = Signal(int, object)
    progress = Signal(int, int, int)


class _Task(QRunnable):
    """Runs ``fn(progress)`` and reports through the relay; never raises into Qt."""

    def __init__(self, task_id: int, fn: Callable[[Progress], Any], relay: _Relay) -> None:
        super().__init__()
        self._id = task_id
        self._fn = fn
        self._relay = relay

    def run(self) -> None:
        try:
            result = self._fn(lambda done, total: self._relay.progress.emit(self._id, done, total))
        except BaseException as exc:  # noqa: BLE001 - handed to the GUI thread, never lost
            self._relay.failed.emit(self._id, exc)
        else:
            self._relay.done.emit(self._id, result)


@dataclass
class _Callbacks:
    on_done: Callable[[Any], None]
    on_error: Callable[[BaseException], None] | None
    on_progress: Callable[[int, int], None] | None
    owner: QObject | None = None

    def owner_gone(self) -> bool:
        """The object the callbacks belong to was deleted (e.g. its window closed)."""
        return self.owner is not None and not shiboken6.isValid(self.owner)


class BackgroundRunner(QObject):
    """Runs slow work off the GUI thread; callbacks always run on the GUI thread.

    ``on_error`` receives the exception; without one, the error is logged and
    re-raised on the GUI thread (so a bug reaches the crash handler or, in
    tests, fails the test). A :class:`ConnectionLostError` is expected, not a
    bug: every task that fails with one emits ``connection_lost`` first (the
    status bar's indicator listens, see :mod:`ui.connection_status`), and
    without an ``on_error`` it is only logged, never sent to the crash dialog.
    """

    connection_lost = Signal(object)

    def __init__(self, *, max_threads: int = 2, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max_threads)
        self._relay = _Relay(self)
        self._relay.done.connect(self._on_done)
        self._relay.failed.connect(self._on_failed)
        self._relay.progress.connect(self._on_progress)
        self._ids = itertools.count(1)
        self._pending: dict[int, _Callbacks] = {}

    def run(
        self,
        fn: Callable[[], Any],
        *,
        on_done: Callable[[Any], None],
        on_error: Callable[[BaseException], None] | None = None,
        owner: QObject | None = None,
    ) -> int:
        """Run ``fn()`` in the pool; returns a task id.

        With ``owner``, the callbacks are dropped if the owner has been
        deleted by the time the result arrives (a window closed mid-load).
        """
        return self.run_with_progress(
            lambda _progress: fn(), on_done=on_done, on_error=on_error, owner=owner
        )

    def run_with_progress(
        self,
        fn: Callable[[Progress], Any],
        *,
        on_done: Callable[[Any], None],
        on_error: Callable[[BaseException], None] | None = None,
        on_progress: Callable[[int, int], None] | None = None,
        owner: QObject | None = None,
    ) -> int:
        """Run ``fn(progress)``; ``progress(done, total)`` may be called from the worker."""
        task_id = next(self._ids)
        self._pending[task_id] = _Callbacks(on_done, on_error, on_progress, owner)
        self._pool.start(_Task(task_id, fn, self._relay))
        return task_id

    @property
    def busy(self) -> bool:
        return bool(self._pending)

    def wait(self, msecs: int = -1) -> bool:
        """Block until every task has finished (on shutdown); True when all did."""
        return self._pool.waitForDone(msecs)

    @Slot(int, object)
    def _on_done(self, task_id: int, result: object) -> None:
        cb = self._pending.pop(task_id, None)
        if cb is not None and not cb.owner_gone():
            cb.on_done(result)

    @Slot(int, object)
    def _on_failed(self, task_id: int, exc: BaseException) -> None:
        cb = self._pending.pop(task_id, None)
        lost = isinstance(exc, ConnectionLostError)
        if lost:
            self.connection_lost.emit(exc)
        if cb is not None and cb.owner_gone():
            log.info("background task %d failed after its owner was closed", task_id)
            return
        if cb is not None and cb.on_error is not None:
            cb.on_error(exc)
            return
        if lost:
            log.warning("background task %d: %s", task_id, exc)
            return
        log.error("background task %d failed", task_id, exc_info=exc)
        raise exc

    @Slot(int, int, int)
    def _on_progress(self, task_id: int, done: int, total: int) -> None:
        cb = self._pending.get(task_id)
        if cb is not None and cb.on_progress is not None and not cb.owner_gone():
            cb.on_progress(done, total)


class LatestOnly:
    """Loads where only the answer to the newest request counts.

    The runner has more than one thread, so two loads of the same list (the
    user changes the scope while the first is still running, or presses
    Uppdatera twice) may finish in either order. Without this, the older
    answer could arrive last and overwrite the newer one: the window would
    show "Mina ärenden" under a combo box that says "Enheten". Each
    :meth:`run` supersedes the ones before it; their results and errors are
    dropped (an error is logged, never lost silently).
    """

    def __init__(self, runner: Runner) -> None:
        self._runner = runner
        self._generation = 0

    def run(
        self,
        fn: Callable[[], Any],
        *,
        on_done: Callable[[Any], None],
        on_error: Callable[[BaseException], None] | None = None,
        owner: QObject | None = None,
    ) -> int:
        self._generation += 1
        generation = self._generation

        def done(result: Any) -> None:
            if generation == self._generation:
                on_done(result)

        def failed(exc: BaseException) -> None:
            if generation != self._generation:
                log.info("a superseded load failed: %s", exc)
                return
            if on_error is not None:
                on_error(exc)
            elif isinstance(exc, ConnectionLostError):
                log.warning("background load: %s", exc)
            else:
                raise exc

        return int(self._runner.run(fn, on_done=done, on_error=failed, owner=owner))
