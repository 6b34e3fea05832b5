"""Render every icon file from the SVG sources in assets/icons (run after editing an SVG).

    QT_QPA_PLATFORM=offscreen .venv/bin/python packaging/make_icons.py

Qt's own SVG renderer (QSvgRenderer on a QImage, offscreen) draws the PNGs, so the files look
exactly like what the app draws from the same SVGs; Pillow packs the Windows .ico and the
macOS .icns from those PNGs. The outputs are committed: a build never needs this script.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ICONS = Path(__file__).resolve().parent.parent / "assets" / "icons"
APP_SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)
TRAY_SIZES = (16, 22, 24, 32, 48, 64)
TRAY_STATES = ("idle", "indexing", "locked")
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
ICNS_SIZES = (16, 32, 64, 128, 256, 512)


def render(svg: Path, size: int, out: Path) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"not a valid SVG: {svg}")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    if not image.save(str(out), "PNG"):
        raise SystemExit(f"could not write {out}")


def pack_ico_icns(icons: Path) -> None:
    from PIL import Image

    def png(size: int) -> Image.Image:
        return Image.open(icons / f"familiar-{size}.png").convert("RGBA")

    big = png(256)
    big.save(icons / "familiar.ico", format="ICO", sizes=[(s, s) for s in ICO_SIZES],
             append_images=[png(s) for s in ICO_SIZES if s != 256])
    with tempfile.TemporaryDirectory() as tmp:  # 1024 px (512@2x) only goes into the .icns
        retina = Path(tmp) / "familiar-1024.png"
        render(ICONS / "familiar.svg", 1024, retina)
        Image.open(retina).convert("RGBA").save(
            icons / "familiar.icns", format="ICNS", append_images=[png(s) for s in ICNS_SIZES])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ICONS, help="output folder (default: assets/icons)")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841 (keeps Qt up)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    for size in APP_SIZES:
        render(ICONS / "familiar.svg", size, out / f"familiar-{size}.png")
    for state in TRAY_STATES:
        for size in TRAY_SIZES:
            render(ICONS / f"tray-{state}.svg", size, out / f"tray-{state}-{size}.png")
    pack_ico_icns(out)
    print(f"wrote {len(APP_SIZES) + len(TRAY_STATES) * len(TRAY_SIZES) + 2} files to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
