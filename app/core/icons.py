"""Where the icon files are (assets/icons): the app icon and the tray state icons.

Pure paths, no Qt: the UI turns them into a ``QIcon`` (``QIcon(str(path))`` per size), the
packaging scripts copy them. Works from a source checkout and from the PyInstaller bundle,
where ``assets/`` sits next to the ``app`` package (``_internal/assets``), as for
``assets/catalog.json``. Any thread may call these: they only build paths.
"""

from __future__ import annotations

from pathlib import Path

ICONS_DIR = Path(__file__).resolve().parents[2] / "assets" / "icons"
APP_SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)
TRAY_SIZES = (16, 22, 24, 32, 48, 64)
TRAY_STATES = ("idle", "indexing", "locked")


def app_icon_svg() -> Path:
    """The scalable app icon (the source every PNG is rendered from)."""
    return ICONS_DIR / "familiar.svg"


def app_icon_pngs() -> dict[int, Path]:
    """Pixel size -> PNG of the app icon, smallest first."""
    return {size: ICONS_DIR / f"familiar-{size}.png" for size in APP_SIZES}


def tray_icon_svg(state: str) -> Path:
    """The scalable tray icon for ``state`` (idle | indexing | locked)."""
    return ICONS_DIR / f"tray-{_checked(state)}.svg"


def tray_icon_pngs(state: str) -> dict[int, Path]:
    """Pixel size -> PNG of the tray icon for ``state``, smallest first."""
    state = _checked(state)
    return {size: ICONS_DIR / f"tray-{state}-{size}.png" for size in TRAY_SIZES}


def _checked(state: str) -> str:
    if state not in TRAY_STATES:
        raise ValueError(f"unknown tray state {state!r}; expected one of {TRAY_STATES}")
    return state
