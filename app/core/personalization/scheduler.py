"""When the personalization worker may run: only while the user is away.

The worker runs when nobody has touched the app for ``idle_minutes`` (or the window is closed
to the tray), no user request is waiting for the model and, with ``only_on_ac``, the machine
is on mains power. It works in small steps on the ``personal`` lane (lowest OS priority). The
moment the user is back (``note_activity``) or asks something (``request_started``) the running
step's TaskState is cancelled: a model call stops within one token, or within one graph node
while llama.cpp still reads the prompt (``engine/abort.py``), the step commits nothing half-way,
and the session ends as "paused"; the next idle period picks the work up again.

Threads: ``note_activity``, ``set_window_hidden``, ``request_started``/``request_finished``,
``status`` and ``tick`` may be called from any thread (the GUI calls the first four on the
main thread); steps run on the personal lane. ``start`` runs ``tick`` from a small daemon
thread every ``poll_s`` seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from app.core.config import PersonalizationSettings
from app.core.tasks import Cancelled, Job, Lane, TaskState

log = logging.getLogger(__name__)

LAST_RESULTS_KEY = "scheduler.last_results"


class IdleTask(Protocol):
    """One kind of idle work. ``step`` does one bounded unit and commits it whole (or raises
    ``Cancelled`` having committed nothing); ``pending`` says whether a step has work."""

    name: str

    def pending(self) -> bool: ...

    def step(self, state: TaskState) -> dict[str, Any]: ...


class ResultSink(Protocol):
    def get(self, key: str, default: Any = None) -> Any: ...

    def set(self, key: str, value: Any) -> None: ...


def on_mains_power() -> bool:
    """True on AC power or on a machine without a battery (psutil reports none)."""
    try:
        import psutil

        battery = psutil.sensors_battery()
    except Exception:  # no sensor support on this platform: treat as mains
        return True
    return battery is None or bool(battery.power_plugged)


@dataclass(frozen=True)
class Status:
    state: str  # off | waiting | on_battery | ready | running | paused
    reason: str
    idle_for_s: float
    current: str | None
    last_results: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"state": self.state, "reason": self.reason,
                "idle_for_s": round(self.idle_for_s, 1), "current": self.current,
                "last_results": self.last_results}


class IdleScheduler:
    """Runs ``tasks`` in idle time, pausing at once when the user returns."""

    def __init__(self, settings: PersonalizationSettings, tasks: Sequence[IdleTask], *,
                 lane: Lane | None = None, sink: ResultSink | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time,
                 power: Callable[[], bool] = on_mains_power):
        self.settings = settings
        self.tasks = list(tasks)
        self._lane = lane
        self._sink = sink
        self._clock = clock
        self._wall = wall
        self._power = power
        self._lock = threading.Lock()
        self._last_activity = clock()
        self._hidden = False
        self._requests = 0
        self._session: TaskState | None = None
        self._job: Job[Any] | None = None
        self._current: str | None = None
        self._paused = False
        self._last: dict[str, Any] = dict(sink.get(LAST_RESULTS_KEY, {}) if sink else {})
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- signals from the user side (any thread) ------------------------------------------------

    def note_activity(self) -> None:
        """The user typed, clicked or opened the window: pause now."""
        with self._lock:
            self._last_activity = self._clock()
            self._pause_locked()

    def set_window_hidden(self, hidden: bool) -> None:
        """Window closed to the tray counts as idle; shown again counts as activity."""
        with self._lock:
            self._hidden = hidden
            if not hidden:
                self._last_activity = self._clock()
                self._pause_locked()

    def request_started(self) -> None:
        """A user request needs the model: the worker's model call ends at once (within one
        token, or one graph node while it reads its prompt) and the llm lane is free."""
        with self._lock:
            self._requests += 1
            self._last_activity = self._clock()
            self._pause_locked()

    def request_finished(self) -> None:
        with self._lock:
            self._requests = max(0, self._requests - 1)
            self._last_activity = self._clock()

    def _pause_locked(self) -> None:
        if self._session is not None and not self._session.cancelled:
            self._session.cancel()
            self._paused = True

    # --- decisions ------------------------------------------------------------------------------

    def idle_for(self) -> float:
        return max(0.0, self._clock() - self._last_activity)

    def can_run(self) -> tuple[bool, str]:
        s = self.settings
        if not (s.memories_enabled or s.reranker_enabled or s.lora_enabled):
            return False, "personalization is turned off"
        if self._requests:
            return False, "a request is using the model"
        if not self._hidden and self.idle_for() < s.idle_minutes * 60:
            return False, "the user is active"
        if s.only_on_ac and not self._power():
            return False, "on battery"
        return True, "idle"

    def pending(self) -> list[str]:
        return [t.name for t in self.tasks if t.pending()]

    def status(self) -> Status:
        ok, reason = self.can_run()
        with self._lock:
            running = self._session is not None
            current, paused, last = self._current, self._paused, dict(self._last)
        if running:
            state = "running"
        elif not ok:
            state = {"personalization is turned off": "off", "on battery": "on_battery"}.get(
                reason, "paused" if paused else "waiting")
        else:
            state = "ready"
        return Status(state, reason, self.idle_for(), current, last)

    # --- running --------------------------------------------------------------------------------

    def tick(self) -> str:
        """Start a session when idle with work to do (on the lane, or inline without one)."""
        ok, _ = self.can_run()
        with self._lock:
            if self._session is not None or not ok:
                return "busy" if self._session is not None else "waiting"
        if not self.pending():
            return "nothing to do"
        if self._lane is None:
            self.run_session(TaskState())
            return "ran"
        job = self._lane.submit("personalization", self.run_session, replace=False)
        with self._lock:
            self._job = job
        return "started"

    def run_session(self, state: TaskState) -> dict[str, Any]:
        """Run steps while idle; returns what each task did. Personal lane (or inline)."""
        with self._lock:
            if self._session is not None:
                return {"skipped": "a session is already running"}
            self._session = state
            self._paused = False
        done: dict[str, Any] = {}
        try:
            for task in self.tasks:
                while not state.cancelled and self.can_run()[0] and task.pending():
                    with self._lock:
                        self._current = task.name
                    try:
                        result = task.step(state)
                    except Cancelled:
                        break
                    except Exception as exc:
                        # Type only: messages may carry user content.
                        log.warning("personalization step %s failed: %s", task.name,
                                    type(exc).__name__)
                        self.record(task.name, {"error": type(exc).__name__})
                        done[task.name] = {"error": type(exc).__name__}
                        break
                    if state.cancelled:  # stopped inside the step: its work was not kept
                        break
                    self.record(task.name, result)
                    done[task.name] = result
                    if result.get("session_budget_spent"):
                        break  # this task is done for this idle session; the next one runs
                if state.cancelled:
                    break
        finally:
            with self._lock:
                self._session = None
                self._current = None
        return done

    def record(self, name: str, result: dict[str, Any]) -> None:
        entry = {"at": round(self._wall(), 3), **result}
        with self._lock:
            self._last[name] = entry
            snapshot = dict(self._last)
        if self._sink is not None:
            self._sink.set(LAST_RESULTS_KEY, snapshot)

    def start(self, poll_s: float = 0.5) -> None:
        """Tick from a daemon thread until ``close`` (the GUI's runtime calls this)."""
        if self._thread is not None:
            return

        def loop() -> None:
            while not self._stop.wait(poll_s):
                try:
                    self.tick()
                except Exception as exc:
                    log.warning("personalization tick failed: %s", type(exc).__name__)

        self._thread = threading.Thread(target=loop, name="personal-idle", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            self._pause_locked()
            job = self._job
        if job is not None:
            job.cancel()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
