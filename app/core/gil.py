"""Let the Qt main thread get the GIL back quickly while worker threads run Python.

PySide takes the GIL for many calls Qt makes into Python-derived objects (event filters,
virtual overrides, meta-object lookups), so a paint or a layout pass asks for it dozens of
times. With CPython's default switch interval (5 ms) each request can wait up to 5 ms while an
indexing or generation thread holds it, and these waits add up: the main thread stalled for
285-382 ms in ``tests/ui/test_heartbeat.py`` with no single GIL hold longer than 30 ms. At 1 ms
the same run stalled 26-58 ms. Native work (llama.cpp, torch, the tokenizer, SQLCipher)
releases the GIL, so the shorter slice costs the workers nothing measurable: ``bench index`` on
450 til notes ran 27.9 chunks/s at 1 ms against 27.5 at 5 ms.
"""

from __future__ import annotations

import sys

GUI_SWITCH_INTERVAL_S = 0.001


def favor_responsiveness() -> None:
    """Call once at GUI start, before worker threads begin."""
    sys.setswitchinterval(GUI_SWITCH_INTERVAL_S)
