"""Emit Qt signals from Python without wearing out ``True`` (a PySide6 6.12 bug).

PySide6 6.12's ``SignalInstance.emit()`` returns ``True`` (or ``False``)
without taking a reference to it. Python 3.12 and later make the two bools
immortal, so nothing happens there; on Python 3.11 (Debian 12) every
discarded result takes one reference away from ``True``, and after a few
hundred emits the process aborts with "Fatal Python error: bool_dealloc".

:func:`emit` gives the missing reference back, only when a probe at import
shows the bug, so it becomes a no-op on a fixed PySide6. All Fokus code
emits through it; ``tests/test_ui_register.py`` checks it.
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any

from PySide6.QtCore import QObject, Signal

_py_incref = ctypes.pythonapi.Py_IncRef
_py_incref.argtypes = [ctypes.py_object]
_py_incref.restype = None


class _Probe(QObject):
    ping = Signal()


def _emit_returns_a_borrowed_bool() -> bool:
    """True when holding emit()'s result does not add a reference to it."""
    if sys.version_info >= (3, 12):
        return False  # bools are immortal: a missing reference cannot hurt
    probe = _Probe()
    missing = 0
    for _ in range(3):
        before = sys.getrefcount(True)
        result = probe.ping.emit()
        held = sys.getrefcount(True) - before
        if result is True and held == 0:
            missing += 1
            _py_incref(result)  # give back what the probe itself took
        del result
    return missing == 3


EMIT_NEEDS_FIX = _emit_returns_a_borrowed_bool()


def emit(signal: Any, *args: Any) -> None:
    """``signal.emit(*args)``, compensating for the PySide6 6.12 reference bug."""
    result = signal.emit(*args)
    if EMIT_NEEDS_FIX and (result is True or result is False):
        _py_incref(result)
