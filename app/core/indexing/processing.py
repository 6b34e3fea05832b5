"""Turn a batch of queued jobs into Ingestor calls: the index lane's inner loop.

Consecutive ``sync`` jobs become one ``Ingestor.ingest`` call, so the embedder sees large
batches across files; moves and scans run in queue order between them. Before a file goes to
the Ingestor it is checked here: still there, not excluded, under the size cap, not binary.
A job leaves the queue only after its effect is committed (crash-safe by replay).

Index lane only.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from app.core.indexing.issues import Issue, IssueList
from app.core.indexing.library import Library
from app.core.indexing.progress import IndexReport, ProgressMeter
from app.core.indexing.queue import Job, JobQueue
from app.core.indexing.reconcile import Hasher, RuleTree, reconcile_folder
from app.core.indexing.rules import sniff_binary
from app.core.memory.paths import path_to_key
from app.core.profile.store import Store
from app.core.tasks import Progress, ProgressCallback, TaskState

log = logging.getLogger(__name__)


class Outcome(Protocol):
    @property
    def path(self) -> Path: ...
    @property
    def status(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def chunks(self) -> int: ...


class IngestorLike(Protocol):
    """The part of ``app.core.memory.ingest.Ingestor`` the indexer drives."""

    def ingest(self, items: Sequence[tuple[Path, int | None]],
               state: TaskState | None = None) -> Sequence[Outcome]: ...
    def remove(self, path: Path) -> bool: ...
    def move(self, old: Path, new: Path) -> bool: ...
    def remove_under(self, folder: Path) -> int: ...
    def rebuild_ann(self, state: TaskState | None = None) -> int: ...
    def ensure_ann(self) -> None: ...
    def reembed(self, state: TaskState | None = None) -> int: ...


class ChildState(TaskState):
    """A TaskState for the Ingestor that is cancelled when its parent is."""

    def __init__(self, parent: TaskState, on_progress: ProgressCallback | None = None):
        super().__init__(on_progress)
        self._parent = parent

    @property
    def cancelled(self) -> bool:
        return self._parent.cancelled or super().cancelled


class BatchProcessor:
    def __init__(self, store: Store, library: Library, queue: JobQueue,
                 ingestor: Callable[[], IngestorLike], hasher: Hasher, meter: ProgressMeter):
        self.store = store
        self.library = library
        self.queue = queue
        self.issues = IssueList(store)
        self._ingestor = ingestor
        self.hasher = hasher
        self.meter = meter

    def run(self, jobs: Sequence[Job], state: TaskState) -> IndexReport:
        """Process ``jobs`` in order; jobs left undone (cancel) stay queued."""
        report = IndexReport()
        trees: dict[int, RuleTree | None] = {}
        run: list[Job] = []
        for job in jobs:
            if state.cancelled:
                break
            if job.kind == "sync":
                run.append(job)
                continue
            self._sync(run, trees, report, state)
            run = []
            if state.cancelled:
                break
            if job.kind == "move":
                self._move(job, report, state)
            else:
                self._scan(job, state)
            if not state.cancelled:
                self.queue.done([job])
        if not state.cancelled:
            self._sync(run, trees, report, state)
        return report

    # --- sync -------------------------------------------------------------------------------

    def _tree(self, trees: dict[int, RuleTree | None], folder_id: int) -> RuleTree | None:
        if folder_id not in trees:
            folder = self.library.get(folder_id)
            trees[folder_id] = RuleTree(folder, self.library.rules(folder)) if folder else None
        return trees[folder_id]

    def _sync(self, jobs: Sequence[Job], trees: dict[int, RuleTree | None],
              report: IndexReport, state: TaskState) -> None:
        if not jobs:
            return
        started = time.monotonic()
        chunks_before = report.chunks
        to_ingest: list[tuple[Path, int | None]] = []
        stats: dict[Path, os.stat_result] = {}
        handled: list[Job] = []
        new_issues: list[Issue] = []
        cleared: list[Path] = []
        max_bytes = self.library.settings.max_file_mb * 1024 * 1024
        for job in jobs:
            tree = self._tree(trees, job.folder_id)
            if tree is not None and not tree.folder.available():
                handled.append(job)  # unmounted: keep its index, reconcile will catch up
                continue
            try:
                st = job.path.stat()
                regular = os.path.isfile(job.path)
            except FileNotFoundError:
                st, regular = None, False
            except OSError as exc:
                new_issues.append(Issue(job.path, job.folder_id, "skipped", _why(exc)))
                handled.append(job)
                continue
            if st is None or not regular or tree is None or tree.file_excluded(job.path):
                if self._forget(job.path):
                    report.removed += 1
                cleared.append(job.path)
                handled.append(job)
                continue
            reason = ""
            if st.st_size > max_bytes:
                reason = f"larger than {self.library.settings.max_file_mb} MB"
            else:
                try:
                    if sniff_binary(job.path):
                        reason = "binary content"
                except OSError as exc:
                    reason = _why(exc)
            if reason:
                self._forget(job.path)
                new_issues.append(Issue(job.path, job.folder_id, "skipped", reason,
                                        st.st_size, st.st_mtime_ns))
                handled.append(job)
                continue
            stats[job.path] = st
            to_ingest.append((job.path, job.folder_id))
        by_path = {j.path: j for j in jobs}
        if to_ingest:
            outcomes = self._ingest(to_ingest, state)
            for outcome in outcomes:
                job = by_path[Path(outcome.path)]
                handled.append(job)
                if outcome.status == "skipped" and not job.path.exists():
                    self._forget(job.path)  # deleted while we read it: just gone
                    cleared.append(job.path)
                elif outcome.status in ("indexed", "unchanged"):
                    setattr(report, outcome.status, getattr(report, outcome.status) + 1)
                    report.chunks += outcome.chunks if outcome.status == "indexed" else 0
                    cleared.append(job.path)
                else:
                    st = stats[job.path]
                    new_issues.append(Issue(job.path, job.folder_id, outcome.status,
                                            outcome.reason or outcome.status, st.st_size,
                                            st.st_mtime_ns))
        for issue in new_issues:
            setattr(report, issue.status, getattr(report, issue.status) + 1)
        report.issues.extend(new_issues)
        with self.store.transaction() as conn:
            self.issues.clear(conn, cleared)
            self.issues.record(conn, new_issues)
        self.queue.done(handled)
        current = str(to_ingest[-1][0]) if to_ingest else str(jobs[-1].path)
        self.meter.advance(len(handled), report.chunks - chunks_before, current,
                           time.monotonic() - started)

    def _forget(self, path: Path) -> bool:
        """Drop a file from the index, asking the Ingestor only when it is catalogued."""
        row = self.store.conn.execute("SELECT 1 FROM files WHERE path = ?",
                                      (path_to_key(path),)).fetchone()
        return row is not None and self.ingestor.remove(path)

    def _ingest(self, items: list[tuple[Path, int | None]], state: TaskState) -> list[Outcome]:
        """One Ingestor call; when it raises, the files are retried one by one so that one
        bad file is reported as failed instead of failing its whole batch."""
        def inner(progress: Progress) -> None:
            done = int(progress.done)
            # The file being worked on (the batch's last once all are written).
            self.meter.live(done, str(items[min(done, len(items) - 1)][0]),
                            int(progress.detail.get("chunks", 0)))
            snap = self.meter.snapshot()
            state.set_progress(snap.files_done, snap.files_total, snap.current)

        if items:  # from the start of a batch, not only once its first file is written
            self.meter.live(0, str(items[0][0]))
        child = ChildState(state, inner)
        try:
            return list(self.ingestor.ingest(items, child))
        except Exception as exc:
            log.warning("ingest batch of %d files failed (%s); retrying one by one",
                        len(items), type(exc).__name__)
        outcomes: list[Outcome] = []
        for item in items:
            if state.cancelled:
                break
            try:
                outcomes.extend(self.ingestor.ingest([item], ChildState(state)))
            except Exception as exc:
                outcomes.append(_Failed(item[0], f"failed: {type(exc).__name__}"))
        return outcomes

    @property
    def ingestor(self) -> IngestorLike:
        return self._ingestor()

    # --- moves and scans --------------------------------------------------------------------

    def _move(self, job: Job, report: IndexReport, state: TaskState) -> None:
        """Rows follow a rename (no re-embedding); both ends are then synced by content."""
        assert job.dest is not None
        src, dest = job.path, job.dest
        follow: list[Job] = []
        if not src.exists() and self.ingestor.move(src, dest):  # a file, or a whole folder
            report.moved += 1
        if dest.is_dir():
            follow.append(Job("scan", dest, job.folder_id))
            if src.exists():
                follow.append(Job("scan", src, job.folder_id))
        else:
            follow += [Job("sync", dest, job.folder_id), Job("sync", src, job.folder_id)]
        folder = self.library.folder_for(dest)
        if folder is not None and folder.id != job.folder_id:  # moved into another folder
            follow = [Job(j.kind, j.path, folder.id if folder.contains(j.path) else j.folder_id)
                      for j in follow]
        self.queue.push(follow)

    def _scan(self, job: Job, state: TaskState) -> None:
        folder = self.library.get(job.folder_id)
        if folder is None:
            return
        plan = reconcile_folder(self.store, self.library, folder, self.hasher, top=job.path,
                                force=job.force, state=state)
        if not state.cancelled:
            self.queue.push(plan.jobs)
            self.meter.grow(self.meter.snapshot().files_done + self.queue.pending())


class _Failed:
    def __init__(self, path: Path, reason: str):
        self.path = path
        self.status = "failed"
        self.reason = reason
        self.chunks = 0


def _why(exc: OSError) -> str:
    import errno

    if isinstance(exc, PermissionError) or exc.errno == errno.EACCES:
        return "permission denied"
    if exc.errno == errno.ELOOP:
        return "symlink loop"
    return f"cannot be read ({errno.errorcode.get(exc.errno or 0, type(exc).__name__)})"

