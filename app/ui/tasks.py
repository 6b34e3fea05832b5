"""The only bridge between the core lanes and Qt.

A job runs on a lane (``app.core.tasks``) and never touches a widget: it reports through
signals of a ``UiJob`` that lives on the main thread, so Qt delivers them queued. Progress is
throttled by ``TaskState``; streamed events are batched (at most one batch per
``STREAM_INTERVAL_S``) so a fast token stream never floods the event loop.

Call everything here from the main thread only.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import QObject, Signal

from app.core.tasks import Cancelled, Lane, Lanes, Progress, TaskState

log = logging.getLogger(__name__)

STREAM_INTERVAL_S = 0.05


class UiJob(QObject):
    """One job as the GUI sees it. Exactly one of ``finished``, ``failed`` or ``cancelled``
    is emitted, on the main thread."""

    progressed = Signal(object)  # Progress
    batch_ready = Signal(list)  # streamed events, in order
    finished = Signal(object)  # the job's return value
    failed = Signal(object)  # the exception
    cancelled = Signal()

    def __init__(self, kind: str, parent: QObject | None = None):
        super().__init__(parent)
        self.kind = kind
        self.state: TaskState | None = None
        self._core: Any = None
        self._ended = threading.Event()
        self.ended_ok: bool | None = None

    def cancel(self) -> None:
        """Ask the job to stop; it reports ``cancelled`` (or its partial ``finished``)."""
        if self._core is not None:
            self._core.cancel()

    @property
    def running(self) -> bool:
        return not self._ended.is_set()

    def _end(self, signal: Any, *args: Any) -> None:
        # Worker side: emit the one terminal signal (queued to the main thread).
        if self._ended.is_set():
            return
        self._ended.set()
        signal.emit(*args)


class UiTasks(QObject):
    """Submits jobs to the lanes and hands their results back as queued signals."""

    def __init__(self, lanes: Lanes, parent: QObject | None = None):
        super().__init__(parent)
        self.lanes = lanes
        self._alive: set[UiJob] = set()

    def _lane(self, lane: str | Lane) -> Lane:
        if isinstance(lane, Lane):
            return lane
        found: Lane = getattr(self.lanes, lane)
        return found

    def _track(self, job: UiJob) -> None:
        self._alive.add(job)
        for signal in (job.finished, job.failed):
            signal.connect(lambda _value, j=job: self._alive.discard(j))
        job.cancelled.connect(lambda j=job: self._alive.discard(j))

    def run(
        self,
        lane: str | Lane,
        kind: str,
        fn: Callable[..., Any],
        *args: Any,
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        replace: bool = True,
    ) -> UiJob:
        """Run ``fn(state, *args)`` on ``lane``; callbacks run on the main thread."""
        job = UiJob(kind, self)
        self._connect(job, on_done, on_error, on_progress)

        def body(state: TaskState, *a: Any) -> Any:
            job.state = state
            try:
                result = fn(state, *a)
            except Cancelled:
                job._end(job.cancelled)
                raise
            except BaseException as exc:
                job._end(job.failed, exc)
                raise
            job._end(job.finished, result)
            return result

        return self._submit(job, lane, kind, body, args, replace)

    def stream(
        self,
        lane: str | Lane,
        kind: str,
        fn: Callable[..., Iterable[Any]],
        *args: Any,
        on_batch: Callable[[list[Any]], None],
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        replace: bool = True,
        interval_s: float = STREAM_INTERVAL_S,
    ) -> UiJob:
        """Iterate the generator ``fn(state, *args)`` on ``lane``; its events reach
        ``on_batch`` in lists, at most one list per ``interval_s``. ``on_done`` gets None."""
        job = UiJob(kind, self)
        job.batch_ready.connect(on_batch)
        self._connect(job, on_done, on_error, None)

        def body(state: TaskState, *a: Any) -> None:
            job.state = state
            pending: list[Any] = []
            last = time.monotonic()
            try:
                for event in fn(state, *a):
                    pending.append(event)
                    now = time.monotonic()
                    if now - last >= interval_s:
                        job.batch_ready.emit(pending)
                        pending, last = [], now
            except Cancelled:
                if pending:
                    job.batch_ready.emit(pending)
                job._end(job.cancelled)
                raise
            except BaseException as exc:
                if pending:
                    job.batch_ready.emit(pending)
                job._end(job.failed, exc)
                raise
            if pending:
                job.batch_ready.emit(pending)
            job._end(job.finished, None)

        return self._submit(job, lane, kind, body, args, replace)

    def _connect(
        self,
        job: UiJob,
        on_done: Callable[[Any], None] | None,
        on_error: Callable[[BaseException], None] | None,
        on_progress: Callable[[Progress], None] | None,
    ) -> None:
        if on_done is not None:
            job.finished.connect(on_done)
        if on_error is not None:
            job.failed.connect(on_error)
        else:
            job.failed.connect(lambda exc, k=job.kind: log.warning(
                "job %s failed: %s", k, type(exc).__name__))
        if on_progress is not None:
            job.progressed.connect(on_progress)

    def _submit(self, job: UiJob, lane: str | Lane, kind: str, body: Callable[..., Any],
                args: tuple[Any, ...], replace: bool) -> UiJob:
        self._track(job)
        core = self._lane(lane).submit(
            kind, body, *args, on_progress=job.progressed.emit, replace=replace
        )
        job._core = core
        job.state = core.state

        def settled(future: Any) -> None:
            # A job cancelled before it started never ran its body: say so once.
            if future.cancelled() or isinstance(future.exception(), Cancelled):
                job._end(job.cancelled)

        core.future.add_done_callback(settled)
        return job
