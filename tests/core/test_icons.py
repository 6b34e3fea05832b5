"""Icon paths resolve to real files of the size their name says."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from app.core import icons


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", path
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def test_app_icons_exist_at_their_sizes() -> None:
    assert icons.app_icon_svg().is_file()
    pngs = icons.app_icon_pngs()
    assert min(pngs) == 16 and max(pngs) == 512
    for size, path in pngs.items():
        assert png_size(path) == (size, size)


@pytest.mark.parametrize("state", icons.TRAY_STATES)
def test_tray_icons_exist_for_each_state(state: str) -> None:
    assert icons.tray_icon_svg(state).is_file()
    for size, path in icons.tray_icon_pngs(state).items():
        assert png_size(path) == (size, size)


def test_unknown_tray_state_is_an_error() -> None:
    with pytest.raises(ValueError):
        icons.tray_icon_pngs("sleeping")
