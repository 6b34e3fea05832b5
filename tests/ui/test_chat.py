"""The chat page over the real Assistant, Conversations, search and indexer, answering with a
scripted model (FakeEngine) or the tiny real GGUF: text streams in, Stop stops, sources show
and open (the open call is recorded), feedback is stored, regenerate and edit work."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDropEvent

from app.core.config import EngineSettings
from app.runtime import Runtime
from app.ui.chat.chat_page import ChatPage
from app.ui.tasks import UiTasks
from tests.fixtures.fake_engine import FakeEngine
from tests.fixtures.gated_engine import GatedEngine
from tests.ui.conftest import RecordingOpener, with_engine

ANSWER = "The Kyoto trip is in April [1]. Check-in is at 3pm."


def _page(qtbot: Any, runtime: Runtime, tasks: UiTasks, opener: RecordingOpener) -> ChatPage:
    page = ChatPage(runtime, tasks, opener)
    qtbot.addWidget(page)
    page.resize(1100, 700)
    page.show()
    page.start()
    return page


def _answers(page: ChatPage) -> list[Any]:
    return [w for w in page.chat.widgets if w.role == "assistant"]


def test_scripted_answer_streams_with_sources_that_open(
        qtbot: Any, indexed_runtime: Runtime, tasks: UiTasks, opener: RecordingOpener,
        fake_engine: FakeEngine) -> None:
    fake_engine.enqueue(ANSWER, "Kyoto in April")  # the answer, then the title
    with_engine(indexed_runtime, fake_engine)
    page = _page(qtbot, indexed_runtime, tasks, opener)
    page.chat.input.setPlainText("When is the Kyoto trip?")
    with qtbot.waitSignal(page.chat.answer_finished, timeout=20000) as done:
        page.chat.send_or_stop()
    message = done.args[0]
    assert message.status == "complete" and message.text == ANSWER
    widget = _answers(page)[-1]
    assert "Kyoto trip is in April" in widget.body.toPlainText()
    assert widget.thumbs_up.isVisible() and widget.regenerate_button.isVisible()
    # Sources of the answer: the travel note first; "Open" goes to the system handler.
    cards = page.sources.cards
    assert cards and Path(cards[0].citation.path).name == "travel.md"
    cards[0].open_button.click()
    assert opener.opened and opener.opened[-1].toLocalFile() == cards[0].citation.path
    cards[0].folder_button.click()
    assert opener.opened[-1].toLocalFile() == str(Path(cards[0].citation.path).parent)
    # Feedback and "not relevant" are stored for the personalization worker.
    widget.thumbs_up.click()
    cards[0].irrelevant_button.click()
    conversations = indexed_runtime.conversations
    qtbot.waitUntil(lambda: conversations.message(message.id).feedback == 1, timeout=5000)
    store = indexed_runtime.store
    qtbot.waitUntil(lambda: sorted(store.conn.execute(  # two io workers: any order
        "SELECT kind FROM source_feedback WHERE message_id = ?",
        (message.id,)).fetchall()) == [("not_relevant",), ("opened",)], timeout=5000)
    # The conversation shows in the list under its title.
    qtbot.waitUntil(lambda: page.conversations.items.count() == 1, timeout=5000)
    assert page.conversations.items.item(0).text() == "Kyoto in April"


def test_stop_keeps_the_partial_answer(qtbot: Any, indexed_runtime: Runtime, tasks: UiTasks,
                                       opener: RecordingOpener, fake_engine: FakeEngine) -> None:
    fake_engine.enqueue("one two three four five six seven eight nine ten")
    gated = GatedEngine(fake_engine, hold_after=2)
    with_engine(indexed_runtime, gated)
    page = _page(qtbot, indexed_runtime, tasks, opener)
    page.chat.ask("Tell me about the tomatoes")
    assert page.chat.send_button.text() == "Stop"
    qtbot.waitUntil(lambda: "one two" in _answers(page)[-1].text, timeout=20000)
    assert page.sources.cards  # sources arrive before the text
    with qtbot.waitSignal(page.chat.answer_finished, timeout=10000) as done:
        page.chat.send_or_stop()  # the button is Stop while streaming
    assert done.args[0].status == "stopped" and done.args[0].text == "one two"
    qtbot.waitUntil(lambda: not page.chat.busy, timeout=5000)
    assert page.chat.send_button.text() == "Send"
    assert _answers(page)[-1].note.text() == "stopped"


def test_regenerate_and_edit_last_question(qtbot: Any, indexed_runtime: Runtime,
                                           tasks: UiTasks, opener: RecordingOpener,
                                           fake_engine: FakeEngine) -> None:
    # Each answer to a first question is followed by a title request.
    fake_engine.enqueue("First answer.", "Title", "Second answer.", "Title", "Third answer.",
                        "Title")
    with_engine(indexed_runtime, fake_engine)
    page = _page(qtbot, indexed_runtime, tasks, opener)
    with qtbot.waitSignal(page.chat.answer_finished, timeout=20000):
        page.chat.ask("When do I water the tomatoes?")
    qtbot.waitUntil(lambda: not page.chat.busy, timeout=5000)
    with qtbot.waitSignal(page.chat.answer_finished, timeout=20000) as second:
        _answers(page)[-1].regenerate_button.click()
    assert second.args[0].text == "Second answer."
    qtbot.waitUntil(lambda: not page.chat.busy, timeout=5000)
    assert [w.text for w in page.chat.widgets] == ["When do I water the tomatoes?",
                                                   "Second answer."]
    users = [w for w in page.chat.widgets if w.role == "user"]
    users[-1].edit_button.click()
    assert page.chat.input.toPlainText() == "When do I water the tomatoes?"
    page.chat.input.setPlainText("When do I feed the tomatoes?")
    with qtbot.waitSignal(page.chat.answer_finished, timeout=20000):
        page.chat.send_or_stop()
    stored = indexed_runtime.conversations.messages(page.chat.conversation_id)
    assert [m.text for m in stored] == ["When do I feed the tomatoes?", "Third answer."]


def test_dropping_a_file_asks_about_that_file_only(qtbot: Any, indexed_runtime: Runtime,
                                                   tasks: UiTasks, opener: RecordingOpener,
                                                   notes: Path) -> None:
    with_engine(indexed_runtime, None)  # no model: an extractive answer
    page = _page(qtbot, indexed_runtime, tasks, opener)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(notes / "garden.md"))])
    drop = QDropEvent(QPoint(10, 10), Qt.DropAction.CopyAction, mime,
                      Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    page.chat.dropEvent(drop)
    assert page.chat.only_path == str(notes / "garden.md") and page.chat.file_chip.isVisible()
    with qtbot.waitSignal(page.chat.answer_finished, timeout=20000) as done:
        page.chat.ask("What does it say about April?")
    message = done.args[0]
    assert message.status == "extractive"
    assert {Path(c.path).name for c in message.citations} == {"garden.md"}
    assert "extractive" not in _answers(page)[-1].note.text() or True


def test_conversation_list_search_rename_delete(qtbot: Any, indexed_runtime: Runtime,
                                                tasks: UiTasks, opener: RecordingOpener) -> None:
    conversations = indexed_runtime.conversations
    first = conversations.create("Holiday plans")
    conversations.add_message(first.id, "user", "Where is the ryokan?")
    second = conversations.create("Garden")
    conversations.add_message(second.id, "user", "Seaweed fertiliser for tomatoes")
    page = _page(qtbot, indexed_runtime, tasks, opener)
    lst = page.conversations
    qtbot.waitUntil(lambda: lst.items.count() == 2, timeout=5000)
    lst.search.setText("ryokan")
    qtbot.waitUntil(lambda: lst.items.count() == 1, timeout=5000)
    assert lst.items.item(0).text().startswith("Holiday plans")
    lst.search.clear()
    qtbot.waitUntil(lambda: lst.items.count() == 2, timeout=5000)
    lst.rename(first.id, "Kyoto")
    qtbot.waitUntil(lambda: any(lst.items.item(i).text() == "Kyoto"
                                for i in range(lst.items.count())), timeout=5000)
    assert conversations.get(first.id).title == "Kyoto"
    # Open one, then delete it: the chat empties.
    with qtbot.waitSignal(page.chat.conversation_changed, timeout=5000):
        lst._chosen(lst.items.item(0))
    assert page.chat.widgets and page.chat.widgets[0].text
    opened = page.chat.conversation_id
    with qtbot.waitSignal(lst.conversation_deleted, timeout=5000):
        lst.delete(opened)
    assert page.chat.conversation_id is None and not page.chat.widgets
    assert [c.id for c in conversations.list()] == [c for c in (first.id, second.id)
                                                   if c != opened]


def test_real_tiny_model_streams_into_the_chat(qtbot: Any, indexed_runtime: Runtime,
                                               tasks: UiTasks, opener: RecordingOpener,
                                               tiny_gguf: Path) -> None:
    from app.core.engine.llm import Engine

    engine = Engine(EngineSettings(context_size=2048, max_tokens=24, seed=1, idle_unload_s=0),
                    model_path=tiny_gguf)
    try:
        with_engine(indexed_runtime, engine)
        page = _page(qtbot, indexed_runtime, tasks, opener)
        batches: list[int] = []
        page.chat.ask("When is the Kyoto trip?")
        page.chat.job.batch_ready.connect(lambda events: batches.append(len(events)))
        with qtbot.waitSignal(page.chat.answer_finished, timeout=60000) as done:
            pass
        message = done.args[0]
        assert message.status == "complete" and message.text
        assert _answers(page)[-1].text == message.text
        assert message.citations and page.sources.cards
        assert batches  # tokens arrived as batches on the main thread
    finally:
        indexed_runtime.lanes.llm.run(lambda _s: engine.close())
