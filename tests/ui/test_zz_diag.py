from __future__ import annotations
import os, shutil, time, sys, threading
from pathlib import Path
from typing import Any
import pytest
from PySide6.QtCore import QTimer
from app.core.config import EngineSettings
from app.ui.chat.chat_page import ChatPage
from app.ui.library_page import LibraryPage
from tests.fixtures.heartbeat import Heartbeat
from tests.ui.conftest import with_engine
from tests.ui.test_heartbeat import _corpus

class HB(Heartbeat):
    def __init__(s, *a):
        super().__init__(*a); s.events=[]
    def _tick(s):
        now=time.perf_counter(); lat=now-s.last-s.interval_s
        if lat>0.05: s.events.append((round(now-s.t0,2), round(lat*1000)))
        super()._tick()

@pytest.mark.parametrize("mode", [os.environ.get("MODE","both")])
def test_diag(qtbot, runtime, tasks, opener, tiny_gguf, tmp_path, mode):
    from app.core.engine.llm import Engine
    folder = _corpus(tmp_path / "corpus")
    engine = Engine(EngineSettings(context_size=4096, max_tokens=400, seed=3, idle_unload_s=0), model_path=tiny_gguf)
    with_engine(runtime, engine)
    runtime.lanes.llm.run(lambda _s: engine.load())
    runtime.memory.embedder.encode(["warm up"])
    chat = ChatPage(runtime, tasks, opener); library = LibraryPage(runtime, tasks)
    for w in (chat, library):
        qtbot.addWidget(w); w.resize(1000,700); w.show()
    library.start()
    beat = HB(10); beat.t0=time.perf_counter(); beat.start()
    marks=[]
    if mode in ("both","index"):
        library.add_folder(folder)
        qtbot.waitUntil(lambda: runtime.indexer.status().phase in ("reconciling", "indexing"), timeout=30000)
        marks.append(("index-start", round(time.perf_counter()-beat.t0,2)))
    n=0
    while True:
        if mode in ("both","index") and runtime.indexer.status().phase == "idle" and not runtime.indexer.queue.pending(): break
        if mode=="gen" and n>=3: break
        if mode=="index":
            qtbot.waitUntil(lambda: runtime.indexer.status().phase == "idle" and not runtime.indexer.queue.pending(), timeout=300000); break
        marks.append(("ask", round(time.perf_counter()-beat.t0,2)))
        chat.chat.ask(f"What did I learn about topic {n}?")
        qtbot.waitUntil(lambda: not chat.chat.busy, timeout=120000)
        marks.append(("done", round(time.perf_counter()-beat.t0,2)))
        n+=1
    beat.stop()
    print("\nMODE", mode, "worst", round(beat.worst_stall_s*1000), "events", beat.events, "marks", marks)
    runtime.lanes.llm.run(lambda _s: engine.close())
