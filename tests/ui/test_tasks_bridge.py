"""The Qt bridge: results, progress and streamed batches arrive on the main thread, in order;
cancel and failure are reported once."""

from __future__ import annotations

import threading
from typing import Any

from PySide6.QtCore import QThread

from app.core.tasks import TaskState
from app.ui.tasks import UiTasks


def test_result_and_progress_arrive_on_the_main_thread(qtbot: Any, tasks: UiTasks) -> None:
    seen: list[Any] = []
    main = QThread.currentThread()

    def job(state: TaskState, n: int) -> int:
        assert threading.current_thread() is not threading.main_thread()
        for i in range(n):
            state.set_progress(i + 1, n)
        return n * 2

    def done(value: int) -> None:
        seen.append(("done", value, QThread.currentThread() is main))

    progress: list[float] = []
    job_ = tasks.run("io", "t", job, 5, on_done=done,
                     on_progress=lambda p: progress.append(p.done))
    with qtbot.waitSignal(job_.finished, timeout=5000):
        pass
    assert seen == [("done", 10, True)]
    assert progress and progress[-1] == 5


def test_stream_batches_keep_order_and_cancel_is_reported(qtbot: Any, tasks: UiTasks) -> None:
    release = threading.Event()
    got: list[int] = []

    def gen(state: TaskState, n: int) -> Any:
        yield from range(n)
        release.wait(30)
        state.raise_if_cancelled()
        yield n

    job = tasks.stream("llm", "s", gen, 200, on_batch=got.extend, interval_s=0.0)
    qtbot.waitUntil(lambda: len(got) == 200, timeout=5000)
    with qtbot.waitSignal(job.cancelled, timeout=5000):
        job.cancel()
        release.set()
    assert got == list(range(200))
    assert not job.running


def test_failure_is_reported_not_raised(qtbot: Any, tasks: UiTasks) -> None:
    def boom(state: TaskState) -> None:
        raise ValueError("no")

    errors: list[BaseException] = []
    job = tasks.run("io", "f", boom, on_error=errors.append)
    with qtbot.waitSignal(job.failed, timeout=5000):
        pass
    assert isinstance(errors[0], ValueError)
