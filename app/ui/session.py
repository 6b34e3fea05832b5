"""Opening a runtime for an unlocked profile, off the GUI thread (settings are read from the
encrypted store, folders added, the indexer started). Lane functions only."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from app.core.heap import freeze_long_lived
from app.core.profile.vault import UnlockedProfile
from app.core.settings_store import load_settings
from app.core.tasks import Lanes, TaskState


def open_runtime(state: TaskState, profile: UnlockedProfile, lanes: Lanes,
                 folders: Sequence[Path] = (), model_path: Path | None = None) -> Any:
    """Build the runtime; with onboarding choices, record them first. Runs on ``io``."""
    from app.runtime import Runtime

    runtime = Runtime(profile, load_settings(profile.store), lanes)
    if model_path is not None:
        runtime.settings.engine.model_path = str(model_path)
    if folders or model_path is not None:
        for folder in folders:
            runtime.indexer.library.add(folder)
        runtime.save_settings()
    warm_up(state, runtime)
    return runtime


# Native libraries whose import holds the GIL for long stretches (dlopen, module init): a
# lane importing them while the main window is up would freeze it for a moment.
HEAVY_MODULES = ("numpy", "torch", "sentence_transformers", "chromadb", "llama_cpp")


def warm_up(state: TaskState, runtime: Any) -> None:
    """Import the heavy libraries, open the vector index and load the embedding model now,
    behind the unlock dialog's "Opening…", instead of at the first question or the first
    indexed file. Runs on ``io``."""
    import importlib
    import logging

    for name in HEAVY_MODULES:
        if state.cancelled:
            return
        try:
            importlib.import_module(name)
        except Exception as exc:  # a missing optional part shows up where it is used
            logging.getLogger(__name__).warning("warm-up import of %s failed: %s", name,
                                                type(exc).__name__)
    if state.cancelled:
        return
    runtime.memory.warm_up()
    freeze_long_lived()  # the imported libraries: out of the garbage collector's way


def start_background(state: TaskState, runtime: Any) -> None:
    """Reconcile and watch the folders (the indexer's threads and the index lane), and let
    the personalization worker wait for idle time (the personal lane)."""
    runtime.indexer.start()
    runtime.start_personalization()


def close_runtime(state: TaskState, runtime: Any) -> None:
    """Stop every lane and drop the keys. Runs on the app's own session lane."""
    runtime.close()
