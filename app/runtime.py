"""The one composition root: builds every service for an unlocked profile.

The GUI and the CLI both call ``Runtime.start(profile)`` and reach services through it; no
module keeps a singleton. Services that load models are built lazily, on first use, so start-up
stays fast and a CLI command pays only for what it touches.
"""

from __future__ import annotations

import logging
from functools import cached_property
from typing import Any

from app.core.config import Settings
from app.core.profile.vault import UnlockedProfile
from app.core.settings_store import load_settings, save_settings
from app.core.tasks import Lanes

log = logging.getLogger(__name__)


class Runtime:
    """Services of one unlocked profile. ``close`` stops the lanes and locks the profile."""

    def __init__(self, profile: UnlockedProfile, settings: Settings, lanes: Lanes | None = None):
        self.profile = profile
        self.settings = settings
        self.lanes = lanes if lanes is not None else Lanes()
        self.window_hidden = False
        self._closed = False

    @classmethod
    def start(cls, profile: UnlockedProfile) -> Runtime:
        return cls(profile, load_settings(profile.store))

    @property
    def store(self) -> Any:
        return self.profile.store

    def save_settings(self) -> None:
        save_settings(self.profile.store, self.settings)

    @cached_property
    def keychain(self) -> Any:
        from app.core.profile.keychain import Keychain

        return Keychain()

    @cached_property
    def memory(self) -> Any:
        """Embedder, ANN index, ingestor (index lane only) and searcher of this profile."""
        from app.core.memory.service import Memory

        return Memory(self.profile.home, self.profile.store, self.profile.subkey("vectors"),
                      self.settings.memory)

    def switch_embedding_model(self, state: Any, embedder: Any) -> int:
        """Index lane: ``embedder`` (loaded, its name saved in ``settings.memory``) embeds
        from now on. The memories are embedded again at once (a few hundred short texts),
        then every stored chunk, with progress in the indexer's status (cancellable; the
        indexer's start-up check resumes it). Returns the chunks re-embedded. Before the
        memory services are built, the next build reads the new name from the settings."""
        from app.core.memory.embedder import close_embedder

        memory = self.__dict__.get("memory")
        if memory is None:
            close_embedder(embedder)
            return 0
        personalizer = self.__dict__.get("personalizer")
        bank = personalizer.bank if (personalizer is not None
                                     and "bank" in personalizer.__dict__) else None
        if bank is None:
            memory.switch_embedder(embedder)
        else:
            with bank.exclusive():  # no recall between the new model and its vectors
                memory.switch_embedder(embedder)
                bank.rebuild()
        indexer = self.__dict__.get("indexer")
        chunks = int(indexer.catch_up_embeddings(state) if indexer is not None
                     else memory.ingestor.reembed(state))
        state.raise_if_cancelled()  # stopped part-way (another switch, the lock): resumed later
        return chunks

    @cached_property
    def indexer(self) -> Any:
        """Watched folders, reconcile, job queue and watcher; processes on the index lane."""
        from app.core.indexing.service import Indexer
        from app.core.memory.ingest import content_hash

        return Indexer(self.profile.store, self.settings.indexing, self.lanes,
                       lambda: self.memory.ingestor, content_hash)

    @cached_property
    def conversations(self) -> Any:
        from app.core.assistant.conversations import Conversations

        return Conversations(self.profile.store)

    @cached_property
    def engine(self) -> Any:
        """The local model over llama.cpp; call it on the llm lane. Loads on first use and
        unloads after ``engine.idle_unload_s`` idle (settings.engine.model_path: a path, a
        file in the models folder or a downloaded catalog id)."""
        from app.core.engine.installed import resolve_model
        from app.core.engine.llm import Engine
        from app.core.paths import models_dir

        settings = self.settings.engine
        return Engine(settings, model_path=resolve_model(settings.model_path, models_dir()),
                      lane=self.lanes.llm)

    @property
    def model_ready(self) -> bool:
        """A model is configured and its file is there (else answers are extractive)."""
        from app.core.engine.installed import resolve_model
        from app.core.paths import models_dir

        path = resolve_model(self.settings.engine.model_path, models_dir())
        return path is not None and path.is_file()

    def set_model(self, spec: str) -> None:
        """Answer with ``spec`` (a path, a file in the models folder or a catalog id) from now
        on: saved, and the engine and assistant are rebuilt on next use. Call it on the llm
        lane so no answer is running on the old engine."""
        self.settings.engine.model_path = spec
        self.save_settings()
        self.__dict__.pop("assistant", None)
        engine = self.__dict__.pop("engine", None)
        if engine is not None:
            engine.close()

    @cached_property
    def assistant(self) -> Any:
        """Answers on the llm lane; extractive when no model is ready."""
        from app.core.assistant.rag import Assistant

        return Assistant(self.conversations, self.personalizer.searcher,
                         self.engine if self.model_ready else None, self.settings.assistant,
                         recall=self.memories)

    @cached_property
    def personalizer(self) -> Any:
        """Idle-time learning: memories, the feedback reranker, the idle scheduler
        (started by the GUI with ``personalizer.start()``)."""
        from app.core.personalization.service import Personalizer

        return Personalizer(self.profile.store, self.settings.personalization,
                            lambda: self.memory,
                            lambda: self.engine if self.model_ready else None, self.lanes,
                            blobs=lambda: self.profile.blobs)

    def start_personalization(self) -> None:
        """Let the idle worker wait for idle time (personal lane). Call it off the GUI
        thread: it builds the memory services."""
        self.personalizer.start()
        self.personalizer.scheduler.set_window_hidden(self.window_hidden)

    def set_window_hidden(self, hidden: bool) -> None:
        """The window went to the tray (idle time for the worker) or came back."""
        self.window_hidden = hidden
        scheduler = self._running_scheduler()
        if scheduler is not None:
            scheduler.set_window_hidden(hidden)

    def note_user_activity(self) -> None:
        """Input from the person: the idle worker steps aside. Cheap enough for every key
        press on the GUI thread: it never builds a service (before the worker has started
        there is nothing to pause)."""
        scheduler = self._running_scheduler()
        if scheduler is not None:
            scheduler.note_activity()

    def _running_scheduler(self) -> Any:
        personalizer = self.__dict__.get("personalizer")
        return personalizer.__dict__.get("scheduler") if personalizer is not None else None

    @property
    def memories(self) -> Any:
        """The user's long-term memories (list, edit, forget, recall)."""
        return self.personalizer.bank

    def close(self) -> None:
        """Stop background work, then drop keys and connections (the lock)."""
        if self._closed:
            return
        self._closed = True
        indexer = self.__dict__.get("indexer")
        if indexer is not None:
            indexer.stop()  # no watcher or ticker queues work onto lanes that are stopping
        self.lanes.shutdown()
        for name in list(self.__dict__):
            service = self.__dict__[name]
            closer = getattr(service, "close", None)
            if name not in ("profile", "settings", "lanes") and callable(closer):
                try:
                    closer()
                except Exception:
                    log.exception("closing service %s failed", name)
        self.profile.lock()
