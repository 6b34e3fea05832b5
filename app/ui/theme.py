"""Light and dark palettes; "system" follows the desktop's colour scheme and its changes.

Fusion plus an explicit palette looks the same on every platform and under Xvfb, where no
platform theme supplies a dark palette. Main thread only.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QLabel

THEMES = ("system", "light", "dark")

_DARK = {
    QPalette.ColorRole.Window: "#202124",
    QPalette.ColorRole.WindowText: "#e8eaed",
    QPalette.ColorRole.Base: "#17181a",
    QPalette.ColorRole.AlternateBase: "#2a2b2e",
    QPalette.ColorRole.ToolTipBase: "#2a2b2e",
    QPalette.ColorRole.ToolTipText: "#e8eaed",
    QPalette.ColorRole.Text: "#e8eaed",
    QPalette.ColorRole.Button: "#2d2e31",
    QPalette.ColorRole.ButtonText: "#e8eaed",
    QPalette.ColorRole.BrightText: "#ffffff",
    QPalette.ColorRole.Highlight: "#3d6fd6",
    QPalette.ColorRole.HighlightedText: "#ffffff",
    QPalette.ColorRole.Link: "#8ab4f8",
    QPalette.ColorRole.PlaceholderText: "#9aa0a6",
}

_LIGHT = {
    QPalette.ColorRole.Window: "#f6f6f7",
    QPalette.ColorRole.WindowText: "#1f1f1f",
    QPalette.ColorRole.Base: "#ffffff",
    QPalette.ColorRole.AlternateBase: "#f0f0f2",
    QPalette.ColorRole.ToolTipBase: "#ffffff",
    QPalette.ColorRole.ToolTipText: "#1f1f1f",
    QPalette.ColorRole.Text: "#1f1f1f",
    QPalette.ColorRole.Button: "#ececee",
    QPalette.ColorRole.ButtonText: "#1f1f1f",
    QPalette.ColorRole.BrightText: "#000000",
    QPalette.ColorRole.Highlight: "#2f62c9",
    QPalette.ColorRole.HighlightedText: "#ffffff",
    QPalette.ColorRole.Link: "#1a56c4",
    QPalette.ColorRole.PlaceholderText: "#80868b",
}


def muted_label(text: str = "", wrap: bool = False) -> QLabel:
    """A label for secondary text (notes, status lines) in the palette's placeholder colour,
    so it follows the light and dark themes."""
    label = QLabel(text)
    label.setWordWrap(wrap)
    label.setStyleSheet("color: palette(placeholder-text);")
    return label


def effective_scheme(theme: str) -> str:
    """"light" or "dark" for a theme setting ("system" asks the desktop)."""
    if theme in ("light", "dark"):
        return theme
    scheme = QGuiApplication.styleHints().colorScheme()
    return "dark" if scheme == Qt.ColorScheme.Dark else "light"


def palette_for(scheme: str) -> QPalette:
    palette = QPalette()
    for role, colour in (_DARK if scheme == "dark" else _LIGHT).items():
        palette.setColor(role, QColor(colour))
    disabled = QColor("#6b6f75" if scheme == "dark" else "#a0a4a8")
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText,
                 QPalette.ColorRole.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    return palette


class ThemeController:
    """Applies a theme setting and, for "system", re-applies when the desktop switches."""

    def __init__(self, app: QApplication, theme: str = "system"):
        self.app = app
        self.theme = theme if theme in THEMES else "system"
        app.setStyle("Fusion")
        QGuiApplication.styleHints().colorSchemeChanged.connect(self._system_changed)
        self.apply(self.theme)

    def apply(self, theme: str) -> None:
        self.theme = theme if theme in THEMES else "system"
        self.app.setPalette(palette_for(effective_scheme(self.theme)))

    @property
    def scheme(self) -> str:
        return effective_scheme(self.theme)

    def _system_changed(self, _scheme: object) -> None:
        if self.theme == "system":
            self.apply("system")
