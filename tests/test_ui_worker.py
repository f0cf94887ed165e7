"""The background runner's latest-only loads: an older answer never overwrites a newer one."""

from __future__ import annotations

import threading

from ui.worker import LatestOnly

WAIT = 30_000


def _held(release: threading.Event, value: object) -> object:
    assert release.wait(WAIT / 1000), "the first load was never released"
    return value


def test_an_older_answer_arriving_last_is_dropped(qtbot, runner) -> None:  # type: ignore[no-untyped-def]
    loads = LatestOnly(runner)
    release = threading.Event()
    shown: list[object] = []

    def show(value: object) -> None:
        shown.append(value)
        release.set()  # the first (older) load finishes only after the newer one was shown

    loads.run(lambda: _held(release, "mine"), on_done=show)
    loads.run(lambda: "unit", on_done=show)
    qtbot.waitUntil(lambda: not runner.busy, timeout=WAIT)
    assert shown == ["unit"]


def test_an_older_failure_is_dropped_and_the_newest_failure_is_reported(qtbot, runner) -> None:  # type: ignore[no-untyped-def]
    loads = LatestOnly(runner)
    release = threading.Event()
    errors: list[str] = []

    def old() -> object:
        assert release.wait(WAIT / 1000)
        raise RuntimeError("old")

    def new() -> object:
        raise RuntimeError("new")

    def report(exc: BaseException) -> None:
        errors.append(str(exc))
        release.set()

    loads.run(old, on_done=lambda _r: None, on_error=report)
    loads.run(new, on_done=lambda _r: None, on_error=report)
    qtbot.waitUntil(lambda: not runner.busy, timeout=WAIT)
    assert errors == ["new"]


def test_answers_in_order_are_all_shown_when_each_is_the_newest(qtbot, runner) -> None:  # type: ignore[no-untyped-def]
    loads = LatestOnly(runner)
    shown: list[int] = []
    for i in range(3):
        loads.run(lambda i=i: i, on_done=shown.append)
        qtbot.waitUntil(lambda: not runner.busy, timeout=WAIT)
    assert shown == [0, 1, 2]
