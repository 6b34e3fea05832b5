"""Extraction of memory candidates from the user's messages with the local model.

The model reads a batch of the user's own messages not yet processed (oldest first) and
answers JSON constrained by ``CANDIDATES_SCHEMA`` (llama.cpp grammar): text, kind, confidence
and the id of the message each candidate came from. Contradictions are decided by the model
too (``judge``): given a new statement and the related memories, it answers duplicate,
replaces (the newer statement wins) or new. Messages whose memories were forgotten are never
given to the model again. Without a model nothing is extracted: the task is not pending.

``MemoryExtractor`` is an ``IdleTask`` for the scheduler (personal lane); model calls go
through ``run_model`` (the runtime sends them to the llm lane, one at a time with the user's
requests, and checks the session's cancel flag first). The session's TaskState goes with each
call, so a pause stops the model even while it reads an extraction prompt (up to
``extraction_batch`` x ``MAX_MESSAGE_CHARS`` characters): ``complete_json`` raises
``Cancelled`` and the step keeps nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from app.core.personalization.memories import KINDS, Candidate, MemoryBank, StoredMemory
from app.core.personalization.state import PersonalState
from app.core.tasks import TaskState

T = TypeVar("T")
CURSOR_KEY = "memories.cursor"
MAX_CANDIDATES = 6
MAX_TEXT = 160
MAX_MESSAGE_CHARS = 1500

def candidates_schema(max_items: int = MAX_CANDIDATES, max_text: int = MAX_TEXT
                      ) -> dict[str, Any]:
    """The JSON schema of extracted candidates (bounded, so generation always ends)."""
    return {
        "type": "object",
        "properties": {
            "memories": {
                "type": "array",
                "maxItems": max_items,
                "items": {
                    "type": "object",
                    "properties": {
                        "text": {"type": "string", "maxLength": max_text},
                        "kind": {"type": "string", "enum": list(KINDS)},
                        "confidence": {"type": "number"},
                        "source_message_id": {"type": "integer"},
                    },
                    "required": ["text", "kind", "confidence", "source_message_id"],
                },
            },
        },
        "required": ["memories"],
    }


CANDIDATES_SCHEMA = candidates_schema()

JUDGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "decision": {"type": "string", "enum": ["duplicate", "replaces", "new"]},
        "memory_id": {"type": "integer"},
    },
    "required": ["decision", "memory_id"],
}

EXTRACT_SYSTEM = (
    "You keep a private notebook about the user of this assistant. From the user's messages "
    "below, write down only lasting facts and preferences about the user: who they are, "
    "where they live or work, people in their life, their tools, tastes, habits and goals. "
    "Skip questions, one-off requests and anything about other topics. Write each as one "
    "short sentence about 'the user'. Give the id of the message it comes from and a "
    "confidence between 0 and 1. If there is nothing lasting, answer an empty list."
)

JUDGE_SYSTEM = (
    "You maintain a notebook of facts about the user. Compare a NEW statement with the "
    "EXISTING notes. Answer 'duplicate' with a note's id if the new statement says the same "
    "thing; 'replaces' with a note's id if it contradicts or updates that note (the new "
    "statement is more recent and wins); 'new' with memory_id 0 otherwise."
)


def extraction_messages(batch: Sequence[tuple[int, str]]) -> list[dict[str, str]]:
    lines = [f"[message {mid}]\n{text[:MAX_MESSAGE_CHARS]}" for mid, text in batch]
    return [{"role": "system", "content": EXTRACT_SYSTEM},
            {"role": "user", "content": "\n\n".join(lines)}]


def judge_messages(candidate: Candidate, related: Sequence[StoredMemory]) -> list[dict[str, str]]:
    notes = "\n".join(f"[{m.id}] {m.text}" for m in related)
    return [{"role": "system", "content": JUDGE_SYSTEM},
            {"role": "user", "content": f"EXISTING:\n{notes}\n\nNEW: {candidate.text}"}]


def parse_candidates(value: Any, batch_ids: set[int]) -> list[Candidate]:
    """Candidates from the model's JSON, keeping only those that name a message of the batch."""
    items = value.get("memories", []) if isinstance(value, dict) else []
    out: list[Candidate] = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        try:
            source = int(item.get("source_message_id", -1))
            confidence = float(item.get("confidence", 0.0))
        except (TypeError, ValueError):
            continue
        text = str(item.get("text", "")).strip()
        if source in batch_ids and text:
            out.append(Candidate(text, str(item.get("kind", "other")), confidence, source))
    return sorted(out, key=lambda c: c.message_id)


RunModel = Callable[[Callable[[], T]], T]


def run_inline(fn: Callable[[], T]) -> T:
    return fn()


class MemoryExtractor:
    """The idle task that turns new user messages into consolidated memories."""

    name = "memories"

    def __init__(self, bank: MemoryBank, state_store: PersonalState,
                 engine: Callable[[], Any | None], enabled: Callable[[], bool],
                 run_model: Callable[[Callable[[], Any]], Any] = run_inline,
                 schema: dict[str, Any] | None = None):
        self.bank = bank
        self.schema = schema if schema is not None else CANDIDATES_SCHEMA
        self.state_store = state_store
        self._engine = engine
        self._enabled = enabled
        self._run_model = run_model

    @property
    def cursor(self) -> int:
        return int(self.state_store.get(CURSOR_KEY, 0))

    def waiting_reason(self) -> str | None:
        if not self._enabled():
            return "memories are turned off"
        if self._engine() is None:
            return "waiting for a model"
        return None

    def backlog(self) -> int:
        return int(self.bank.store.conn.execute(
            "SELECT count(*) FROM messages WHERE role = 'user' AND id > ?",
            (self.cursor,)).fetchone()[0])

    def pending(self) -> bool:
        return self.waiting_reason() is None and self.backlog() > 0

    def _next_batch(self) -> tuple[list[tuple[int, str]], int]:
        """Up to ``extraction_batch`` unprocessed user messages and the cursor after them."""
        rows = self.bank.store.conn.execute(
            "SELECT id, text FROM messages WHERE role = 'user' AND id > ? ORDER BY id LIMIT ?",
            (self.cursor, max(1, self.bank.settings.extraction_batch))).fetchall()
        if not rows:
            return [], self.cursor
        blocked = self.bank.tombstoned()
        batch = [(int(i), str(t)) for i, t in rows if int(i) not in blocked]
        return batch, int(rows[-1][0])

    def step(self, state: TaskState) -> dict[str, Any]:
        engine = self._engine()
        if engine is None:
            return {"waiting": "no model"}
        batch, new_cursor = self._next_batch()
        counts: dict[str, int] = {"messages": len(batch), "candidates": 0}
        if batch:
            value = self._call(engine, state, lambda: engine.complete_json(
                extraction_messages(batch), self.schema, max_tokens=2048,
                temperature=0.0, state=state))
            state.raise_if_cancelled()
            candidates = parse_candidates(value, {mid for mid, _ in batch})
            counts["candidates"] = len(candidates)
            counts.update(self.bank.consolidate(
                candidates, lambda c, related: self._judge(engine, state, c, related)))
        state.raise_if_cancelled()
        self.state_store.set(CURSOR_KEY, new_cursor)
        counts["backlog"] = self.backlog()
        counts["total"] = self.bank.count()
        return counts

    def _call(self, engine: Any, state: TaskState, fn: Callable[[], Any]) -> Any:
        def guarded() -> Any:
            state.raise_if_cancelled()  # a user request came first: do not take the model
            return fn()

        return self._run_model(guarded)

    def _judge(self, engine: Any, state: TaskState, candidate: Candidate,
               related: Sequence[StoredMemory]) -> tuple[str, int] | None:
        value = self._call(engine, state, lambda: engine.complete_json(
            judge_messages(candidate, related), JUDGE_SCHEMA, max_tokens=64,
            temperature=0.0, state=state))
        state.raise_if_cancelled()
        if not isinstance(value, dict):
            return None
        decision = str(value.get("decision", "new"))
        try:
            memory_id = int(value.get("memory_id", 0))
        except (TypeError, ValueError):
            return None
        return (decision, memory_id) if decision in ("duplicate", "replaces") else None
