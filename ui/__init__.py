"""The desktop application (PySide6). Imports services, never the reverse."""
