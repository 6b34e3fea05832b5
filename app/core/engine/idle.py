"""Give the model's RAM back when it has not been used for a while.

A daemon thread waits until ``idle_s`` seconds have passed since the last use, then asks the
owner to unload (through the ``llm`` lane when one is given, so llama.cpp is only ever touched
there). ``touch`` re-arms it; the next request reloads the model transparently.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class IdleUnloader:
    """Calls ``unload_if_idle`` once the owner has been idle for ``idle_s`` seconds."""

    def __init__(self, idle_s: float, unload_if_idle: Callable[[], object],
                 clock: Callable[[], float] = time.monotonic):
        self.idle_s = idle_s
        self._unload_if_idle = unload_if_idle
        self._clock = clock
        self._cond = threading.Condition()
        self._last_used = clock()
        self._armed = False
        self._stopped = False
        self._thread: threading.Thread | None = None

    @property
    def last_used(self) -> float:
        return self._last_used

    def touch(self) -> None:
        """Record a use and (re)arm the timer. Any thread."""
        if self.idle_s <= 0:
            return
        with self._cond:
            self._last_used = self._clock()
            self._armed = True
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="engine-idle",
                                                daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def disarm(self) -> None:
        with self._cond:
            self._armed = False
            self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped and not self._armed:
                    self._cond.wait()
                if self._stopped:
                    return
                remaining = self._last_used + self.idle_s - self._clock()
                if remaining > 0:
                    self._cond.wait(remaining)
                    continue
                self._armed = False
            self._unload_if_idle()
