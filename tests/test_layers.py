"""models/ and services/ must run without Qt: importing them with PySide6 blocked works."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = r"""
import importlib.abc, pkgutil, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "PySide6" or name.startswith("PySide6.") or name.startswith("shiboken6"):
            raise ImportError("Qt blocked: " + name)
        return None
sys.meta_path.insert(0, Block())
import models, services
for pkg in (models, services):
    for info in pkgutil.iter_modules(pkg.__path__):
        __import__(pkg.__name__ + "." + info.name)
print("ok", len(sys.modules))
"""


def test_models_and_services_import_without_qt() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok")


def test_probe_really_blocks_qt() -> None:
    """The probe would catch a leak: importing Qt under it fails."""
    probe = PROBE.replace("import models, services", "import PySide6.QtCore")
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "Qt blocked" in result.stderr


def test_ui_never_opens_a_session() -> None:
    """ui/ calls services; it does not import SQLAlchemy sessions or write SQL."""
    offenders = []
    for path in (ROOT / "ui").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if "sqlalchemy" in text or ".begin()" in text or "sessionmaker" in text:
            offenders.append(path.name)
    assert offenders == []
