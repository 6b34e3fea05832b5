"""Keep Python's cyclic garbage collector from stalling the GUI.

A full (generation 2) collection walks every tracked object, and once torch, transformers,
chromadb and Qt are loaded that is millions of objects: measured here at 100-540 ms per
collection, on whichever thread happens to trigger it, with the GIL held, so the Qt main thread
froze for up to 300 ms while indexing and generating (tests/ui/test_heartbeat.py). The objects
created by importing and loading those libraries live as long as the process, so they are moved
out of the collector's sight (``gc.freeze``) once they exist; later collections only walk what
was created since. Reference counting still frees everything as usual; only cyclic garbage that
already exists at a freeze is kept, which is bounded by the few calls below.
"""

from __future__ import annotations

import gc


def freeze_long_lived() -> None:
    """Call after loading something big and permanent (heavy imports, a model)."""
    gc.freeze()
