"""Job functions the GUI hands to the lanes: ``fn(state, runtime, ...)``.

They run on worker threads and only touch core services (never widgets). Answers run on the
``llm`` lane and ask the indexer to step aside while the user waits; store reads and small
writes run on the ``io`` lane. ``runtime`` is ``app.runtime.Runtime`` (or a test double with
the same attributes): services are built lazily here, on a lane, never on the GUI thread.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from app.core.tasks import TaskState


def _polite(runtime: Any) -> AbstractContextManager[Any]:
    indexer = getattr(runtime, "indexer", None)
    return indexer.user_request() if indexer is not None else nullcontext()


def ask(state: TaskState, runtime: Any, question: str, conversation_id: int | None,
        only_path: str | None) -> Iterator[Any]:
    with _polite(runtime):
        yield from runtime.assistant.ask(state, question, conversation_id, only_path)


def regenerate(state: TaskState, runtime: Any, conversation_id: int) -> Iterator[Any]:
    with _polite(runtime):
        yield from runtime.assistant.regenerate(state, conversation_id)


def edit_last_question(state: TaskState, runtime: Any, conversation_id: int,
                       question: str) -> Iterator[Any]:
    with _polite(runtime):
        yield from runtime.assistant.edit_last_question(state, conversation_id, question)


def list_conversations(state: TaskState, runtime: Any, query: str) -> list[tuple[Any, str]]:
    conversations = runtime.conversations
    if query.strip():
        return list(conversations.search(query))
    return [(c, "") for c in conversations.list()]


def load_messages(state: TaskState, runtime: Any, conversation_id: int) -> tuple[int, list[Any]]:
    return conversation_id, runtime.conversations.messages(conversation_id)


def rename_conversation(state: TaskState, runtime: Any, conversation_id: int, title: str) -> None:
    runtime.conversations.rename(conversation_id, title)


def delete_conversation(state: TaskState, runtime: Any, conversation_id: int) -> int:
    runtime.conversations.delete(conversation_id)
    return conversation_id


def export_conversation(state: TaskState, runtime: Any, conversation_id: int, path: str) -> str:
    """Write the Markdown export to ``path``: the user's explicit choice of a file of their
    own, the one place conversation text leaves the encrypted store."""
    text: str = runtime.conversations.export_markdown(conversation_id)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


def set_feedback(state: TaskState, runtime: Any, message_id: int, value: int) -> None:
    runtime.conversations.set_feedback(message_id, value)


def mark_source(state: TaskState, runtime: Any, message_id: int, chunk_id: int | None,
                path: str, relevant: bool) -> None:
    runtime.conversations.mark_source(message_id, chunk_id, relevant, path)


def record_open(state: TaskState, runtime: Any, message_id: int, chunk_id: int | None,
                path: str) -> None:
    runtime.conversations.record_open(message_id, chunk_id, path)
