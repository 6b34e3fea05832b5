"""Conversations and messages in the encrypted store: list, search, rename, delete, export.

Any thread may call these (each thread has its own store connection); writes are small rows.
Message sources (citations) are stored with the message as JSON, so reopening a conversation
shows the same sources even after the files were re-indexed.
"""

from __future__ import annotations

import builtins
import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from app.core.errors import FamiliarError
from app.core.memory.fulltext import match_expression
from app.core.profile.store import Store

TITLE_WORDS = 8


class NotFound(FamiliarError):
    """A conversation or message id that does not exist (deleted, or mistyped)."""


@dataclass(frozen=True)
class Citation:
    """One numbered source of an answer: a file passage or a memory."""

    n: int
    kind: str  # "file" | "memory"
    path: str | None
    location: str
    snippet: str
    chunk_id: int | None = None
    cited: bool = True  # False: given to the model, not referred to in the answer

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Citation:
        fields: dict[str, Any] = {k: raw[k] for k in cls.__dataclass_fields__ if k in raw}
        return cls(**fields)


@dataclass(frozen=True)
class Conversation:
    id: int
    title: str
    created: float
    updated: float


@dataclass(frozen=True)
class Message:
    id: int
    conversation_id: int
    role: str  # "user" | "assistant"
    text: str
    created: float
    status: str = "complete"  # complete | stopped | error | extractive
    citations: list[Citation] = field(default_factory=list)
    feedback: int = 0
    meta: dict[str, Any] = field(default_factory=dict)


Messages = list[Message]  # module-level aliases: the class's own ``list`` method shadows
Citations = list[Citation]  # the builtin inside its body


def fallback_title(question: str) -> str:
    words = question.split()
    title = " ".join(words[:TITLE_WORDS])
    return title + ("…" if len(words) > TITLE_WORDS else "")


class Conversations:
    def __init__(self, store: Store):
        self.store = store

    # --- conversations ----------------------------------------------------------------------

    def create(self, title: str = "") -> Conversation:
        now = time.time()
        with self.store.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO conversations (title, title_auto, created, updated) VALUES (?,?,?,?)",
                (title, 0 if title else 1, now, now),
            )
            return Conversation(int(cur.lastrowid), title, now, now)

    def get(self, conversation_id: int) -> Conversation:
        row = self.store.conn.execute(
            "SELECT id, title, created, updated FROM conversations WHERE id = ?",
            (conversation_id,),
        ).fetchone()
        if row is None:
            raise NotFound(f"no conversation {conversation_id}")
        return Conversation(*row)

    def list(self, limit: int = 200) -> builtins.list[Conversation]:
        rows = self.store.conn.execute(
            "SELECT id, title, created, updated FROM conversations ORDER BY updated DESC, id DESC "
            "LIMIT ?",
            (limit,),
        ).fetchall()
        return [Conversation(*r) for r in rows]

    def rename(self, conversation_id: int, title: str) -> None:
        with self.store.transaction() as conn:
            cur = conn.execute(
                "UPDATE conversations SET title = ?, title_auto = 0 WHERE id = ?",
                (title.strip(), conversation_id),
            )
            if cur.rowcount == 0:
                raise NotFound(f"no conversation {conversation_id}")

    def set_auto_title(self, conversation_id: int, title: str) -> None:
        """Set a generated title unless the user has named the conversation."""
        with self.store.transaction() as conn:
            conn.execute(
                "UPDATE conversations SET title = ? WHERE id = ? AND title_auto = 1",
                (title.strip(), conversation_id),
            )

    def delete(self, conversation_id: int) -> None:
        with self.store.transaction() as conn:
            conn.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))

    def search(self, query: str, limit: int = 50) -> builtins.list[tuple[Conversation, str]]:
        """Conversations whose messages match ``query`` (best first), with a marked snippet."""
        expression = match_expression(query)
        if not expression:
            return []
        rows = self.store.conn.execute(
            "SELECT c.id, c.title, c.created, c.updated, "
            "snippet(messages_fts, 0, '**', '**', '…', 12) "
            "FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid "
            "JOIN conversations c ON c.id = m.conversation_id "
            "WHERE messages_fts MATCH ? ORDER BY bm25(messages_fts) LIMIT ?",
            (expression, limit * 4),
        ).fetchall()
        seen: dict[int, tuple[Conversation, str]] = {}
        for cid, title, created, updated, snippet in rows:
            if cid not in seen:
                seen[cid] = (Conversation(cid, title, created, updated), snippet)
        return list(seen.values())[:limit]

    # --- messages ---------------------------------------------------------------------------

    def add_message(self, conversation_id: int, role: str, text: str, *, status: str = "complete",
                    citations: Citations | None = None,
                    meta: dict[str, Any] | None = None) -> Message:
        now = time.time()
        cites: Citations = citations or []
        with self.store.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO messages (conversation_id, role, text, created, status, citations, "
                "meta) VALUES (?,?,?,?,?,?,?)",
                (conversation_id, role, text, now, status,
                 json.dumps([asdict(c) for c in cites]), json.dumps(meta or {})),
            )
            conn.execute("UPDATE conversations SET updated = ? WHERE id = ?",
                         (now, conversation_id))
            return Message(int(cur.lastrowid), conversation_id, role, text, now, status,
                           cites, 0, meta or {})

    def messages(self, conversation_id: int) -> Messages:
        rows = self.store.conn.execute(
            "SELECT id, conversation_id, role, text, created, status, citations, feedback, meta "
            "FROM messages WHERE conversation_id = ? ORDER BY id",
            (conversation_id,),
        ).fetchall()
        return [_message(r) for r in rows]

    def message(self, message_id: int) -> Message:
        row = self.store.conn.execute(
            "SELECT id, conversation_id, role, text, created, status, citations, feedback, meta "
            "FROM messages WHERE id = ?",
            (message_id,),
        ).fetchone()
        if row is None:
            raise NotFound(f"no message {message_id}")
        return _message(row)

    def update_text(self, message_id: int, text: str) -> None:
        with self.store.transaction() as conn:
            conn.execute("UPDATE messages SET text = ? WHERE id = ?", (text, message_id))

    def delete_message(self, message_id: int) -> None:
        with self.store.transaction() as conn:
            conn.execute("DELETE FROM messages WHERE id = ?", (message_id,))

    # --- feedback (read by the personalization worker) --------------------------------------

    def set_feedback(self, message_id: int, value: int) -> None:
        if value not in (-1, 0, 1):
            raise ValueError("feedback is -1, 0 or 1")
        with self.store.transaction() as conn:
            conn.execute("UPDATE messages SET feedback = ? WHERE id = ?", (value, message_id))

    def mark_source(self, message_id: int, chunk_id: int | None, relevant: bool,
                    path: str = "") -> None:
        self._source_event(message_id, chunk_id, "relevant" if relevant else "not_relevant", path)

    def record_open(self, message_id: int, chunk_id: int | None, path: str = "") -> None:
        self._source_event(message_id, chunk_id, "opened", path)

    def _source_event(self, message_id: int, chunk_id: int | None, kind: str, path: str) -> None:
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT INTO source_feedback (message_id, chunk_id, path, kind, created) "
                "VALUES (?,?,?,?,?)",
                (message_id, chunk_id, path, kind, time.time()),
            )

    # --- export -----------------------------------------------------------------------------

    def export_markdown(self, conversation_id: int) -> str:
        conversation = self.get(conversation_id)
        lines = [f"# {conversation.title or 'Conversation'}", ""]
        for m in self.messages(conversation_id):
            who = "You" if m.role == "user" else "Familiar"
            suffix = " *(stopped)*" if m.status == "stopped" else ""
            lines += [f"**{who}:**{suffix}", "", m.text.strip(), ""]
            cited = [c for c in m.citations if c.cited]
            if cited:
                lines.append("Sources:")
                for c in cited:
                    where = f", {c.location}" if c.location else ""
                    what = c.path if c.kind == "file" else "memory"
                    lines.append(f"- [{c.n}] {what}{where}")
                lines.append("")
        return "\n".join(lines).rstrip() + "\n"


def _message(row: tuple[Any, ...]) -> Message:
    mid, cid, role, text, created, status, citations, feedback, meta = row
    return Message(mid, cid, role, text, created, status,
                   [Citation.from_json(c) for c in json.loads(citations)], feedback,
                   json.loads(meta))
