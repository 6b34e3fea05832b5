"""The GUI's GIL switch interval (see app/core/gil.py for the measurements)."""

from __future__ import annotations

import sys

from app.core.gil import GUI_SWITCH_INTERVAL_S, favor_responsiveness


def test_favor_responsiveness_shortens_the_switch_interval() -> None:
    before = sys.getswitchinterval()
    try:
        favor_responsiveness()
        assert sys.getswitchinterval() == GUI_SWITCH_INTERVAL_S < 0.005
    finally:
        sys.setswitchinterval(before)
