"""Live watching with watchdog: raw events -> debounced, coalesced jobs for the queue.

``Coalescer`` is the pure part (thread-safe, clock injectable): every event becomes at most one
pending job per path (``sync`` for a file, ``scan`` for a directory, ``move`` for a rename,
chains a->b->c folded into a->c), held until the watched tree has been quiet for
``debounce_s`` (or ``max_delay_s`` passed), then handed over in event order. Memory is bounded:
past ``max_pending`` jobs a folder's pending jobs collapse into one scan of the folder, which
reconcile answers by size and mtime. Editors' atomic saves (write temp, rename over) come out
as one move whose destination is then synced by content hash.

``Watcher`` runs watchdog's observer thread plus one flush thread. Failures to watch (inotify
watch limit, a folder deleted or unmounted) go to ``on_problem``; the indexer then reconciles
periodically instead. Jobs reach the sink from the flush thread.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler

from app.core.indexing.library import Folder, Library
from app.core.indexing.queue import Job
from app.core.indexing.reconcile import RuleTree

log = logging.getLogger(__name__)

Sink = Callable[[list[Job]], None]


class Coalescer:
    def __init__(self, folder_of: Callable[[Path], Folder | None], debounce_s: float = 1.0,
                 max_pending: int = 20000, max_delay_s: float | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self._folder_of = folder_of
        self.debounce_s = debounce_s
        self.max_delay_s = max_delay_s if max_delay_s is not None else max(10 * debounce_s, 5.0)
        self.max_pending = max_pending
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: OrderedDict[tuple[str, str, str], Job] = OrderedDict()
        self._move_by_dest: dict[str, tuple[str, str, str]] = {}
        self._dir_moves: dict[Path, Path] = {}
        self._overflowed: set[int] = set()
        self._first = 0.0
        self._last = 0.0
        self.events = 0

    def __len__(self) -> int:
        return len(self._pending)

    def _touch(self) -> None:
        now = self._clock()
        if not self._pending:
            self._first = now
        self._last = now
        self.events += 1

    def _put(self, job: Job, folder: Folder) -> None:
        dest = str(job.dest) if job.dest is not None else ""
        key = (job.kind, str(job.path), dest)
        self._pending.pop(key, None)
        self._pending[key] = job
        if len(self._pending) > self.max_pending:
            self._overflow(folder)

    def _overflow(self, folder: Folder) -> None:
        """Too many pending events: replace this folder's jobs by one scan of it."""
        for key in [k for k, j in self._pending.items() if j.folder_id == folder.id]:
            del self._pending[key]
        self._move_by_dest = {d: k for d, k in self._move_by_dest.items() if k in self._pending}
        self._overflowed.add(folder.id)
        self._pending[("scan", str(folder.path), "")] = Job("scan", folder.path, folder.id)

    # --- events -----------------------------------------------------------------------------

    def changed(self, path: Path, is_dir: bool = False) -> None:
        """Created, modified or deleted."""
        folder = self._folder_of(path)
        if folder is None:
            return
        with self._lock:
            self._touch()
            if folder.id not in self._overflowed:
                self._put(Job("scan" if is_dir else "sync", path, folder.id), folder)

    def moved(self, src: Path, dest: Path, is_dir: bool = False) -> None:
        folder = self._folder_of(dest)
        if folder is None:  # moved out of the library: gone
            self.changed(src, is_dir)
            return
        with self._lock:
            self._touch()
            if folder.id in self._overflowed:
                return
            source_folder = self._folder_of(src)
            if source_folder is None or source_folder.id != folder.id:
                self._put(Job("scan" if is_dir else "sync", dest, folder.id), folder)
                if source_folder is not None:
                    self._put(Job("scan" if is_dir else "sync", src, source_folder.id),
                              source_folder)
                return
            if self._implied_by_dir_move(src, dest):
                return  # watchdog repeats a directory move for every file below it
            origin = src
            earlier = self._move_by_dest.pop(str(src), None)
            if earlier is not None and earlier in self._pending:
                origin = self._pending.pop(earlier).path  # a -> b -> c is a -> c
            for kind in ("sync", "scan"):
                self._pending.pop((kind, str(src), ""), None)
                self._pending.pop((kind, str(dest), ""), None)
            self._put(Job("move", origin, folder.id, dest=dest), folder)
            self._move_by_dest[str(dest)] = ("move", str(origin), str(dest))
            if is_dir:
                self._dir_moves[src] = dest

    def _implied_by_dir_move(self, src: Path, dest: Path) -> bool:
        for old, new in self._dir_moves.items():
            if src != old and src.is_relative_to(old) and dest.is_relative_to(new):
                return src.relative_to(old) == dest.relative_to(new)
        return False

    def ready(self) -> list[Job]:
        """The pending jobs, in event order, once things are quiet (or waited long enough)."""
        with self._lock:
            if not self._pending:
                return []
            now = self._clock()
            if now - self._last < self.debounce_s and now - self._first < self.max_delay_s:
                return []
            jobs = list(self._pending.values())
            self._pending.clear()
            self._move_by_dest.clear()
            self._dir_moves.clear()
            self._overflowed.clear()
            return jobs


class Watcher:
    """watchdog observer over the library's available folders, feeding a Coalescer."""

    def __init__(self, library: Library, sink: Sink, debounce_s: float = 1.0,
                 on_problem: Callable[[str], None] | None = None, max_pending: int = 20000):
        self.library = library
        self.sink = sink
        self.on_problem = on_problem or (lambda message: None)
        self._trees: dict[int, RuleTree] = {}
        self._folders: list[Folder] = []
        self.coalescer = Coalescer(self._folder_of, debounce_s, max_pending)
        self._observer: Any = None
        self._watches: dict[int, Any] = {}
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None
        self._lock = threading.Lock()
        self.problems: list[str] = []  # current failures, recomputed at every refresh

    def _folder_of(self, path: Path) -> Folder | None:
        return next((f for f in self._folders if f.contains(path)), None)

    def start(self) -> None:
        from watchdog.observers import Observer

        self._observer = Observer()
        self._observer.start()
        self.refresh()
        self._flusher = threading.Thread(target=self._flush_loop, name="index-watch-flush",
                                         daemon=True)
        self._flusher.start()

    def refresh(self) -> None:
        """Watch folders that appeared or came back; forget removed ones. Any thread."""
        with self._lock:
            if self._observer is None:
                return
            folders = self.library.folders()
            self._folders = folders
            self._trees = {f.id: RuleTree(f, self.library.rules(f)) for f in folders}
            wanted = {f.id: f for f in folders}
            for folder_id, watch in list(self._watches.items()):
                emitter_alive = self._emitter_alive(watch)
                if folder_id not in wanted or not emitter_alive:
                    try:
                        self._observer.unschedule(watch)
                    except (KeyError, OSError):
                        pass
                    del self._watches[folder_id]
            handler = _Handler(self)
            problems = []
            for folder in folders:
                if folder.id in self._watches:
                    continue
                if not folder.available():
                    problems.append("a folder is unavailable (not mounted or gone)")
                    continue
                try:
                    self._watches[folder.id] = self._observer.schedule(
                        handler, os.fspath(folder.path), recursive=True)
                except OSError as exc:
                    problems.append(f"cannot watch a folder: {exc.strerror or exc}")
                    if problems[-1] not in self.problems:  # report news, not every retry
                        self.on_problem(problems[-1])
            self.problems = problems

    def _emitter_alive(self, watch: Any) -> bool:
        emitter = getattr(self._observer, "_emitter_for_watch", {}).get(watch)
        return emitter is None or emitter.is_alive()

    def watching(self) -> int:
        return len(self._watches)

    def _flush_loop(self) -> None:
        tick = max(0.02, min(0.25, self.coalescer.debounce_s / 4))
        while not self._stop.wait(tick):
            self.flush()

    def flush(self) -> None:
        jobs = self.coalescer.ready()
        if not jobs:
            return
        try:
            self.sink(jobs)
        except Exception as exc:
            log.error("queuing %d watched changes failed: %s", len(jobs), type(exc).__name__)

    def excluded(self, path: Path, is_dir: bool) -> bool:
        folder = self._folder_of(path)
        if folder is None:
            return True
        tree = self._trees.get(folder.id)
        if tree is None:
            return False
        return tree.dir_excluded(path) if is_dir else tree.file_excluded(path)

    def stop(self) -> None:
        self._stop.set()
        if self._flusher is not None:
            self._flusher.join(timeout=5)
        observer, self._observer = self._observer, None
        if observer is not None:
            observer.stop()
            observer.join(timeout=5)


class _Handler(FileSystemEventHandler):
    """watchdog callback (observer thread): classify, filter by rules, hand to the coalescer."""

    def __init__(self, watcher: Watcher):
        super().__init__()
        self.w = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        kind = event.event_type
        if kind in ("opened", "closed_no_write") or (kind == "modified" and event.is_directory):
            return
        src = Path(os.fsdecode(event.src_path))
        c = self.w.coalescer
        if kind == "moved":
            dest = Path(os.fsdecode(event.dest_path))
            src_out = self.w.excluded(src, event.is_directory)
            dest_out = self.w.excluded(dest, event.is_directory)
            if src_out and dest_out:
                return
            if dest_out:
                c.changed(src, event.is_directory)  # renamed to something we skip: drop it
            else:
                c.moved(src, dest, event.is_directory)
            return
        if kind == "deleted" and event.is_directory and any(
                f.path == src for f in self.w._folders):
            self.w.problems = [*self.w.problems, "a watched folder was deleted or unmounted"]
            self.w.on_problem(self.w.problems[-1])
            c.changed(src, is_dir=True)  # its scan marks it unavailable; the index is kept
            return
        if src.name == ".gitignore":
            c.changed(src.parent, is_dir=True)
            return
        if self.w.excluded(src, event.is_directory):
            return
        c.changed(src, event.is_directory)
