"""Engine tests share one tiny model (and adapter) per session, and one loaded engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.config import EngineSettings
from app.core.engine.llm import Engine
from tests.fixtures.tiny_gguf import tiny_gguf, tiny_gguf_plain, tiny_lora  # noqa: F401


@pytest.fixture(scope="session")
def engine(tiny_gguf: Path) -> Iterator[Engine]:  # noqa: F811
    """A loaded engine over the tiny model; tests must leave it without an adapter."""
    e = Engine(EngineSettings(context_size=1024, idle_unload_s=0, max_tokens=64),
               model_path=tiny_gguf)
    yield e
    e.close()
