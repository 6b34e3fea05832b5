"""The indexer service: reconcile, queue, watch, and process on the ``index`` lane, politely.

Thread rules. ``index_once``, ``reconcile`` and ``drain`` run ON the index lane (the CLI runs
them there synchronously). ``start``/``stop``, ``pause``/``resume``, ``user_request`` and
``status`` may be called from any thread; they only flip flags and submit short lane jobs, so
the lane is never held by a long-lived loop and other index-lane work interleaves. Work is
processed in batches; between batches the drain yields when the user is asking something,
when paused, or on battery (``pause_on_battery``), and picks up again on resume.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager

from app.core.config import IndexingSettings
from app.core.indexing.issues import IssueList
from app.core.indexing.library import Folder, Library
from app.core.indexing.processing import BatchProcessor, ChildState, IngestorLike
from app.core.indexing.progress import IndexReport, IndexStatus, ProgressMeter
from app.core.indexing.queue import Job, JobQueue
from app.core.indexing.reconcile import Hasher, orphans, reconcile_folder
from app.core.indexing.watcher import Watcher
from app.core.profile.store import Store
from app.core.tasks import Job as LaneJob
from app.core.tasks import Lanes, Progress, TaskState

log = logging.getLogger(__name__)

BATCH_FILES = 512  # jobs taken per batch: the Ingestor embeds across all their files
BATTERY_CHECK_S = 30.0
REEMBEDDING = "re-embedding for the new embedding model"  # the progress's current item


def on_battery() -> bool:
    """True when the machine runs on battery (False when it has none or cannot tell)."""
    try:
        import psutil

        battery = psutil.sensors_battery()
    except Exception:
        return False
    return battery is not None and battery.power_plugged is False


class Indexer:
    def __init__(self, store: Store, settings: IndexingSettings, lanes: Lanes,
                 ingestor: Callable[[], IngestorLike], hasher: Hasher,
                 battery: Callable[[], bool] = on_battery):
        self.store = store
        self.settings = settings
        self.lanes = lanes
        self.library = Library(store, settings)
        self.queue = JobQueue(store)
        self.issues = IssueList(store)
        self.meter = ProgressMeter()
        self.processor = BatchProcessor(store, self.library, self.queue, ingestor, hasher,
                                        self.meter)
        self._ingestor = ingestor
        self._hasher = hasher
        self._battery = battery
        self._battery_at = -BATTERY_CHECK_S
        self._battery_state = False
        self._lock = threading.Lock()
        self._user_requests = 0
        self._drain_job: LaneJob[IndexReport] | None = None
        self._watcher: Watcher | None = None
        self._ticker: threading.Thread | None = None
        self._stop = threading.Event()
        self._problems: list[str] = []
        self._reconcile_job: LaneJob[tuple[list[Folder], int]] | None = None
        self._run_open = False  # a backlog is being worked through (index lane only)
        # Called on the index lane after every background drain (the GUI bridge subscribes).
        self.drained_listeners: list[Callable[[IndexReport], None]] = []

    # --- one pass (CLI, and the start of a session) -----------------------------------------

    def index_once(self, state: TaskState, rebuild: bool = False) -> IndexReport:
        """Reconcile every folder and process the whole queue. Index lane only."""
        started = time.monotonic()
        self._run_open = False
        self._ingestor().ensure_ann()  # repairs the ANN index after a crash (cheap otherwise)
        reembedded = self.catch_up_embeddings(state)
        if rebuild:
            self.meter.phase("reconciling", "rebuilding the vector index")
            self._ingestor().rebuild_ann(state)
        unavailable, unchanged = self.reconcile(state, force=rebuild)
        report = self.drain(state, ignore_politeness=True)
        report.unchanged += unchanged
        report.reembedded = reembedded
        report.unavailable = [str(f.path) for f in unavailable]
        report.elapsed_s = time.monotonic() - started
        return report

    def catch_up_embeddings(self, state: TaskState) -> int:
        """A change of embedding model (switched to from Settings, or left unfinished by an
        earlier session): embed the stored chunks again with the configured model, files
        counted in the progress as indexing. Index lane only; cancellable between batches
        and resumed at the next start."""
        done = 0

        def progress(update: Progress) -> None:
            nonlocal done
            if update.total and not done:
                self.meter.begin(int(update.total))
            self.meter.advance(int(update.done) - done, 0, REEMBEDDING, 0.0)
            done = int(update.done)

        chunks = self._ingestor().reembed(ChildState(state, progress))
        if chunks:
            log.info("re-embedded %d chunks for the configured embedding model", chunks)
            self.meter.phase("idle")
        return chunks

    def reconcile(self, state: TaskState, force: bool = False,
                  folders: list[Folder] | None = None) -> tuple[list[Folder], int]:
        """Plan jobs for every (or the given) folder and queue them; returns the folders that
        are unavailable (their index is kept) and how many files were seen unchanged.
        Index lane only."""
        self.meter.phase("reconciling")
        unavailable: list[Folder] = []
        unchanged = 0
        for folder in folders if folders is not None else self.library.folders():
            if state.cancelled:
                break
            plan = reconcile_folder(self.store, self.library, folder, self._hasher,
                                    force=force, state=state)
            if state.cancelled:
                break
            self.queue.push(plan.jobs)
            unchanged += plan.unchanged
            if plan.unavailable:
                unavailable.append(folder)
                if folder.status != "unavailable":
                    self.library.set_status(folder, "unavailable")
            else:
                self.library.set_status(folder, "ok", reconciled_at=time.time())
            log.info("reconciled a folder: %d new, %d changed, %d gone, %d moved, %d unchanged",
                     plan.new, plan.changed, plan.gone, plan.moved, plan.unchanged)
        if folders is None and not state.cancelled:
            self.queue.push(orphans(self.store))
        self.meter.phase("idle")
        return unavailable, unchanged

    def drain(self, state: TaskState, max_batches: int | None = None,
              ignore_politeness: bool = False) -> IndexReport:
        """Process queued jobs in batches until the queue is empty, ``max_batches`` ran, the
        job is cancelled, or (unless ``ignore_politeness``) it should wait. Index lane only."""
        report = IndexReport()
        if not self._run_open:  # progress counts span the background drains of one backlog
            self.meter.begin(self.queue.pending())
            self._run_open = True
        batches = 0
        while not state.cancelled and (max_batches is None or batches < max_batches):
            reason = None if ignore_politeness else self.waiting_for()
            if reason:
                self.meter.phase("paused" if reason == "paused" else "waiting", reason)
                break
            jobs = self.queue.take(BATCH_FILES)
            if not jobs:
                self.meter.phase("idle")
                self._run_open = False
                break
            report.add(self.processor.run(jobs, state))
            status = self.meter.snapshot()
            self.meter.grow(status.files_done + self.queue.pending())
            state.set_progress(status.files_done, self.meter.snapshot().files_total,
                               status.current)
            batches += 1
        return report

    def remove_folder(self, state: TaskState, folder: Folder) -> int:
        """Forget a folder and everything indexed from it. Index lane only."""
        removed = self._ingestor().remove_under(folder.path)
        self.library.forget(folder)
        return removed

    # --- politeness -------------------------------------------------------------------------

    def waiting_for(self) -> str:
        """Why the background drain should not run now ("" when it may)."""
        if self.settings.paused:
            return "paused"
        with self._lock:
            if self._user_requests:
                return "user request"
        if self.settings.pause_on_battery:
            now = time.monotonic()
            if now - self._battery_at >= BATTERY_CHECK_S:
                self._battery_state = self._battery()
                self._battery_at = now
            if self._battery_state:
                return "on battery"
        return ""

    def pause(self) -> None:
        """Stop after the current batch (persist with ``Runtime.save_settings``)."""
        self.settings.paused = True

    def resume(self) -> None:
        self.settings.paused = False
        self.kick()

    @contextmanager
    def user_request(self) -> Iterator[None]:
        """Wrap a user's question: bulk indexing steps aside until it is answered."""
        with self._lock:
            self._user_requests += 1
        try:
            yield
        finally:
            with self._lock:
                self._user_requests -= 1
            self.kick()

    def status(self) -> IndexStatus:
        return self.meter.snapshot()

    # --- background mode (the GUI) ----------------------------------------------------------

    def kick(self) -> None:
        """Make sure a drain job is queued on the index lane when there is work. Any thread."""
        if self._stop.is_set() or self.waiting_for():
            return
        with self._lock:
            if self._drain_job is not None and not self._drain_job.done():
                return  # its done-callback looks at the queue again
            try:
                job = self.lanes.index.submit("index-drain", self._drain_some, replace=False)
            except RuntimeError:  # the lanes are shutting down
                return
            self._drain_job = job
        job.future.add_done_callback(self._drained)

    def _drain_some(self, state: TaskState) -> IndexReport:
        return self.drain(state, max_batches=4)

    def _drained(self, future: Future[IndexReport]) -> None:
        """After each background drain (lane thread): tell listeners, go on if work is left."""
        report = None if future.cancelled() or future.exception() else future.result()
        if report is not None:
            for listener in list(self.drained_listeners):
                try:
                    listener(report)
                except Exception:
                    log.exception("an indexing listener failed")
        if not self._stop.is_set() and self.queue.pending():
            self.kick()

    def submit_reconcile(self, folders: list[Folder] | None = None
                         ) -> LaneJob[tuple[list[Folder], int]]:
        job = self.lanes.index.submit(
            "index-reconcile", lambda state: self.reconcile(state, folders=folders))
        job.future.add_done_callback(lambda _f: self.kick())
        if folders is None:
            self._reconcile_job = job
        return job

    def enqueue(self, jobs: list[Job]) -> None:
        """Called by the watcher thread with debounced, coalesced jobs."""
        if jobs:
            self.queue.push(jobs)
            self.kick()

    def start(self, watch: bool = True) -> None:
        """Reconcile now, then keep the index current: watch folders (when ``watch``) and
        reconcile every ``reconcile_interval_s`` (more often while watching fails)."""
        self._stop.clear()
        self.lanes.index.submit("index-check", self._check, replace=False)
        self.submit_reconcile()
        if watch:
            watcher = Watcher(self.library, self.enqueue, self.settings.debounce_s,
                              on_problem=self._watch_problem,
                              max_pending=self.settings.max_pending_events)
            watcher.start()
            self._watcher = watcher
        self._ticker = threading.Thread(target=self._tick, name="index-ticker", daemon=True)
        self._ticker.start()

    def _check(self, state: TaskState) -> None:
        self._ingestor().ensure_ann()
        self.catch_up_embeddings(state)

    @property
    def watch_problems(self) -> list[str]:
        """Why some folders are not watched right now (they are reconciled periodically)."""
        watcher = self._watcher
        return list(watcher.problems) if watcher is not None else list(self._problems)

    def _watch_problem(self, message: str) -> None:
        log.warning("folder watching problem: %s; falling back to periodic reconcile",
                    message.split(":")[0])

    def _tick(self) -> None:
        while True:
            interval = self.settings.reconcile_interval_s
            if self._watcher is None or self._watcher.problems:
                interval = min(interval, self.settings.fallback_reconcile_s)
            if self._stop.wait(interval):
                return
            previous = self._reconcile_job
            if previous is not None and not previous.done():
                continue  # still under way (a slow disk): never cancel it for a new one
            try:
                self.submit_reconcile()
            except RuntimeError:  # the lanes were shut down under us
                return
            watcher = self._watcher
            if watcher is not None:
                watcher.refresh()

    def stop(self) -> None:
        self._stop.set()
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            self._problems = list(watcher.problems)
            watcher.stop()
        if self._ticker is not None:
            self._ticker.join(timeout=5)

    def close(self) -> None:
        self.stop()

