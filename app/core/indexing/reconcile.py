"""Reconcile: compare the catalog (``files``) with the disk and plan the jobs that close the gap.

Cheap first: size and mtime decide whether a file may have changed; only new files whose size
matches a vanished file are hashed, to pair them as a move (rows move, nothing re-embedded).
The Ingestor itself decides "unchanged" by content hash for the files we send it. A folder
whose root is missing (a drive not mounted) is reported unavailable and keeps its index.

Runs on the index lane (it reads the catalog a writer may be changing otherwise).
"""

from __future__ import annotations

import logging
import os
import stat as stat_mod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from app.core.indexing.issues import IssueList
from app.core.indexing.library import Folder, Library
from app.core.indexing.queue import Job
from app.core.indexing.rules import MARKER_FILES, Rules, indexable_type, read_gitignore
from app.core.memory.paths import key_to_path, path_to_key
from app.core.profile.store import Store
from app.core.tasks import TaskState

log = logging.getLogger(__name__)

Hasher = Callable[[Path], str]


@dataclass(frozen=True)
class Seen:
    path: Path
    size: int
    mtime_ns: int


@dataclass
class Plan:
    """What one reconcile found. ``jobs`` are ready to push to the queue."""

    jobs: list[Job] = field(default_factory=list)
    new: int = 0
    changed: int = 0
    gone: int = 0
    moved: int = 0
    unchanged: int = 0
    unavailable: list[Folder] = field(default_factory=list)
    unreadable_dirs: list[Path] = field(default_factory=list)


class RuleTree:
    """Rules of every directory of one folder, with each .gitignore read once (memoised)."""

    def __init__(self, folder: Folder, base: Rules):
        self.folder = folder
        self._rules: dict[Path, Rules] = {}
        self._excluded: dict[Path, bool] = {folder.path: False}
        self._base = base

    def rel(self, path: Path) -> str:
        return path.relative_to(self.folder.path).as_posix()

    def rules_of_dir(self, directory: Path, names: frozenset[str] | None = None) -> Rules:
        """Rules that apply to entries of ``directory`` (its own .gitignore included)."""
        found = self._rules.get(directory)
        if found is not None:
            return found
        parent = (self._base if directory == self.folder.path
                  else self.rules_of_dir(directory.parent))
        has_gitignore = (".gitignore" in names) if names is not None else (
            (directory / ".gitignore").is_file())
        rules = parent
        if parent.respect_gitignore and has_gitignore:
            text = read_gitignore(os.fspath(directory))
            if text is not None:
                rel = "" if directory == self.folder.path else self.rel(directory) + "/"
                rules = parent.with_gitignore(rel, text)
        self._rules[directory] = rules
        return rules

    def dir_excluded(self, directory: Path) -> bool:
        """Excluded itself or below an excluded directory (pruned, as git does)."""
        known = self._excluded.get(directory)
        if known is not None:
            return known
        if not self.folder.contains(directory):
            return True
        verdict = self.dir_excluded(directory.parent) or self.rules_of_dir(
            directory.parent).excluded(self.rel(directory), is_dir=True)
        if not verdict:
            try:
                verdict = any((directory / m).exists() for m in MARKER_FILES)
            except OSError:
                verdict = False
        self._excluded[directory] = verdict
        return verdict

    def file_excluded(self, path: Path) -> bool:
        if not self.folder.contains(path) or path == self.folder.path:
            return True
        if not indexable_type(path.name):
            return True
        return self.dir_excluded(path.parent) or self.rules_of_dir(path.parent).excluded(
            self.rel(path), is_dir=False)


def walk(tree: RuleTree, top: Path, state: TaskState | None = None,
         unreadable: list[Path] | None = None) -> Iterator[Seen]:
    """Regular files under ``top`` that the rules let through, with size and mtime.

    Symlinks are followed, each real directory visited once (no loops, no duplicates).
    Directories that cannot be listed are added to ``unreadable``."""
    if tree.dir_excluded(top):
        return
    visited: set[tuple[int, int]] = set()
    stack = [top]
    while stack:
        if state is not None and state.cancelled:
            return
        directory = stack.pop()
        try:
            st = directory.stat()
            ident = (st.st_dev, st.st_ino)
            if ident in visited:
                continue
            visited.add(ident)
            with os.scandir(directory) as it:
                entries = list(it)
        except FileNotFoundError:
            continue  # gone: what was indexed below it is gone too
        except OSError:
            if unreadable is not None:
                unreadable.append(directory)
            continue
        names = frozenset(e.name for e in entries)
        if directory != tree.folder.path and names & MARKER_FILES:
            continue
        rules = tree.rules_of_dir(directory, names)
        base = "" if directory == tree.folder.path else tree.rel(directory) + "/"
        for entry in entries:
            try:
                is_dir = entry.is_dir()
            except OSError:
                continue
            if rules.excluded(base + entry.name, is_dir):
                continue
            path = directory / entry.name
            if is_dir:
                stack.append(path)
                continue
            if not indexable_type(entry.name):
                continue
            try:
                st = entry.stat()
            except OSError:
                continue  # a dangling symlink, or deleted while we looked
            if stat_mod.S_ISREG(st.st_mode):
                yield Seen(path, st.st_size, st.st_mtime_ns)


def catalog(store: Store, folder_id: int) -> dict[str, tuple[int, int, str]]:
    """path key -> (size, mtime_ns, content_hash) of the indexed files of a folder."""
    rows = store.conn.execute(
        "SELECT path, size, mtime_ns, content_hash FROM files WHERE folder_id = ?", (folder_id,)
    ).fetchall()
    return {str(r[0]): (int(r[1] or 0), int(r[2] or 0), str(r[3] or "")) for r in rows}


def reconcile_folder(store: Store, library: Library, folder: Folder, hasher: Hasher,
                     *, top: Path | None = None, force: bool = False,
                     state: TaskState | None = None) -> Plan:
    """Plan the jobs that bring ``folder`` (or its subtree ``top``) in line with the disk."""
    plan = Plan()
    if not folder.available():
        plan.unavailable.append(folder)
        return plan
    top = top or folder.path
    tree = RuleTree(folder, library.rules(folder))
    known = catalog(store, folder.id)
    if top != folder.path:
        known = {k: v for k, v in known.items() if key_to_path(k).is_relative_to(top)}
    stamps = IssueList(store).stamps(folder.id)
    fresh: list[Seen] = []
    seen_keys: set[str] = set()
    for item in walk(tree, top, state, plan.unreadable_dirs):
        key = path_to_key(item.path)
        seen_keys.add(key)
        old = known.get(key)
        if old is not None and not force and old[0] == item.size and old[1] == item.mtime_ns:
            plan.unchanged += 1
        elif old is not None:
            plan.changed += 1
            plan.jobs.append(Job("sync", item.path, folder.id, force=force))
        elif not force and stamps.get(key) == (item.size, item.mtime_ns):
            pass  # skipped or failed before, and not touched since: still on the list
        else:
            fresh.append(item)
    if state is not None and state.cancelled:
        return Plan(unavailable=plan.unavailable)  # half a walk must not read as deletions
    gone = {k: v for k, v in known.items() if k not in seen_keys
            and not any(key_to_path(k).is_relative_to(d) for d in plan.unreadable_dirs)}
    by_size: dict[int, list[tuple[str, str]]] = {}
    for key, (size, _mtime, digest) in gone.items():
        if digest:
            by_size.setdefault(size, []).append((key, digest))
    for item in fresh:
        candidates = by_size.get(item.size)
        source = _pair(item.path, candidates, hasher) if candidates else None
        if source is not None:
            plan.moved += 1
            del gone[source]
            plan.jobs.append(Job("move", key_to_path(source), folder.id, dest=item.path))
        else:
            plan.new += 1
            plan.jobs.append(Job("sync", item.path, folder.id, force=force))
    for key in gone:
        plan.gone += 1
        plan.jobs.append(Job("sync", key_to_path(key), folder.id))
    return plan


def _pair(path: Path, candidates: list[tuple[str, str]], hasher: Hasher) -> str | None:
    """The vanished file with the same content as ``path`` (removed from ``candidates``)."""
    try:
        digest = hasher(path)
    except OSError:
        return None
    for i, (key, old_digest) in enumerate(candidates):
        if old_digest == digest:
            del candidates[i]
            return key
    return None


def orphans(store: Store) -> list[Job]:
    """Catalog rows of folders that are no longer watched (a crash during removal)."""
    rows = store.conn.execute(
        "SELECT path FROM files WHERE folder_id IS NULL "
        "OR folder_id NOT IN (SELECT id FROM folders)"
    ).fetchall()
    return [Job("sync", key_to_path(r[0]), 0) for r in rows]
