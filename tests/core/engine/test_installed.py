"""Models folder, manifest, reference registry (store) and the runtime's engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.engine import installed
from app.core.engine.errors import DownloadCancelled, InvalidModel
from app.core.engine.gguf_check import require_model
from app.core.engine.llm import Engine
from app.core.paths import models_dir
from app.core.profile.vault import UnlockedProfile
from app.core.tasks import TaskState
from app.runtime import Runtime
from tests.fixtures.profiles import created, unlocked  # noqa: F401


def test_copy_import_records_the_manifest_and_resolves(tiny_gguf: Path, tmp_path: Path) -> None:
    folder = tmp_path / "models"
    done = installed.import_copy(tiny_gguf, folder)
    assert done.path.read_bytes() == tiny_gguf.read_bytes()
    assert installed.read_manifest(folder)[tiny_gguf.name]["sha256"] == done.sha256
    assert [m["file"] for m in installed.local_models(folder)] == [tiny_gguf.name]
    assert installed.resolve_model(tiny_gguf.name, folder) == done.path
    assert installed.resolve_model(str(done.path), folder) == done.path
    assert installed.resolve_model("qwen2.5-0.5b-instruct", folder) is None  # not downloaded
    (folder / "Qwen2.5-0.5B-Instruct-Q4_K_M.gguf").write_bytes(b"x")
    assert installed.resolve_model("qwen2.5-0.5b-instruct", folder) is not None
    assert installed.resolve_model("", folder) is None


def test_cancelled_copy_leaves_nothing(tiny_gguf: Path, tmp_path: Path) -> None:
    state = TaskState()
    state.cancel()
    with pytest.raises(DownloadCancelled):
        installed.import_copy(tiny_gguf, tmp_path / "models", state=state)
    assert not (tmp_path / "models" / tiny_gguf.name).exists()
    assert not list((tmp_path / "models" / ".partial").iterdir())


def test_adapter_cannot_be_imported_as_a_model(tiny_lora: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidModel, match="LoRA adapter"):
        installed.import_copy(tiny_lora, tmp_path / "models")


def test_references_live_in_the_store(unlocked: UnlockedProfile,  # noqa: F811
                                      tiny_gguf: Path) -> None:
    refs = installed.ModelRefs(unlocked.store)
    info = require_model(tiny_gguf)
    ref_id = refs.add(tiny_gguf, info, "ab" * 32)
    assert refs.add(tiny_gguf, info, "cd" * 32) == ref_id  # same path: updated, not doubled
    [row] = refs.list()
    assert row["path"] == str(tiny_gguf) and row["sha256"] == "cd" * 32 and row["present"]
    assert refs.remove(ref_id) and refs.list() == []


def test_runtime_builds_the_engine_lazily_on_the_llm_lane(unlocked: UnlockedProfile,  # noqa: F811
                                                        tiny_gguf: Path) -> None:
    target = models_dir()
    installed.import_copy(tiny_gguf, target)
    runtime = Runtime.start(unlocked)
    runtime.settings.engine.model_path = tiny_gguf.name  # a file in the models folder
    runtime.settings.engine.context_size = 512
    engine: Engine = runtime.engine
    assert not engine.loaded and engine.model_path == target / tiny_gguf.name
    text = runtime.lanes.llm.run(lambda state: "".join(
        engine.stream_chat([{"role": "user", "content": "hi"}], max_tokens=5, state=state)))
    assert text and engine.loaded
    runtime.close()
    assert not engine.loaded
