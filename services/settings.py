"""Typed settings read from the user's settings file (TOML), with defaults.

The file lives in the platform's config directory
(``~/.config/Fokus/settings.toml`` on Linux); ``FOKUS_CONFIG_DIR`` moves it
and ``FOKUS_DATA_DIR`` moves the default database, e.g. for tests.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from services.errors import FokusError

APP_NAME = "Fokus"


def config_dir() -> Path:
    env = os.environ.get("FOKUS_CONFIG_DIR")
    return Path(env) if env else platformdirs.user_config_path(APP_NAME, appauthor=False)


def data_dir() -> Path:
    env = os.environ.get("FOKUS_DATA_DIR")
    return Path(env) if env else platformdirs.user_data_path(APP_NAME, appauthor=False)


def settings_path() -> Path:
    return config_dir() / "settings.toml"


@dataclass(frozen=True)
class Settings:
    """Everything configurable outside the database."""

    database_url: str | None = None
    municipality: str = "Kommunen"
    long_term_threshold_months: int = 27
    long_term_window_months: int = 36
    # The most case summaries an arbetsledare may export as PDF files in one batch.
    batch_export_cap: int = 200
    # Nödåtkomst lasts this many hours; 0 = until the end of the day (services/access.py).
    emergency_access_hours: int = 0
    # Minutes without keyboard or mouse input before the idle lock hides case data.
    idle_lock_minutes: int = 10
    # The follow-up list flags an open case without a contact note for this many weeks.
    no_contact_weeks: int = 8
    # Unsaved note text is autosaved as an encrypted draft this often (seconds).
    draft_autosave_seconds: int = 5


def load_settings(path: Path | None = None) -> Settings:
    """Read the settings file; a missing file gives the defaults."""
    path = path or settings_path()
    if not path.exists():
        return Settings()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise FokusError(f"inställningsfilen {path} kan inte läsas: {exc}") from exc
    known = {k: v for k, v in raw.items() if k in Settings.__dataclass_fields__}
    return Settings(**known)
