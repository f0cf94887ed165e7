"""Start of the desktop application (the case register arrives with the desktop issue)."""

from __future__ import annotations

import os
import sys


def _display_available() -> bool:
    if os.environ.get("QT_QPA_PLATFORM"):
        return True
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def run_gui(*, url: str | None) -> int:
    """Open the database and show the main window; returns the exit code."""
    if not _display_available():
        print(
            "fokus: ingen skärm hittades (DISPLAY saknas); sätt QT_QPA_PLATFORM=offscreen för test",
            file=sys.stderr,
        )
        return 3
    from ui.main_window import run

    return run(url=url)
