"""The desktop application (PySide6). Imports services, never the reverse.

Importing the package first protects the process against a reference-count
bug of shiboken6 6.12 on Python 3.11 (see :mod:`ui.refcounts`).
"""

from ui.refcounts import protect

protect()
