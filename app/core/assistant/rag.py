"""The answer pipeline: question -> standalone rewrite -> hybrid retrieval over files and
memories -> context fitted to the window -> streamed answer -> citations -> stored message.

``Assistant.ask``/``regenerate``/``edit_last_question`` are generators of ``AnswerEvent``:
"sources" first, then "token" pieces, then "done" with the stored message. They run on the
``llm`` lane (they call the engine); ``state.cancel()`` from any thread stops the answer within
one token and the partial answer is kept with status "stopped". Without a model the assistant
still answers: the best passages with their sources (status "extractive").
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from app.core.assistant import prompts
from app.core.assistant.conversations import Citation, Conversations, Message, fallback_title
from app.core.config import AssistantSettings
from app.core.tasks import TaskState

log = logging.getLogger(__name__)

GET_A_MODEL = (
    "No language model is installed yet, so this answer is the passages from your files that "
    "best match the question. For written answers, pick a model on the Models page, or run "
    "`familiar models recommend` and `familiar models download ID`."
)
NOTHING_FOUND = "Nothing in your indexed files matches this question."


@dataclass(frozen=True)
class Recollection:
    """A long-term memory retrieved for a question (see app.core.personalization)."""

    memory_id: int
    text: str
    score: float


class MemoryRecall(Protocol):
    def recall(self, query: str, k: int) -> list[Recollection]: ...


@dataclass
class AnswerEvent:
    kind: str  # "sources" | "token" | "done"
    text: str = ""
    sources: list[Citation] = field(default_factory=list)
    message: Message | None = None
    conversation_id: int | None = None


@dataclass
class _Passage:
    citation: Citation
    text: str


class Assistant:
    """Grounded answers over the user's files (``searcher``) and memories (``recall``)."""

    def __init__(self, conversations: Conversations, searcher: Any, engine: Any | None,
                 settings: AssistantSettings, recall: MemoryRecall | None = None):
        self.conversations = conversations
        self.searcher = searcher
        self.engine = engine
        self.settings = settings
        self.recall = recall

    @property
    def has_model(self) -> bool:
        """The runtime passes no engine when no model is configured or its file is gone."""
        return self.engine is not None

    # --- entry points -----------------------------------------------------------------------

    def ask(self, state: TaskState, question: str, conversation_id: int | None = None,
            only_path: str | None = None) -> Iterator[AnswerEvent]:
        question = question.strip()
        if not question:
            raise ValueError("the question is empty")
        if conversation_id is None:
            conversation_id = self.conversations.create().id
        else:
            self.conversations.get(conversation_id)
        history = self._history(self.conversations.messages(conversation_id))
        self.conversations.add_message(conversation_id, "user", question)
        yield from self._answer(state, conversation_id, question, history, only_path)

    def regenerate(self, state: TaskState, conversation_id: int) -> Iterator[AnswerEvent]:
        """Answer the last question again (the previous answer is replaced)."""
        messages = self.conversations.messages(conversation_id)
        last_user = _last_user_index(messages)
        for m in messages[last_user + 1 :]:
            self.conversations.delete_message(m.id)
        question = messages[last_user].text
        history = self._history(messages[:last_user])
        yield from self._answer(state, conversation_id, question, history, None)

    def edit_last_question(self, state: TaskState, conversation_id: int,
                           question: str) -> Iterator[AnswerEvent]:
        question = question.strip()
        if not question:
            raise ValueError("the question is empty")
        messages = self.conversations.messages(conversation_id)
        last_user = _last_user_index(messages)
        self.conversations.update_text(messages[last_user].id, question)
        yield from self.regenerate(state, conversation_id)

    # --- the pipeline -----------------------------------------------------------------------

    def _answer(self, state: TaskState, conversation_id: int, question: str,
                history: list[dict[str, str]], only_path: str | None) -> Iterator[AnswerEvent]:
        started = time.perf_counter()
        query = question
        if history and self.has_model:
            query = self._standalone(history, question, state) or question
        passages = self._retrieve(query, only_path)
        retrieval_ms = (time.perf_counter() - started) * 1000
        state.raise_if_cancelled()
        if not self.has_model:
            yield from self._extractive(conversation_id, passages, retrieval_ms, question)
            return
        assert self.engine is not None
        quoted = [prompts.quote_source(p.citation.n, _label(p.citation), p.text) for p in passages]
        fit = self.engine.fit_context(prompts.SYSTEM_PROMPT, history, quoted, question,
                                      layout=prompts.rag_layout)
        kept = [passages[r] for r in fit.kept_passage_ranks]
        sources = [p.citation for p in kept]
        yield AnswerEvent("sources", sources=sources, conversation_id=conversation_id)
        pieces: list[str] = []
        first_token_at: float | None = None
        status = "complete"
        try:
            for piece in self.engine.stream_chat(fit.messages, state=state):
                if first_token_at is None:
                    first_token_at = time.perf_counter()
                pieces.append(piece)
                yield AnswerEvent("token", text=piece, conversation_id=conversation_id)
            if state.cancelled:
                status = "stopped"
        except GeneratorExit:
            status = "stopped"
            raise
        except Exception:
            status = "error"
            raise
        finally:
            answer = "".join(pieces).strip()
            message = self._store_answer(conversation_id, answer, status, sources, {
                "retrieval_ms": round(retrieval_ms, 1),
                "ttft_ms": round((first_token_at - started) * 1000, 1) if first_token_at else None,
                "tokens_per_s": _tokens_per_s(self.engine, first_token_at, len(pieces)),
                "dropped_history": fit.dropped_history,
                "dropped_passages": len(fit.dropped_passage_ranks),
                "query_rewritten": query != question,
            })
        if status == "complete" and not history:
            self._title(conversation_id, question, answer, state)
        yield AnswerEvent("done", text=answer, sources=message.citations, message=message,
                          conversation_id=conversation_id)

    def _store_answer(self, conversation_id: int, answer: str, status: str,
                      sources: Sequence[Citation], meta: dict[str, Any]) -> Message:
        cited = set(prompts.cited_numbers(answer, len(sources)))
        citations = [replace(c, cited=c.n in cited) for c in sources]
        return self.conversations.add_message(conversation_id, "assistant", answer,
                                              status=status, citations=citations, meta=meta)

    def _extractive(self, conversation_id: int, passages: list[_Passage], retrieval_ms: float,
                    question: str) -> Iterator[AnswerEvent]:
        sources = [p.citation for p in passages[: self.settings.extractive_passages]]
        yield AnswerEvent("sources", sources=sources, conversation_id=conversation_id)
        parts = [GET_A_MODEL, ""]
        if not sources:
            parts.append(NOTHING_FOUND)
        for c in sources:
            where = f", {c.location}" if c.location else ""
            origin = c.path if c.kind == "file" else "memory"
            parts += [f"[{c.n}] {origin}{where}", "> " + c.snippet.replace("\n", " "), ""]
        answer = "\n".join(parts).strip()
        yield AnswerEvent("token", text=answer, conversation_id=conversation_id)
        message = self.conversations.add_message(
            conversation_id, "assistant", answer, status="extractive", citations=sources,
            meta={"retrieval_ms": round(retrieval_ms, 1)})
        if len(self.conversations.messages(conversation_id)) <= 2:
            self.conversations.set_auto_title(conversation_id, fallback_title(question))
        yield AnswerEvent("done", text=answer, sources=sources, message=message,
                          conversation_id=conversation_id)

    def _retrieve(self, query: str, only_path: str | None) -> list[_Passage]:
        from app.core.memory.search import Filters

        k = self.settings.passages
        if only_path:  # a file dropped onto the chat: its own passages only
            hits = self.searcher.search(query, k=k, filters=Filters(paths=(Path(only_path),)),
                                        per_file=k)
        else:
            hits = self.searcher.search(query, k=k)
        files = [_Passage(Citation(0, "file", str(h.path), h.location, h.snippet, h.chunk_id),
                          h.text) for h in hits]
        memories: list[_Passage] = []
        if self.recall is not None and not only_path:
            memories = [_Passage(Citation(0, "memory", None, "memory", r.text, None,), r.text)
                        for r in self.recall.recall(query, self.settings.memories)]
        ordered = files[:3] + memories + files[3:]
        return [_Passage(replace(p.citation, n=i), p.text) for i, p in enumerate(ordered, 1)]

    def _standalone(self, history: list[dict[str, str]], question: str,
                    state: TaskState) -> str:
        assert self.engine is not None
        text = "".join(self.engine.stream_chat(prompts.rewrite_messages(history, question),
                                               max_tokens=64, temperature=0.0, state=state))
        return prompts.clean_line(text, limit=400)

    def _title(self, conversation_id: int, question: str, answer: str, state: TaskState) -> None:
        title = ""
        try:
            assert self.engine is not None
            text = "".join(self.engine.stream_chat(prompts.title_messages(question, answer),
                                                   max_tokens=16, temperature=0.0, state=state))
            title = prompts.clean_line(text, limit=60)
        except Exception as exc:  # a title is a nicety; the answer is already stored
            log.warning("title generation failed: %s", type(exc).__name__)
        self.conversations.set_auto_title(conversation_id, title or fallback_title(question))

    def _history(self, messages: Sequence[Message]) -> list[dict[str, str]]:
        turns = [m for m in messages if m.status in ("complete", "extractive") or m.role == "user"]
        recent = turns[-2 * self.settings.history_turns :]
        while recent and recent[0].role != "user":
            recent = recent[1:]
        return [{"role": m.role, "content": m.text} for m in recent]


def _last_user_index(messages: Sequence[Message]) -> int:
    for i in range(len(messages) - 1, -1, -1):
        if messages[i].role == "user":
            return i
    raise ValueError("this conversation has no question to answer again")


def _label(c: Citation) -> str:
    if c.kind == "memory":
        return "memory"
    name = Path(c.path).name if c.path else ""
    return f"{name}, {c.location}" if c.location else name


def _tokens_per_s(engine: Any, first_token_at: float | None, pieces: int) -> float | None:
    stats = getattr(engine, "last_stats", None)
    total_s = float(getattr(stats, "total_s", 0.0) or 0.0)
    tokens = int(getattr(stats, "completion_tokens", 0) or 0)
    if total_s and tokens:
        gen_s = max(total_s - float(getattr(stats, "ttft_s", 0.0)), 1e-6)
        return round(max(tokens - 1, 1) / gen_s, 2)
    if first_token_at is None:
        return None
    return round(pieces / max(time.perf_counter() - first_token_at, 1e-6), 2)
