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

from PySide6.QtCore import QObject, QTimer, Signal

from app.core.tasks import Cancelled, Lane, Lanes, Progress, TaskState

log = logging.getLogger(__name__)

STREAM_INTERVAL_S = 0.05


class UiJob(QObject):
    """One job as the GUI sees it. Exactly one of ``finished``, ``failed`` or ``cancelled``
    is emitted, on the main thread, after every streamed batch has been delivered.

    Streamed events go into a buffer; the worker wakes the main thread only when the buffer
    was empty, and the main thread drains it at most once per ``interval_s``. A slow stream
    shows each event at once; a fast one arrives in batches without flooding the loop.
    """

    progressed = Signal(object)  # Progress
    batch_ready = Signal(object)  # a list of streamed events, in order
    finished = Signal(object)  # the job's return value
    failed = Signal(object)  # the exception
    cancelled = Signal()

    _woken = Signal()
    _ended_with = Signal(str, object)

    def __init__(self, kind: str, interval_s: float = STREAM_INTERVAL_S,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.kind = kind
        self.interval_s = interval_s
        self.state: TaskState | None = None
        self._core: Any = None
        self._ended = threading.Event()
        self._lock = threading.Lock()
        self._buffer: list[Any] = []
        self._wake_pending = False
        self._drain_scheduled = False
        self._last_drain = float("-inf")
        self.running = True
        self._woken.connect(self._schedule_drain)
        self._ended_with.connect(self._deliver_end)

    def cancel(self) -> None:
        """Ask the job to stop; it reports ``cancelled`` (or its partial ``finished``)."""
        if self._core is not None:
            self._core.cancel()

    # --- worker side ------------------------------------------------------------------------

    def _push(self, event: Any) -> None:
        with self._lock:
            self._buffer.append(event)
            wake = not self._wake_pending
            self._wake_pending = True
        if wake:
            self._woken.emit()

    def _end(self, how: str, value: Any = None) -> None:
        if self._ended.is_set():
            return
        self._ended.set()
        self._ended_with.emit(how, value)

    # --- main thread ------------------------------------------------------------------------

    def _schedule_drain(self) -> None:
        if self._drain_scheduled:
            return
        wait_s = self._last_drain + self.interval_s - time.monotonic()
        if wait_s <= 0:
            self._drain()
        else:
            self._drain_scheduled = True
            QTimer.singleShot(int(wait_s * 1000) + 1, self._drain)

    def _drain(self) -> None:
        self._drain_scheduled = False
        with self._lock:
            events, self._buffer = self._buffer, []
            self._wake_pending = False
        self._last_drain = time.monotonic()
        if events:
            self.batch_ready.emit(events)

    def _deliver_end(self, how: str, value: Any) -> None:
        self._drain()
        self.running = False
        if how == "finished":
            self.finished.emit(value)
        elif how == "failed":
            self.failed.emit(value)
        else:
            self.cancelled.emit()


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
        job = UiJob(kind, parent=self)
        self._connect(job, on_done, on_error, on_progress)

        def body(state: TaskState, *a: Any) -> Any:
            try:
                result = fn(state, *a)
            except Cancelled:
                job._end("cancelled")
                raise
            except BaseException as exc:
                job._end("failed", exc)
                raise
            job._end("finished", result)
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
        job = UiJob(kind, interval_s, parent=self)
        job.batch_ready.connect(on_batch)
        self._connect(job, on_done, on_error, None)

        def body(state: TaskState, *a: Any) -> None:
            try:
                for event in fn(state, *a):
                    job._push(event)
            except Cancelled:
                job._end("cancelled")
                raise
            except BaseException as exc:
                job._end("failed", exc)
                raise
            job._end("finished")

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
                job._end("cancelled")

        core.future.add_done_callback(settled)
        return job
