from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from app.core.tasks import Cancelled, Job, Lane, Lanes, Progress, TaskState


def test_job_runs_on_named_lane_and_returns() -> None:
    lane = Lane("index")
    try:
        job = lane.submit("k", lambda state, x: (threading.current_thread().name, x * 2), 21)
        name, value = job.result(timeout=10)
        assert name.startswith("lane-index") and value == 42
    finally:
        lane.shutdown()


def test_new_job_of_a_kind_cancels_the_previous_one() -> None:
    lane = Lane("llm")
    started, release = threading.Event(), threading.Event()

    def long_job(state: TaskState) -> str:
        started.set()
        release.wait(10)
        return "cancelled" if state.cancelled else "finished"

    try:
        first = lane.submit("answer", long_job)
        assert started.wait(10)
        second = lane.submit("answer", lambda state: "second")
        assert first.state.cancelled
        release.set()
        assert first.result(timeout=10) == "cancelled"
        assert second.result(timeout=10) == "second"
    finally:
        lane.shutdown()


def test_failures_are_kept_on_the_job_not_raised_in_the_caller() -> None:
    lane = Lane("io")

    def broken(state: TaskState) -> None:
        raise ValueError("bad input")

    try:
        job = lane.submit("k", broken)
        assert isinstance(job.future.exception(timeout=10), ValueError)
    finally:
        lane.shutdown()


def test_progress_is_throttled_but_the_last_update_arrives() -> None:
    seen: list[Progress] = []
    state = TaskState(seen.append, min_interval=3600)
    for i in range(1, 1000):
        state.set_progress(i, 1000, "file")
    state.flush()
    assert len(seen) == 2 and seen[-1].done == 999
    state.set_progress(1000, 1000)
    assert seen[-1].fraction == 1.0


def test_raise_if_cancelled() -> None:
    state = TaskState()
    state.raise_if_cancelled()
    state.cancel()
    with pytest.raises(Cancelled):
        state.raise_if_cancelled()
    assert state.wait_cancelled(0)


def test_lanes_shutdown_cancels_running_jobs() -> None:
    lanes = Lanes()
    started = threading.Event()

    def loop(state: TaskState) -> int:
        started.set()
        n = 0
        while not state.wait_cancelled(0.01):
            n += 1
        return n

    job = lanes.personal.submit("learn", loop)
    assert started.wait(10)
    lanes.shutdown()
    assert job.state.cancelled and job.done()



def _resubmit_when_done(lane: Lane, job: Job[object]) -> tuple[list[str], threading.Event]:
    """What the indexer's drain loop does: a done-callback that queues the next job."""
    seen: list[str] = []
    called = threading.Event()

    def again(_future: object) -> None:
        try:
            lane.submit("next", lambda state: None, replace=False)
            seen.append("submitted")
        except RuntimeError:
            seen.append("refused")
        called.set()

    job.future.add_done_callback(again)
    return seen, called


def _blocked_lane(name: str) -> tuple[Lane, threading.Event, Job[object]]:
    """A lane whose one worker is busy, with a second job queued behind it."""
    lane = Lane(name)
    release = threading.Event()
    lane.submit("busy", lambda state: release.wait(30), replace=False)
    queued: Job[object] = lane.submit("queued", lambda state: None)
    return lane, release, queued


def _aside(fn: Callable[[], object]) -> threading.Thread:
    worker = threading.Thread(target=fn, daemon=True)
    worker.start()
    return worker


def test_shutdown_with_a_done_callback_that_submits_again_does_not_deadlock() -> None:
    lane, release, queued = _blocked_lane("index")
    seen, called = _resubmit_when_done(lane, queued)
    closing = _aside(lane.shutdown)
    # A deadlock shows as a callback that never returns (a liveness check, not a timing one).
    assert called.wait(30) and seen == ["refused"] and queued.future.cancelled()
    release.set()
    closing.join(timeout=30)
    assert not closing.is_alive()
    with pytest.raises(RuntimeError):
        lane.submit("late", lambda state: None)


def test_replacing_a_queued_job_whose_callback_submits_again_does_not_deadlock() -> None:
    lane, release, queued = _blocked_lane("llm")
    seen, called = _resubmit_when_done(lane, queued)
    try:
        _aside(lambda: lane.submit("queued", lambda state: None))
        assert called.wait(30) and seen == ["submitted"] and queued.future.cancelled()
    finally:
        release.set()
        lane.shutdown()
