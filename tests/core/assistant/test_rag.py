"""The answer pipeline with a scripted model over really indexed notes."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.assistant import prompts
from app.core.assistant.rag import GET_A_MODEL, AnswerEvent
from app.core.tasks import TaskState


def _run(events) -> tuple[list[AnswerEvent], AnswerEvent]:  # type: ignore[no-untyped-def]
    out = list(events)
    assert out[0].kind == "sources" and out[-1].kind == "done"
    return out, out[-1]


def test_citations_map_to_sources(make_assistant, fake, notes: Path) -> None:  # type: ignore[no-untyped-def]
    assistant = make_assistant(fake)
    fake.enqueue("The Kyoto trip is in April and check-in is at 3pm [1].", "Kyoto trip")
    events, done = _run(assistant.ask(TaskState(), "When is the Kyoto trip?"))
    tokens = "".join(e.text for e in events if e.kind == "token")
    assert tokens.strip() == done.message.text
    first = done.message.citations[0]
    assert first.n == 1 and first.cited and first.kind == "file"
    assert first.path == str(notes / "travel.md") and "Japan" in first.location
    assert not any(c.cited for c in done.message.citations[1:])
    # The model saw the numbered, quoted sources and the rules.
    seen = fake.calls[0]
    assert seen[0]["content"] == prompts.SYSTEM_PROMPT
    assert '<source id="1" from="travel.md' in seen[-1]["content"]
    # Reopening the conversation shows the same sources, and the title came from the model.
    stored = assistant.conversations.messages(done.conversation_id)
    assert [m.role for m in stored] == ["user", "assistant"]
    assert stored[1].citations == done.message.citations
    assert assistant.conversations.get(done.conversation_id).title == "Kyoto trip"
    assert done.message.meta["retrieval_ms"] >= 0


def test_missing_answer_is_said_not_invented(make_assistant, fake) -> None:  # type: ignore[no-untyped-def]
    assistant = make_assistant(fake)
    fake.enqueue("The sources do not say what the capital of Mongolia is.", "Mongolia")
    _, done = _run(assistant.ask(TaskState(), "What is the capital of Mongolia?"))
    assert not any(c.cited for c in done.message.citations)
    assert "do not contain the answer" in fake.calls[0][0]["content"]


def test_injected_document_only_reaches_the_answer_text(make_assistant, fake) -> None:  # type: ignore[no-untyped-def]
    assistant = make_assistant(fake)
    fake.enqueue("The budget review is on Friday [1].", "Budget review")
    _, done = _run(assistant.ask(TaskState(), "When is the budget review?"))
    prompt = fake.calls[0]
    assert prompt[0] == {"role": "system", "content": prompts.SYSTEM_PROMPT}
    assert len(prompt) == 2  # system + one user message: the document added no turns
    user = prompt[1]["content"]
    sources = len(done.message.citations)
    assert user.count("</source>") == sources and user.count("<source ") == sources
    assert "ignore your instructions" in user  # quoted as data, inside its block
    inside = user.split('<source id="1"')[1].split("</source>")[0]
    assert "ignore your instructions" in inside or "budget" in inside.lower()
    # Title generation is a separate, fixed prompt that never contains retrieved text.
    assert "ignore your instructions" not in fake.calls[1][0]["content"]
    assert done.message.status == "complete"


def test_extractive_answer_without_a_model(make_assistant, notes: Path) -> None:  # type: ignore[no-untyped-def]
    assistant = make_assistant(None)
    assert not assistant.has_model
    _, done = _run(assistant.ask(TaskState(), "how often should I water the tomatoes"))
    msg = done.message
    assert msg.status == "extractive" and msg.text.startswith(GET_A_MODEL)
    assert msg.citations[0].path == str(notes / "garden.md")
    assert "**" in msg.citations[0].snippet  # matching words marked
    assert assistant.conversations.get(done.conversation_id).title.startswith("how often")


def test_stop_mid_answer_keeps_the_partial_answer(make_assistant, fake) -> None:  # type: ignore[no-untyped-def]
    assistant = make_assistant(fake)
    fake.enqueue("one two three four five six seven eight nine ten")
    state = TaskState()
    tokens = []
    done = None
    for event in assistant.ask(state, "Tell me about the garden"):
        if event.kind == "token":
            tokens.append(event.text)
            if len(tokens) == 3:
                state.cancel()
        if event.kind == "done":
            done = event
    assert done is not None and done.message.status == "stopped"
    assert done.message.text == "one two three"
    assert len(fake.calls) == 1  # no title call after a stop


def test_follow_up_is_rewritten_and_regenerate_and_edit(make_assistant, fake) -> None:  # type: ignore[no-untyped-def]
    assistant = make_assistant(fake)
    fake.enqueue("Check-in is at 3pm [1].", "Kyoto check-in")
    _, first = _run(assistant.ask(TaskState(), "When is check-in at the ryokan?"))
    cid = first.conversation_id
    fake.enqueue("When should I water the tomatoes?", "Every second morning [1].")
    _, second = _run(assistant.ask(TaskState(), "and the plants?", cid))
    rewrite_call = fake.calls[2]
    assert rewrite_call[0]["content"] == prompts.REWRITE_PROMPT
    assert "ryokan" in rewrite_call[1]["content"]
    assert second.message.citations[0].path.endswith("garden.md")  # retrieved by the rewrite
    assert second.message.meta["query_rewritten"] is True
    # Regenerate replaces the last answer.
    fake.enqueue("When should I water the tomatoes?", "Water them every second morning [1].")
    _, again = _run(assistant.regenerate(TaskState(), cid))
    texts = [m.text for m in assistant.conversations.messages(cid)]
    assert texts[-1] == "Water them every second morning [1]." and len(texts) == 4
    # Editing the last question answers the new one.
    fake.enqueue("When is the Kyoto trip?", "In April [1].")
    _, edited = _run(assistant.edit_last_question(TaskState(), cid, "and the trip?"))
    msgs = assistant.conversations.messages(cid)
    assert [m.text for m in msgs[-2:]] == ["and the trip?", "In April [1]."]


def test_empty_question_refused(make_assistant, fake) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        list(make_assistant(fake).ask(TaskState(), "   "))


def test_only_path_restricts_sources(make_assistant, fake, notes: Path) -> None:  # type: ignore[no-untyped-def]
    assistant = make_assistant(fake)
    fake.enqueue("ok", "t")
    _, done = _run(assistant.ask(TaskState(), "trip", only_path=str(notes / "garden.md")))
    assert done.message.citations and all(
        c.path == str(notes / "garden.md") for c in done.message.citations)
