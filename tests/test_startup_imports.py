"""The login dialog shows without loading what only the main window needs (issue 8).

``start_s`` (the bench's cold start to the painted login dialog) is mostly
imports. The register, the case windows, reportlab (summaries), psycopg (on an
SQLite file) and Alembic (the schema is at head) are not needed to show the
login, so a real start-up in a fresh process must not load them: a later
top-level import that drags one in again fails here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from services.auth import first_run
from services.db import head_from_files, head_revision, open_database

ROOT = Path(__file__).resolve().parent.parent

NOT_BEFORE_LOGIN = [
    "alembic",
    "psycopg",
    "reportlab",
    "faker",
    "services.summary",
    "services.register",
    "services.case_view",
    "ui.case_controller",
    "ui.main_window",
    "ui.register_model",
    "ui.summary_controller",
]

_PROBE = """
import json, sys
from ui.app import run_gui
code = run_gui(url=sys.argv[1])
heavy = json.loads(sys.argv[2])
print("LOADED " + json.dumps(sorted(m for m in heavy if m in sys.modules)))
sys.exit(code)
"""


def test_login_dialog_shows_without_the_main_windows_modules(
    sqlite_url: str, tmp_path: Path
) -> None:
    db = open_database(sqlite_url)
    try:
        first_run(db, "admin", "Ada Admin", "ett långt lösenord 123", "Enheten")
    finally:
        db.dispose()
    env = dict(os.environ)
    env.update(QT_QPA_PLATFORM="offscreen", FOKUS_BENCH_EXIT_AT="login")
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, sqlite_url, json.dumps(NOT_BEFORE_LOGIN)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "FOKUS_BENCH login " in proc.stdout, proc.stderr[-2000:]
    loaded = [ln for ln in proc.stdout.splitlines() if ln.startswith("LOADED ")]
    assert loaded, proc.stdout
    assert json.loads(loaded[-1][len("LOADED ") :]) == []


def test_head_read_from_the_files_is_alembics_head() -> None:
    # The start-up decides "schema at head" from the files' text (no Alembic); it must
    # agree with Alembic itself.
    assert head_from_files() == head_revision()
