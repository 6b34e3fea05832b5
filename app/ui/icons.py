"""The app and tray icons, drawn at run time so the state is visible in the icon itself:
idle (plain), indexing (a progress arc), locked (greyed, with a padlock). Main thread only."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPen, QPixmap

ACCENT = QColor("#3d6fd6")
LOCKED = QColor("#80868b")


def state_pixmap(state: str, fraction: float | None = None, size: int = 64) -> QPixmap:
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    p = QPainter(pixmap)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    colour = LOCKED if state == "locked" else ACCENT
    margin = size * 0.06
    box = QRectF(margin, margin, size - 2 * margin, size - 2 * margin)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(colour)
    p.drawRoundedRect(box, size * 0.22, size * 0.22)
    p.setPen(QColor("white"))
    font = QFont()
    font.setBold(True)
    font.setPixelSize(int(size * 0.56))
    p.setFont(font)
    p.drawText(box, Qt.AlignmentFlag.AlignCenter, "F")
    if state == "indexing":
        pen = QPen(QColor("#34a853"), size * 0.1)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        p.setPen(pen)
        ring = box.adjusted(size * 0.05, size * 0.05, -size * 0.05, -size * 0.05)
        span = int(360 * 16 * (fraction if fraction is not None else 0.25))
        p.drawArc(ring, 90 * 16, -max(span, 16 * 12))
    elif state == "locked":
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor("#202124"))
        body = QRectF(size * 0.58, size * 0.62, size * 0.34, size * 0.3)
        p.drawRoundedRect(body, size * 0.04, size * 0.04)
        pen = QPen(QColor("#202124"), size * 0.06)
        p.setPen(pen)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawArc(QRectF(size * 0.63, size * 0.46, size * 0.24, size * 0.3), 0, 180 * 16)
    p.end()
    return pixmap


def state_icon(state: str, fraction: float | None = None) -> QIcon:
    icon = QIcon()
    for size in (16, 22, 32, 64):
        icon.addPixmap(state_pixmap(state, fraction, size))
    return icon


def app_icon() -> QIcon:
    return state_icon("idle")
