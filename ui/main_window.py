"""The main window (the register, a status bar, the DEMO marker) and the GUI entry point.

:class:`MainWindow` lays out; :class:`MainWindowController` keeps geometry
and the status bar. :func:`run` is what ``python main.py`` starts.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import QLabel, QMainWindow, QVBoxLayout, QWidget

from ui.register_view import RegisterView

DEMO_STYLE = (
    "QLabel#demoBanner { background: #f2c230; color: #1a1a1a; font-weight: bold;"
    " padding: 6px 10px; border-bottom: 1px solid #b38f1f; }"
)


class MainWindow(QMainWindow):
    """The caseworker's window: register in the middle, counts at the bottom."""

    closing = Signal()  # emitted before the window closes, e.g. to save its geometry
    new_case_requested = Signal()  # Ctrl+N; wired to the new-case form when cases can be edited

    def __init__(self, *, user_label: str, demo: bool = False) -> None:
        super().__init__()
        title = self.tr("Fokus – DEMO") if demo else self.tr("Fokus")
        self.setWindowTitle(f"{title} – {user_label}")
        self.setObjectName("fokusMainWindow")

        self.register = RegisterView()
        self.demo_banner: QLabel | None = None
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        if demo:
            self.demo_banner = QLabel(
                self.tr(
                    "DEMO – påhittade ärenden i en separat demodatabas. "
                    "Inget här rör riktiga personer."
                )
            )
            self.demo_banner.setObjectName("demoBanner")
            self.demo_banner.setAccessibleName(self.tr("Demoläge"))
            self.demo_banner.setStyleSheet(DEMO_STYLE)
            layout.addWidget(self.demo_banner)
        layout.addWidget(self.register, 1)
        self.setCentralWidget(central)

        self.count_label = QLabel()
        self.database_label = QLabel()
        self.user_label = QLabel(user_label)
        # "Ansluten"/"Frånkopplad" for a database server (ui.connection_status); hidden for
        # a local file, which cannot lose its connection.
        self.connection_label = QLabel()
        self.connection_label.setObjectName("connectionStatus")
        self.connection_label.setVisible(False)
        bar = self.statusBar()
        bar.addWidget(self.count_label, 1)
        bar.addPermanentWidget(self.user_label)
        bar.addPermanentWidget(self.database_label)
        bar.addPermanentWidget(self.connection_label)

        file_menu = self.menuBar().addMenu(self.tr("&Arkiv"))
        self.new_case_action = QAction(self.tr("&Nytt ärende …"), self)
        self.new_case_action.setShortcut(QKeySequence.StandardKey.New)
        self.new_case_action.setVisible(False)
        self.new_case_action.triggered.connect(self.new_case_requested)
        file_menu.addAction(self.new_case_action)
        # Shown by the controller when summaries are wired (export: for an arbetsledare only).
        self.print_summary_action = QAction(self.tr("Skriv ut &sammanfattning …"), self)
        self.print_summary_action.setShortcut(QKeySequence.StandardKey.Print)
        self.print_summary_action.setVisible(False)
        self.export_summaries_action = QAction(self.tr("&Exportera sammanfattningar …"), self)
        self.export_summaries_action.setVisible(False)
        file_menu.addAction(self.print_summary_action)
        file_menu.addAction(self.export_summaries_action)
        # Nödåtkomst: shown for handläggare and arbetsledare (ui.emergency_access).
        self.emergency_action = QAction(self.tr("Nöd&åtkomst till ärende …"), self)
        self.emergency_action.setVisible(False)
        file_menu.addAction(self.emergency_action)
        file_menu.addSeparator()
        self.quit_action = QAction(self.tr("&Avsluta"), self)
        self.quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        file_menu.addAction(self.quit_action)
        view_menu = self.menuBar().addMenu(self.tr("&Visa"))
        self.search_action = QAction(self.tr("&Sök i registret"), self)
        self.search_action.setShortcut(QKeySequence(self.tr("Ctrl+F")))
        self.refresh_action = QAction(self.tr("&Uppdatera"), self)
        self.refresh_action.setShortcut(QKeySequence.StandardKey.Refresh)
        view_menu.addAction(self.search_action)
        view_menu.addAction(self.refresh_action)
        self.addAction(self.search_action)
        # Översikt, Uppföljning and Långvariga (issue 5): hidden until their menus are installed.
        view_menu.addSeparator()
        self.dashboard_action = QAction(self.tr("Ö&versikt …"), self)
        self.followup_action = QAction(self.tr("Upp&följning …"), self)
        self.long_term_action = QAction(self.tr("&Långvariga …"), self)
        for action in (self.dashboard_action, self.followup_action, self.long_term_action):
            action.setVisible(False)
            view_menu.addAction(action)
        # Role menus: hidden until the controller shows them for an arbetsledare / administratör.
        self.leader_menu = self.menuBar().addMenu(self.tr("Arbets&ledning"))
        self.leader_menu.setObjectName("leaderMenu")
        self.audit_review_action = QAction(self.tr("&Logguppföljning …"), self)
        self.leader_menu.addAction(self.audit_review_action)
        self.caseload_action = QAction(self.tr("Ärende&fördelning …"), self)
        self.targets_action = QAction(self.tr("&Mål …"), self)
        for action in (self.caseload_action, self.targets_action):
            action.setVisible(False)
            self.leader_menu.addAction(action)
        self.leader_menu.menuAction().setVisible(False)
        self.admin_menu = self.menuBar().addMenu(self.tr("A&dministration"))
        self.admin_menu.setObjectName("adminMenu")
        self.users_action = QAction(self.tr("&Användare …"), self)
        self.admin_menu.addAction(self.users_action)
        self.settings_action = QAction(self.tr("&Databasanslutning …"), self)
        self.settings_action.setVisible(False)
        self.admin_menu.addAction(self.settings_action)
        self.admin_menu.menuAction().setVisible(False)

        self.resize(1200, 720)
        # Asked before the window closes (Avsluta, Ctrl+Q, the window's X): the controller
        # closes the case windows first, each asking about its unsaved changes.
        self.close_guard: Callable[[], bool] = lambda: True

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if not self.close_guard():
            event.ignore()
            return
        self.closing.emit()
        super().closeEvent(event)
        # The list and tool windows opened from here (Översikt, Långvariga, Uppföljning …)
        # close with it: hidden, they would keep Fokus running after its main window
        # closed, since Qt quits only when the last window has closed.
        for child in self.findChildren(QWidget):
            if child.isWindow() and child.isVisible():
                child.close()


def run(*, url: str | None) -> int:
    """Start the desktop app on ``url`` (or the configured database); returns the exit code."""
    from ui.startup import run_app

    return run_app(url=url)
