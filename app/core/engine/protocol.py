"""The seam between the engine and its callers (assistant, personalization, bench).

``Engine`` (llm.py) implements it over llama.cpp; ``tests/fixtures/fake_engine.FakeEngine``
implements it with scripted answers so tests of callers run in milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from app.core.engine.context_fit import FitResult, Layout
from app.core.tasks import TaskState

Message = Mapping[str, str]


class EngineProtocol(Protocol):
    @property
    def n_ctx(self) -> int: ...

    def stream_chat(self, messages: Sequence[Message], *, max_tokens: int | None = None,
                    temperature: float | None = None, top_p: float | None = None,
                    seed: int | None = None, stop: Sequence[str] = (),
                    state: TaskState | None = None) -> Iterator[str]: ...

    def count_tokens(self, text: str) -> int: ...

    def fit_context(self, system: str, history: Sequence[Message], passages: Sequence[str],
                    question: str, *, reserve_tokens: int | None = None,
                    layout: Layout = ...) -> FitResult: ...

    def complete_json(self, messages: Sequence[Message], schema: Mapping[str, Any], *,
                      max_tokens: int = 512, temperature: float = 0.0,
                      seed: int | None = None, state: TaskState | None = None) -> Any: ...

    def load_lora(self, path: Path | str, scale: float = 1.0) -> None: ...

    def unload_lora(self) -> None: ...

    def close(self) -> None: ...
