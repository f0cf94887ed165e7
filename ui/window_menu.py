"""A menu entry that opens one window, and raises that window when chosen again.

Översikt, Uppföljning, Ärendefördelning and Mål each have one window at a
time. A subclass builds the window and its controller in :meth:`_build`;
this class shows the action, keeps the one window, raises it, forgets it when
it closes (``WA_DeleteOnClose``) and asks the controller to ``load()`` once the
window is shown. ``window`` and ``controller`` are None while it is closed.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QWidget


class OneWindowMenu(QObject):
    """Opens (or raises) the one window behind ``action``."""

    def __init__(self, main_window: QWidget, action: QAction) -> None:
        super().__init__(main_window)
        self._main = main_window
        self.window: Any = None
        self.controller: Any = None
        action.setVisible(True)
        action.triggered.connect(self.open)

    def _build(self) -> tuple[QWidget, Any]:
        """The new window (parented to the main window) and its controller."""
        raise NotImplementedError

    def open(self) -> None:
        if self.window is not None:
            self.window.show()
            self.window.raise_()
            self.window.activateWindow()
            return
        window, controller = self._build()
        window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        window.destroyed.connect(self._on_destroyed)
        self.window, self.controller = window, controller
        window.show()
        controller.load()

    def _on_destroyed(self) -> None:
        self.window = None
        self.controller = None
