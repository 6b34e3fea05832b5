"""The committed icon files come from the SVG sources, and the tray icons stay legible on
light and dark panels."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.core import icons

ROOT = Path(__file__).resolve().parents[2]
LIGHT_PANEL = (246, 246, 246)
DARK_PANEL = (32, 33, 36)


def luminance(rgb: tuple[int, int, int]) -> float:
    def channel(c: int) -> float:
        v = c / 255
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def visible_share(path: Path, panel: tuple[int, int, int]) -> float:
    """Share of the icon's pixels that stand out from ``panel`` (contrast ratio >= 3)."""
    icon = Image.open(path).convert("RGBA")
    ground = Image.new("RGBA", icon.size, (*panel, 255))
    ground.alpha_composite(icon)
    pixels = [tuple(p) for p in np.asarray(ground.convert("RGB")).reshape(-1, 3).tolist()]
    return sum(contrast(p, panel) >= 3 for p in pixels) / len(pixels)


@pytest.mark.parametrize("state", icons.TRAY_STATES)
@pytest.mark.parametrize("size", [16, 22, 32])
def test_tray_icons_are_legible_on_light_and_dark_panels(state: str, size: int) -> None:
    path = icons.tray_icon_pngs(state)[size]
    for panel in (LIGHT_PANEL, DARK_PANEL):
        assert visible_share(path, panel) >= 0.2, f"{path.name} fades into {panel}"


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGBA"), dtype=np.int32)


def test_tray_states_look_different() -> None:
    images = {s: pixels(icons.tray_icon_pngs(s)[22]) for s in icons.TRAY_STATES}
    for a in icons.TRAY_STATES:
        for b in icons.TRAY_STATES:
            if a < b:
                mean_delta = np.abs(images[a] - images[b]).mean()
                assert mean_delta > 5, f"{a} and {b} are hard to tell apart ({mean_delta:.1f})"


def test_committed_pngs_match_the_svgs(tmp_path: Path, qapp: object) -> None:
    sys.path.insert(0, str(ROOT / "packaging"))
    try:
        import make_icons
    finally:
        sys.path.pop(0)
    assert make_icons.main(["--out", str(tmp_path)]) == 0
    for committed in list(icons.app_icon_pngs().values()) + [
            p for s in icons.TRAY_STATES for p in icons.tray_icon_pngs(s).values()]:
        fresh, old = pixels(tmp_path / committed.name), pixels(committed)
        assert fresh.shape == old.shape
        # Renderer versions differ in anti-aliasing by a few levels; a changed drawing differs
        # by far more. Rerun packaging/make_icons.py after editing an SVG.
        assert np.abs(fresh - old).mean() < 2, f"{committed.name} is stale"


def test_ico_and_icns_hold_the_sizes() -> None:
    ico = Image.open(icons.ICONS_DIR / "familiar.ico")
    assert {(16, 16), (32, 32), (48, 48), (256, 256)} <= set(ico.info["sizes"])
    icns = Image.open(icons.ICONS_DIR / "familiar.icns")
    assert icns.size == (1024, 1024)  # 512@2x, rendered from the SVG, not upscaled
