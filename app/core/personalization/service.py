"""The personalization services of one unlocked profile (``Runtime.personalizer``).

Builds the memory bank (recall for the assistant), the reranking searcher (wraps the plain
one), their idle tasks and the idle scheduler. Nothing runs until the GUI calls ``start``
(the CLI runs one session on demand with ``run_now``). The model is reached through
``engine()``, which returns None while no model is ready: extraction then waits.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any

from app.core.config import PersonalizationSettings
from app.core.personalization.adapters import LoraTask
from app.core.personalization.extraction import MemoryExtractor, run_inline
from app.core.personalization.memories import MemoryBank
from app.core.personalization.ranker import RerankingSearcher
from app.core.personalization.ranker_training import RankerTrainer
from app.core.personalization.scheduler import IdleScheduler, IdleTask
from app.core.personalization.state import PersonalState
from app.core.profile.store import Store
from app.core.tasks import Lanes, TaskState


class Personalizer:
    def __init__(self, store: Store, settings: PersonalizationSettings, memory: Callable[[], Any],
                 engine: Callable[[], Any | None], lanes: Lanes | None = None,
                 blobs: Callable[[], Any] | None = None):
        self.store = store
        self._blobs = blobs
        self.settings = settings
        self._memory = memory
        self._engine = engine
        self._lanes = lanes
        self.state = PersonalState(store)

    @cached_property
    def bank(self) -> MemoryBank:
        memory = self._memory()
        return MemoryBank(self.store, memory.embedder, memory.ephemeral("memories"),
                          self.settings)

    @cached_property
    def searcher(self) -> RerankingSearcher:
        """The plain searcher with the feedback reranker after fusion (kill switch:
        ``reranker_enabled``)."""
        searcher = RerankingSearcher(self._memory().searcher, self.store, self.settings)
        self.trainer_for(searcher).load()
        return searcher

    def trainer_for(self, searcher: RerankingSearcher) -> RankerTrainer:
        return RankerTrainer(self.store, lambda: self._memory().searcher, searcher, self.state)

    @cached_property
    def trainer(self) -> RankerTrainer:
        return self.trainer_for(self.searcher)

    def _run_model(self, fn: Callable[[], Any]) -> Any:
        """Model calls go to the llm lane, queued with the user's requests (one at a time)."""
        if self._lanes is None:
            return run_inline(fn)
        return self._lanes.llm.submit("personal-model", lambda _state: fn(),
                                      replace=False).result()

    @cached_property
    def extractor(self) -> MemoryExtractor:
        return MemoryExtractor(self.bank, self.state, self._engine,
                               lambda: self.settings.memories_enabled, self._run_model)

    @cached_property
    def lora(self) -> LoraTask:
        """The opt-in personal adapter (``lora_enabled``); needs the profile's blobs."""
        if self._blobs is None:
            raise RuntimeError("the personal model needs the profile's blob store")
        return LoraTask(self.store, self._blobs(), self.settings, self._engine, self.state,
                        self._run_model)

    @cached_property
    def scheduler(self) -> IdleScheduler:
        tasks: list[IdleTask] = [self.extractor, self.trainer]
        if self._blobs is not None:
            tasks.append(self.lora)
        return IdleScheduler(self.settings, tasks,
                             lane=self._lanes.personal if self._lanes else None, sink=self.state)

    def start(self) -> None:
        """Watch for idle time and work then, and put the user's adapter back on (GUI).
        Every search through ``searcher`` (each question) counts as activity and pauses the
        worker before the answer needs the model; the GUI adds input and window signals
        (``scheduler.note_activity``, ``scheduler.set_window_hidden``)."""
        self.searcher.on_search = self.scheduler.note_activity
        if self._blobs is not None and self._lanes is not None and self.settings.lora_enabled:
            self._lanes.personal.submit("lora-activate", lambda _state: self.lora.activate())
        self.scheduler.start()

    def run_now(self) -> dict[str, Any]:
        """One session now, as if idle (``familiar memory run``), on the calling thread."""
        state = TaskState()
        done: dict[str, Any] = {}
        for task in self.scheduler.tasks:
            while task.pending() and not state.cancelled:
                done[task.name] = task.step(state)
                self.scheduler.record(task.name, done[task.name])
        return done

    def status(self) -> dict[str, Any]:
        scheduler = self.scheduler.status().to_json()
        model = self.searcher.model
        return {
            "scheduler": scheduler,
            "memories": {"enabled": self.settings.memories_enabled,
                         "waiting": self.extractor.waiting_reason(),
                         "backlog": self.extractor.backlog()},
            "reranker": {"enabled": self.settings.reranker_enabled,
                         "active": self.searcher.active,
                         "examples": model.examples if model else 0,
                         "trained_at": model.trained_at if model else None},
            "lora": self.lora.status() if self._blobs is not None else None,
        }

    def close(self) -> None:
        if "scheduler" in self.__dict__:
            self.scheduler.close()
        if "lora" in self.__dict__:
            self.lora.close()
