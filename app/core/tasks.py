"""Background work as plain functions with a state object, run on named lanes.

A job is ``fn(state, *args)``: it checks ``state.cancelled`` between tokens, files or batches,
reports throttled progress with ``state.set_progress`` and may leave a partial result. Lanes
are single-purpose worker pools (``llm``, ``index``, ``personal``, ``io``); starting a job of a
kind cancels the previous job of the same kind on that lane. Workers catch their own exceptions:
the failure is kept on the job and handed to whoever waits for it, never raised in a GUI thread.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class Cancelled(Exception):
    """Raised by ``TaskState.raise_if_cancelled`` to unwind a job that was asked to stop."""


@dataclass(frozen=True)
class Progress:
    done: float
    total: float | None
    message: str = ""
    # Counts a job reports beside done/total (e.g. the indexer's chunks embedded so far).
    detail: Mapping[str, float] = field(default_factory=dict)

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return max(0.0, min(1.0, self.done / self.total))


ProgressCallback = Callable[[Progress], None]


class TaskState:
    """Progress, partial result and cancellation flag shared by a job and its owner.

    Thread-safe: the job writes, any thread reads or cancels. Progress callbacks are throttled
    to ``min_interval`` seconds (the last update always goes through via ``flush``).
    """

    def __init__(self, on_progress: ProgressCallback | None = None, min_interval: float = 0.1):
        self._cancel = threading.Event()
        self._on_progress = on_progress
        self._min_interval = min_interval
        self._last_emit = float("-inf")
        self._pending: Progress | None = None
        self._lock = threading.Lock()
        self.progress = Progress(0, None)
        self.partial_result: Any = None

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        self._cancel.set()

    def raise_if_cancelled(self) -> None:
        if self._cancel.is_set():
            raise Cancelled()

    def wait_cancelled(self, timeout: float) -> bool:
        """Sleep up to ``timeout`` seconds, waking at once on cancel. True when cancelled."""
        return self._cancel.wait(timeout)

    def set_progress(self, done: float, total: float | None = None, message: str = "",
                     detail: Mapping[str, float] | None = None) -> None:
        progress = Progress(done, total, message, dict(detail or {}))
        with self._lock:
            self.progress = progress
            now = time.monotonic()
            if now - self._last_emit < self._min_interval and done != total:
                self._pending = progress
                return
            self._last_emit = now
            self._pending = None
        if self._on_progress is not None:
            self._on_progress(progress)

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, None
        if pending is not None and self._on_progress is not None:
            self._on_progress(pending)


class Job(Generic[T]):
    """A submitted job: its future and its state."""

    def __init__(self, kind: str, future: Future[T], state: TaskState):
        self.kind = kind
        self.future = future
        self.state = state

    def cancel(self) -> None:
        self.state.cancel()
        self.future.cancel()

    def result(self, timeout: float | None = None) -> T:
        return self.future.result(timeout)

    def done(self) -> bool:
        return self.future.done()


def _lower_thread_priority(niceness: int) -> None:
    """Lower the OS priority of the current worker thread (Linux threads are tasks)."""
    if niceness <= 0 or not hasattr(os, "setpriority"):
        return
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
    except OSError:
        log.debug("could not lower thread priority", exc_info=True)


class Lane:
    """A named pool of worker threads; one worker serialises everything it runs."""

    def __init__(self, name: str, workers: int = 1, niceness: int = 0):
        self.name = name
        self._pool = ThreadPoolExecutor(
            max_workers=workers,
            thread_name_prefix=f"lane-{name}",
            initializer=_lower_thread_priority,
            initargs=(niceness,),
        )
        self._current: dict[str, Job[Any]] = {}
        self._lock = threading.Lock()
        self._closed = False

    def submit(
        self,
        kind: str,
        fn: Callable[..., T],
        *args: Any,
        on_progress: ProgressCallback | None = None,
        replace: bool = True,
    ) -> Job[T]:
        """Run ``fn(state, *args)`` on this lane. With ``replace`` the previous job of ``kind``
        is cancelled first."""
        state = TaskState(on_progress)

        def run() -> T:
            state.raise_if_cancelled()
            try:
                return fn(state, *args)
            finally:
                state.flush()

        with self._lock:
            if self._closed:
                raise RuntimeError(f"lane {self.name} is shut down")
            previous = self._current.get(kind)
            job: Job[T] = Job(kind, self._pool.submit(run), state)
            self._current[kind] = job
        # Cancelling outside the lock: a cancelled future runs its done-callbacks right here,
        # and those may submit to this lane again (the indexer's drain loop does).
        if replace and previous is not None and not previous.done():
            previous.cancel()
        job.future.add_done_callback(lambda f: _log_failure(self.name, kind, f))
        return job

    def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(state, *args)`` on this lane and wait for it (for the CLI and tests)."""
        return self.submit(f"sync-{id(fn)}", fn, *args, replace=False).result()

    def shutdown(self, cancel: bool = True) -> None:
        """Refuse new jobs, cancel the queued and running ones (with ``cancel``), and wait for
        the workers. Done-callbacks that submit again get ``RuntimeError``, never a deadlock."""
        with self._lock:
            self._closed = True
            jobs = list(self._current.values())
        if cancel:
            for job in jobs:
                job.cancel()
        self._pool.shutdown(wait=True, cancel_futures=cancel)


def _log_failure(lane: str, kind: str, future: Future[Any]) -> None:
    if future.cancelled():
        return
    exc = future.exception()
    if exc is not None and not isinstance(exc, Cancelled):
        # Type only: exception messages may carry user content.
        log.error("job %s on lane %s failed: %s", kind, lane, type(exc).__name__)


class Lanes:
    """The four lanes of the app. ``index`` is the only writer of the store and vector index."""

    def __init__(self) -> None:
        self.llm = Lane("llm")
        self.index = Lane("index", niceness=10)
        self.personal = Lane("personal", niceness=19)
        self.io = Lane("io", workers=2)

    def shutdown(self) -> None:
        for lane in (self.personal, self.index, self.llm, self.io):
            lane.shutdown()
