"""The app and tray icons from ``assets/icons``; the tray's indexing icon gets a progress arc
drawn over it so the state is readable in the icon itself (idle / indexing n% / locked).
Main thread only (QPixmap)."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPen, QPixmap

from app.core.icons import TRAY_SIZES, app_icon_pngs, tray_icon_pngs

PROGRESS = QColor("#34a853")


def state_pixmap(state: str, fraction: float | None = None, size: int = 64) -> QPixmap:
    """The tray picture for ``idle``, ``indexing`` (with a progress arc) or ``locked``."""
    pixmap = QPixmap(str(tray_icon_pngs(state)[size]))
    if state != "indexing" or fraction is None or pixmap.isNull():
        return pixmap
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    pen = QPen(PROGRESS, max(1.5, size * 0.09))
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    painter.setPen(pen)
    inset = size * 0.08
    ring = QRectF(inset, inset, size - 2 * inset, size - 2 * inset)
    painter.drawArc(ring, 90 * 16, -int(360 * 16 * max(0.03, min(1.0, fraction))))
    painter.end()
    return pixmap


def state_icon(state: str, fraction: float | None = None) -> QIcon:
    icon = QIcon()
    for size in TRAY_SIZES:
        icon.addPixmap(state_pixmap(state, fraction, size))
    return icon


def app_icon() -> QIcon:
    icon = QIcon()
    for path in app_icon_pngs().values():
        icon.addFile(str(path))
    return icon
