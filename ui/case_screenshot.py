"""Take the case window's screenshot for the docs from a fresh demo database.

    QT_QPA_PLATFORM=offscreen python -m ui.case_screenshot docs/screenshots/case.png [TAB]

TAB is the tab index to show (default 2, Kontaktlogg). The database is made
with seed-demo in a temporary directory and removed afterwards; nothing real
is ever shown.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import date
from pathlib import Path


def main(argv: list[str]) -> int:
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtWidgets import QApplication

    from services.audit import Actor
    from services.auth import demo_login
    from services.case_view import CaseViewService
    from services.db import open_database
    from services.demo import seed_demo
    from services.register import RegisterService
    from services.search import RegisterFilter
    from ui.case_controller import CaseWindows
    from ui.case_view import CaseView
    from ui.i18n import install_swedish
    from ui.startup import case_services
    from ui.worker import BackgroundRunner

    out = Path(argv[0] if argv else "docs/screenshots/case.png")
    tab = int(argv[1]) if len(argv) > 1 else 2
    app = QApplication.instance() or QApplication([])
    translators = install_swedish(app)  # noqa: F841 - kept alive while the window is shown
    with tempfile.TemporaryDirectory() as tmp:
        db = open_database(f"sqlite:///{Path(tmp) / 'shot.db'}")
        try:
            seed_demo(db, Actor.cli(), cases=60, seed=11, as_of=date(2026, 11, 20))
            user = demo_login(db, "demo")
            view_service = CaseViewService(db=db, actor=user.actor)
            rows = RegisterService(db=db, actor=user.actor).window(RegisterFilter(), limit=60)
            best = None
            for row in rows:
                d = view_service.refresh(row.id)
                score = (len(d.children()) > 0, len(d.notes) if len(d.notes) < 30 else 0)
                if best is None or score > best[0]:
                    best = (score, row.id)
            assert best is not None
            runner = BackgroundRunner()
            windows = CaseWindows(
                source=view_service, runner=runner, services=case_services(db, user.actor)
            )
            controller = windows.open(best[1])
            while controller.detail is None:
                app.processEvents()
                runner.wait(50)
            view = controller.parent()
            assert isinstance(view, CaseView)
            view.resize(1180, 760)
            view.tabs.setCurrentIndex(tab)
            warned = [i for i, n in enumerate(view.notes_model.notes()) if n.missing_consent]
            if warned:
                view.notes.selectRow(warned[-1])
            for _ in range(20):
                app.processEvents()
            out.parent.mkdir(parents=True, exist_ok=True)
            view.grab().save(str(out))
            view.close()
            runner.wait()
            QCoreApplication.processEvents()
        finally:
            db.dispose()
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
