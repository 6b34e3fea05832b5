"""Fit system prompt, history, retrieved passages and the question into the context window.

Policy (stated, tested): the system prompt and the question are always kept; if the rest does
not fit, the oldest history is dropped first (a whole turn at a time, so the transcript never
starts with an assistant message), then the lowest-ranked passages. Counting is exact: the
candidate prompt is rendered with the model's chat template and tokenized after every drop.
Pure given ``count``: any thread may call it, but the engine's counter runs on the llm lane.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from app.core.engine.errors import ContextTooSmall

Message = Mapping[str, str]
Layout = Callable[[str, Sequence[Message], Sequence[str], str], list[dict[str, str]]]


def default_layout(system: str, history: Sequence[Message], passages: Sequence[str],
                   question: str) -> list[dict[str, str]]:
    """System message, the history, then one user message: numbered passages + question."""
    messages = [{"role": "system", "content": system}] if system else []
    messages += [{"role": m["role"], "content": m["content"]} for m in history]
    if passages:
        sources = "\n\n".join(f"[{i}] {p}" for i, p in enumerate(passages, 1))
        content = f"{sources}\n\nQuestion: {question}"
    else:
        content = question
    messages.append({"role": "user", "content": content})
    return messages


@dataclass
class FitResult:
    """What goes into the prompt and what was left out (positions in the inputs)."""

    messages: list[dict[str, str]]
    history: list[dict[str, str]]
    passages: list[str]
    kept_passage_ranks: list[int]
    dropped_history: int
    dropped_passage_ranks: list[int] = field(default_factory=list)
    prompt_tokens: int = 0
    budget: int = 0

    @property
    def dropped_anything(self) -> bool:
        return bool(self.dropped_history or self.dropped_passage_ranks)


def fit(
    system: str,
    history: Sequence[Message],
    passages: Sequence[str],
    question: str,
    *,
    budget: int,
    count: Callable[[list[dict[str, str]]], int],
    layout: Layout = default_layout,
) -> FitResult:
    """Keep as much as fits in ``budget`` prompt tokens by the policy above.

    ``passages`` are in rank order, best first. ``count`` returns the prompt tokens of a
    message list. Raises ContextTooSmall when system + question alone exceed the budget.
    """
    hist = [dict(m) for m in history]
    ranks = list(range(len(passages)))
    dropped_hist = 0

    def measure() -> tuple[list[dict[str, str]], int]:
        msgs = layout(system, hist, [passages[i] for i in ranks], question)
        return msgs, count(msgs)

    messages, tokens = measure()
    while tokens > budget and hist:
        drop = 1
        while drop < len(hist) and hist[drop]["role"] != "user":
            drop += 1  # remove the whole oldest turn
        del hist[:drop]
        dropped_hist += drop
        messages, tokens = measure()
    dropped_ranks: list[int] = []
    while tokens > budget and ranks:
        dropped_ranks.append(ranks.pop())
        messages, tokens = measure()
    if tokens > budget:
        raise ContextTooSmall(
            f"the system prompt and question need {tokens} tokens but only {budget} fit in the "
            "model's window; shorten the question or raise the context size in settings"
        )
    return FitResult(
        messages=messages,
        history=hist,
        passages=[passages[i] for i in ranks],
        kept_passage_ranks=ranks,
        dropped_history=dropped_hist,
        dropped_passage_ranks=sorted(dropped_ranks),
        prompt_tokens=tokens,
        budget=budget,
    )
