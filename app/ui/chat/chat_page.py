"""The chat page: conversation list | chat | sources, wired together. Main thread only."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QSplitter, QWidget

from app.ui import jobs
from app.ui.chat.chat_view import ChatView
from app.ui.chat.conversation_list import ConversationList
from app.ui.chat.message_widget import MessageWidget
from app.ui.chat.sources_panel import SourcesPanel
from app.ui.opener import Opener
from app.ui.tasks import UiTasks


class ChatPage(QWidget):
    def __init__(self, runtime: Any, tasks: UiTasks, opener: Opener | None = None,
                 parent: Any = None):
        super().__init__(parent)
        self.runtime = runtime
        self.tasks = tasks
        self.conversations = ConversationList(runtime, tasks)
        self.chat = ChatView(runtime, tasks)
        self.sources = SourcesPanel(opener)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.conversations)
        splitter.addWidget(self.chat)
        splitter.addWidget(self.sources)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setStretchFactor(2, 0)
        splitter.setSizes([220, 600, 360])
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

        self.conversations.conversation_chosen.connect(self.chat.open_conversation)
        self.conversations.new_requested.connect(self.chat.new_conversation)
        self.conversations.conversation_deleted.connect(self._deleted)
        self.chat.conversation_changed.connect(self._conversation_changed)
        self.chat.sources_arrived.connect(lambda cites: self.sources.show_sources(cites, None))
        self.chat.answer_finished.connect(self._answered)
        self.chat.answer_selected.connect(self._selected)
        self.sources.source_opened.connect(self._opened)
        self.sources.source_rejected.connect(self._rejected)

    def start(self) -> None:
        self.conversations.refresh()

    def open_conversation(self, conversation_id: int) -> None:
        self.chat.open_conversation(conversation_id)

    def _conversation_changed(self, conversation_id: int | None) -> None:
        self.conversations.select(conversation_id)
        self.sources.clear()
        last = [w for w in self.chat.widgets if w.role == "assistant" and w.message is not None]
        if last:
            self._selected(last[-1])

    def _answered(self, message: Any) -> None:
        self.sources.show_sources(list(message.citations), message.id)
        self.conversations.refresh()

    def _selected(self, widget: MessageWidget) -> None:
        if widget.message is not None:
            self.sources.show_sources(list(widget.message.citations), widget.message.id)

    def _deleted(self, conversation_id: int) -> None:
        if self.chat.conversation_id == conversation_id:
            self.chat.new_conversation()

    def _opened(self, message_id: int | None, citation: Any) -> None:
        if message_id is not None:
            self.tasks.run("io", "record-open", jobs.record_open, self.runtime, message_id,
                           citation.chunk_id, citation.path or "", replace=False)

    def _rejected(self, message_id: int | None, citation: Any) -> None:
        if message_id is not None:
            self.tasks.run("io", "mark-source", jobs.mark_source, self.runtime, message_id,
                           citation.chunk_id, citation.path or "", False, replace=False)
