"""Keep None, True and False alive under PySide6 6.12 on Python 3.11.

shiboken6 6.12 returns ``None`` (from every void method: ``setText``,
``processEvents``, ``QThreadPool.start`` …) and ``True``/``False`` (from
bool methods and ``Signal.emit``) without taking a reference. Python 3.12
and later make these three objects immortal, so nothing happens there. On
Python 3.11 (Debian 12's Python) every such call takes one reference away:
``True`` starts with about 600, ``None`` with about 5,000, and once one
reaches zero the process aborts ("Fatal Python error: none_dealloc" or
"bool_dealloc") — in a test run, or after an hour of work in the app.

:func:`protect` does what Python 3.12 does: it makes the three singletons
effectively immortal by adding 2**48 to their reference counts (they are
never freed anyway). It runs only when a probe shows the bug, so a fixed
shiboken6 or a newer Python turns it into a no-op. ``ui/__init__.py`` calls
it, so any import of ``ui`` is protected; call it early in any other
process that drives PySide6 a lot (e.g. ``tests/conftest.py``).
"""

from __future__ import annotations

import ctypes
import sys

PLENTY = 1 << 48


def _borrowed(sample: object, call: object) -> bool:
    """True when holding ``call()``'s result (``sample``) adds no reference to it."""
    misses = 0
    for _ in range(3):
        before = sys.getrefcount(sample)
        result = call()  # type: ignore[operator]
        held = sys.getrefcount(sample) - before
        if result is sample and held == 0:
            misses += 1
            _add(sample, 1)  # give back what the probe took
        del result
    return misses == 3


def _add(obj: object, n: int) -> None:
    # ob_refcnt is the first field of every object in CPython before 3.12.
    ctypes.c_ssize_t.from_address(id(obj)).value += n


def needs_protection() -> bool:
    """Probe shiboken6: does a void call return None, or a bool call True, unreferenced?"""
    if sys.implementation.name != "cpython" or sys.version_info >= (3, 12):
        return False
    from PySide6.QtCore import QObject

    probe = QObject()
    probe.setObjectName("refcount-probe")
    probe.blockSignals(True)
    return _borrowed(None, lambda: probe.setObjectName("refcount-probe")) or _borrowed(
        True, lambda: probe.blockSignals(True)
    )


_done = False


def protect() -> bool:
    """Make None/True/False effectively immortal when needed; True if it did."""
    global _done
    if _done:
        return True
    if not needs_protection():
        return False
    for obj in (None, True, False):
        _add(obj, PLENTY)
    _done = True
    return True
