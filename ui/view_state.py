"""Window geometry and view state kept between runs (QSettings, never the password).

Only presentation state lives here: geometry, column widths, the last quick
filters and the last username. Real settings are
:class:`services.settings.Settings`. The search text is deliberately not
kept: it is often a name or a personnummer, and this file is plain text on
the workstation's disk.
The file is an INI file in Fokus's config directory (``FOKUS_CONFIG_DIR``
moves it, so tests never touch the developer's real state).
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QByteArray, QSettings

from services.settings import config_dir


@dataclass(frozen=True)
class SavedFilter:
    """The register's quick filters as the user left them (no search text)."""

    mine: bool = False
    focus: bool = False
    long_term: bool = False
    child_family: bool = False
    status: str = ""  # a CaseStatus value, "" for all


def _bool(value: object) -> bool:
    if isinstance(value, str):
        return value.lower() in ("true", "1")
    return bool(value)


class ViewState:
    """Typed access to the QSettings file holding view state."""

    def __init__(self, settings: QSettings) -> None:
        self._s = settings

    @classmethod
    def open(cls, name: str = "ui-state") -> ViewState:
        path = config_dir() / f"{name}.ini"
        return cls(QSettings(str(path), QSettings.Format.IniFormat))

    @property
    def settings(self) -> QSettings:
        return self._s

    def sync(self) -> None:
        self._s.sync()

    # Login
    @property
    def last_username(self) -> str:
        return str(self._s.value("login/username", "") or "")

    @last_username.setter
    def last_username(self, value: str) -> None:
        self._s.setValue("login/username", value)

    # Main window
    def geometry(self, key: str) -> QByteArray | None:
        value = self._s.value(f"{key}/geometry")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def set_geometry(self, key: str, value: QByteArray) -> None:
        self._s.setValue(f"{key}/geometry", value)

    def header_state(self, key: str) -> QByteArray | None:
        value = self._s.value(f"{key}/header")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def set_header_state(self, key: str, value: QByteArray) -> None:
        self._s.setValue(f"{key}/header", value)

    # Register filter
    def register_filter(self) -> SavedFilter:
        g = "register/filter"
        return SavedFilter(
            mine=_bool(self._s.value(f"{g}/mine", False)),
            focus=_bool(self._s.value(f"{g}/focus", False)),
            long_term=_bool(self._s.value(f"{g}/long_term", False)),
            child_family=_bool(self._s.value(f"{g}/child_family", False)),
            status=str(self._s.value(f"{g}/status", "") or ""),
        )

    def set_register_filter(self, f: SavedFilter) -> None:
        g = "register/filter"
        self._s.setValue(f"{g}/mine", f.mine)
        self._s.setValue(f"{g}/focus", f.focus)
        self._s.setValue(f"{g}/long_term", f.long_term)
        self._s.setValue(f"{g}/child_family", f.child_family)
        self._s.setValue(f"{g}/status", f.status)
