"""The idle scheduler on a simulated clock: when it runs, and that it pauses at once."""

from __future__ import annotations

import threading
from typing import Any

from app.core.config import PersonalizationSettings
from app.core.personalization.scheduler import IdleScheduler
from app.core.personalization.state import PersonalState
from app.core.tasks import Lane, TaskState


class CountingTask:
    """Does ``work`` steps; ``during_step`` runs inside each step (to simulate the user)."""

    def __init__(self, name: str, work: int, during_step: Any = None):
        self.name = name
        self.left = work
        self.steps = 0
        self.saw_cancel: list[bool] = []
        self.during_step = during_step

    def pending(self) -> bool:
        return self.left > 0

    def step(self, state: TaskState) -> dict[str, Any]:
        self.steps += 1
        if self.during_step is not None:
            self.during_step(state)
        self.saw_cancel.append(state.cancelled)
        state.raise_if_cancelled()  # nothing committed when paused
        self.left -= 1
        return {"left": self.left}


def make(tasks: list[Any], clock: Any, **settings: Any) -> IdleScheduler:
    s = PersonalizationSettings(**settings)
    return IdleScheduler(s, tasks, clock=clock, wall=clock, power=lambda: True)


def test_runs_only_after_the_configured_idle_time(clock: Any) -> None:
    task = CountingTask("t", 3)
    sched = make([task], clock, idle_minutes=5.0)
    assert sched.tick() == "waiting"
    clock.advance(299)
    assert sched.tick() == "waiting" and task.steps == 0
    assert sched.status().state == "waiting"
    clock.advance(2)
    assert sched.status().state == "ready"
    assert sched.tick() == "ran"
    assert task.steps == 3 and task.left == 0
    assert sched.tick() == "nothing to do"
    assert sched.status().last_results["t"]["left"] == 0


def test_window_closed_to_tray_counts_as_idle(clock: Any) -> None:
    task = CountingTask("t", 1)
    sched = make([task], clock)
    sched.set_window_hidden(True)
    assert sched.tick() == "ran" and task.left == 0
    task.left = 1
    sched.set_window_hidden(False)  # shown again: activity
    assert sched.tick() == "waiting"


def test_activity_during_a_step_pauses_at_once_and_keeps_nothing(clock: Any) -> None:
    sched: IdleScheduler

    def user_returns(state: TaskState) -> None:
        if task.steps == 2:
            sched.note_activity()
            # The pause is immediate: the step sees it before returning, not after a poll.
            assert state.cancelled

    task = CountingTask("first", 5, during_step=user_returns)
    later = CountingTask("second", 1)
    sched = make([task, later], clock)
    clock.advance(600)
    sched.tick()
    assert task.saw_cancel == [False, True]
    assert task.left == 4  # the interrupted step committed nothing
    assert later.steps == 0
    assert sched.status().state == "paused"
    assert sched.tick() == "waiting"
    clock.advance(300)
    sched.tick()  # idle again: resumes where it stopped
    assert task.left == 0 and later.left == 0


def test_a_user_request_for_the_model_pauses_and_blocks(clock: Any) -> None:
    sched: IdleScheduler

    def asks(state: TaskState) -> None:
        sched.request_started()

    task = CountingTask("t", 2, during_step=asks)
    sched = make([task], clock)
    clock.advance(600)
    sched.tick()
    assert task.saw_cancel == [True] and task.left == 2
    task.during_step = None
    clock.advance(600)
    assert sched.tick() == "waiting"  # the request is still running
    assert sched.status().reason == "a request is using the model"
    sched.request_finished()
    clock.advance(300)
    assert sched.tick() == "ran" and task.left == 0


def test_only_on_ac_power(clock: Any) -> None:
    on_ac = [False]
    task = CountingTask("t", 1)
    sched = IdleScheduler(PersonalizationSettings(only_on_ac=True), [task], clock=clock,
                          power=lambda: on_ac[0])
    clock.advance(600)
    assert sched.tick() == "waiting"
    assert sched.status().state == "on_battery"
    on_ac[0] = True
    assert sched.tick() == "ran" and task.left == 0


def test_turned_off(clock: Any) -> None:
    sched = make([CountingTask("t", 1)], clock, memories_enabled=False, reranker_enabled=False)
    clock.advance(600)
    assert sched.tick() == "waiting"
    assert sched.status().state == "off"


def test_a_failing_step_is_reported_not_raised(clock: Any) -> None:
    class Broken(CountingTask):
        def step(self, state: TaskState) -> dict[str, Any]:
            raise RuntimeError("secret user text must not be shown")

    sched = make([Broken("broken", 1), CountingTask("next", 1)], clock)
    clock.advance(600)
    sched.tick()
    last = sched.status().last_results
    assert last["broken"]["error"] == "RuntimeError"
    assert "secret" not in str(last)
    assert last["next"]["left"] == 0


def test_last_results_persist_in_the_store(unlocked: Any, clock: Any) -> None:
    sink = PersonalState(unlocked.store)
    sched = IdleScheduler(PersonalizationSettings(), [CountingTask("t", 1)], clock=clock,
                          wall=clock, sink=sink, power=lambda: True)
    clock.advance(600)
    sched.tick()
    again = IdleScheduler(PersonalizationSettings(), [], sink=sink)
    assert again.status().last_results["t"]["left"] == 0


def test_on_the_personal_lane_activity_stops_a_waiting_step(clock: Any) -> None:
    started = threading.Event()
    woke: list[bool] = []

    def blocks(state: TaskState) -> None:
        started.set()
        woke.append(state.wait_cancelled(60))  # stands in for a long model call

    task = CountingTask("t", 1, during_step=blocks)
    lane = Lane("personal-test", niceness=19)
    try:
        sched = IdleScheduler(PersonalizationSettings(), [task], lane=lane, clock=clock,
                              power=lambda: True)
        clock.advance(600)
        assert sched.tick() == "started"
        assert started.wait(30)
        sched.note_activity()
        assert sched._job is not None
        result = sched._job.result(timeout=30)
        assert woke == [True]  # woken by the pause, not by the 60 s timeout
        assert result == {} and task.left == 1
    finally:
        lane.shutdown()



def test_a_question_through_the_reranking_searcher_pauses(clock: Any) -> None:
    from app.core.personalization.ranker import RerankingSearcher

    class Library:
        def search(self, query: str, **kwargs: Any) -> list[Any]:
            return []

    sched: IdleScheduler
    searcher = RerankingSearcher(Library(), None, PersonalizationSettings())

    def asks(state: TaskState) -> None:
        searcher.search("a question")

    task = CountingTask("t", 1, during_step=asks)
    sched = make([task], clock)
    searcher.on_search = sched.note_activity
    clock.advance(600)
    sched.tick()
    assert task.saw_cancel == [True] and task.left == 1
    assert sched.status().state == "paused"
