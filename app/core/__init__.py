"""Pure-Python core of Familiar. Never imports PySide6 (tests/core/test_no_qt.py enforces it)."""
