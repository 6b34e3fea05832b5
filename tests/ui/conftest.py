"""GUI test rig: a real profile, the real Runtime over real lanes, the bundled embedder (loaded
once per session), a small indexed folder, and an Opener whose calls are recorded instead of
reaching the desktop."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QUrl

from app.core.assistant.rag import Assistant
from app.core.gil import favor_responsiveness
from app.core.memory.embedder import SentenceEmbedder
from app.core.memory.service import Memory
from app.core.profile.vault import Vault
from app.core.settings_store import load_settings
from app.core.tasks import Lanes
from app.runtime import Runtime
from app.ui.opener import Opener
from app.ui.tasks import UiTasks
from tests.fixtures.fake_engine import FakeEngine
from tests.fixtures.notes import NOTES as BASE_NOTES
from tests.fixtures.notes import embedder, write_notes  # noqa: F401
from tests.fixtures.profiles import PASSPHRASE
from tests.fixtures.tiny_gguf import tiny_gguf  # noqa: F401

NOTES = {**BASE_NOTES, "empty.md": ""}


class RecordingOpener(Opener):
    """Records what would have been opened (the desktop is not touched in tests)."""

    def __init__(self) -> None:
        super().__init__()
        self.opened: list[QUrl] = []
        self.started: list[tuple[str, list[str]]] = []
        self.open_url = self._record
        self.start_detached = lambda program, args: self.started.append((program, args))

    def _record(self, url: QUrl) -> bool:
        self.opened.append(url)
        return True


@pytest.fixture(scope="session", autouse=True)
def _embedding_model_exported(embedder: SentenceEmbedder) -> None:  # noqa: F811
    """The session embedder's first load makes the run's ONNX export, before any test waits
    on a signal with a timeout: an app started by a test then loads it from the cache (0.3 s)
    instead of exporting it (8 s, far more on a loaded machine) inside its unlock."""


@pytest.fixture(scope="session", autouse=True)
def gui_switch_interval() -> None:
    """What ``run_gui`` sets at start; these tests build the app without it."""
    favor_responsiveness()


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    return write_notes(tmp_path / "notes", NOTES)


@pytest.fixture
def lanes() -> Iterator[Lanes]:
    lanes = Lanes()
    yield lanes
    lanes.shutdown()


@pytest.fixture
def tasks(qtbot: Any, lanes: Lanes) -> UiTasks:
    return UiTasks(lanes)


@pytest.fixture
def opener() -> RecordingOpener:
    return RecordingOpener()


def make_runtime(home: Path, lanes: Lanes, embedder: SentenceEmbedder) -> Runtime:  # noqa: F811
    profile, _code = Vault.create(home, passphrase=PASSPHRASE)
    runtime = Runtime(profile, load_settings(profile.store), lanes)
    runtime.__dict__["memory"] = Memory(home, profile.store, profile.subkey("vectors"),
                                        runtime.settings.memory, embedder=embedder)
    return runtime


@pytest.fixture
def runtime(home: Path, lanes: Lanes, embedder: SentenceEmbedder) -> Iterator[Runtime]:  # noqa: F811
    """A real runtime (empty library); the test closes nothing: teardown locks it."""
    rt = make_runtime(home, lanes, embedder)
    yield rt
    rt.close()


@pytest.fixture
def indexed_runtime(runtime: Runtime, notes: Path) -> Runtime:
    """The notes folder added and indexed by the real indexer on the index lane."""
    runtime.indexer.library.add(notes)
    report = runtime.lanes.index.run(runtime.indexer.index_once)
    assert report.indexed == 2 and report.skipped == 1
    return runtime


def with_engine(runtime: Runtime, engine: Any | None) -> Runtime:
    """The real Assistant over this runtime's memory, answering with ``engine``."""
    runtime.__dict__["assistant"] = Assistant(runtime.conversations, runtime.memory.searcher,
                                              engine, runtime.settings.assistant)
    return runtime


@pytest.fixture
def fake_engine() -> FakeEngine:
    return FakeEngine(n_ctx=4096, max_tokens=256)
