"""Opening a cited file with the system's handler, at its page where the format allows it,
and showing it in the file manager. Main thread only (QDesktopServices, QProcess)."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QProcess, QUrl
from PySide6.QtGui import QDesktopServices

_PAGE = re.compile(r"\bpage (\d+)")
_LINES = re.compile(r"\blines (\d+)")


def page_of(location: str) -> int | None:
    match = _PAGE.search(location or "")
    return int(match.group(1)) if match else None


def line_of(location: str) -> int | None:
    match = _LINES.search(location or "")
    return int(match.group(1)) if match else None


def file_url(path: str, location: str = "") -> QUrl:
    """A file URL; PDFs get ``#page=N`` (honoured by most PDF viewers and browsers).
    Text lines have no portable URL form: the file opens at its start."""
    url = QUrl.fromLocalFile(path)
    page = page_of(location)
    if page is not None and Path(path).suffix.lower() == ".pdf":
        url.setFragment(f"page={page}")
    return url


class Opener:
    """``open_url`` and ``start_detached`` are attributes so tests can intercept them."""

    def __init__(self) -> None:
        self.open_url: Callable[[QUrl], bool] = QDesktopServices.openUrl
        self.start_detached: Callable[[str, list[str]], object] = QProcess.startDetached

    def open_file(self, path: str, location: str = "") -> bool:
        return bool(self.open_url(file_url(path, location)))

    def show_in_folder(self, path: str) -> bool:
        target = Path(path)
        if sys.platform == "win32":
            self.start_detached("explorer", [f"/select,{target}"])
            return True
        if sys.platform == "darwin":
            self.start_detached("open", ["-R", str(target)])
            return True
        # freedesktop: no portable "select this file"; open its folder.
        return bool(self.open_url(QUrl.fromLocalFile(str(target.parent))))
