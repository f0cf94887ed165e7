"""Swedish through Qt's own pipeline: the qtbase_sv catalogue and a Swedish default locale.

Fokus's own strings are written in Swedish; the catalogue translates what Qt
itself draws (standard buttons say "Avbryt", context menus "Klipp ut").
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTranslator

log = logging.getLogger(__name__)

SWEDISH = QLocale(QLocale.Language.Swedish, QLocale.Country.Sweden)


def install_swedish(app: QCoreApplication) -> list[QTranslator]:
    """Set the Swedish default locale and load ``qtbase_sv``; returns the translators to keep."""
    QLocale.setDefault(SWEDISH)
    translators: list[QTranslator] = []
    path = QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)
    translator = QTranslator(app)
    if translator.load(SWEDISH, "qtbase", "_", path):
        app.installTranslator(translator)
        translators.append(translator)
    else:
        log.warning("qtbase_sv translation not found in %s", path)
    return translators


def format_count(n: int) -> str:
    """12345 → "12 345" with the Swedish group separator (a no-break space)."""
    return SWEDISH.toString(n)
