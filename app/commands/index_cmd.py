"""``familiar index [--rebuild]``: reconcile and index every watched folder once.

A progress bar on stderr when it is a terminal, plain progress lines otherwise; the summary counts indexed / unchanged / skipped / failed files, with reasons.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from typing import Any

from app.commands.base import Cli, add_command
from app.core.tasks import Progress

BAR_WIDTH = 24


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = add_command(sub, common, "index", cmd_index,
                    "reconcile and index every watched folder once")
    p.add_argument("--rebuild", action="store_true",
                   help="rebuild the vector index from the store and re-check every file "
                        "by content (skipped and failed files are retried)")


class ProgressPrinter:
    """Renders the indexer's status on stderr from the lane's progress callbacks and from a
    heartbeat (so a long embedding batch still shows time passing): a redrawn bar on a TTY,
    plain lines otherwise (at once when the file count moves, else once a second)."""

    def __init__(self, indexer: Any, tty: bool):
        self.indexer = indexer
        self.tty = tty
        self._lock = threading.Lock()
        self._last_line = 0.0
        self._last_done = -1
        self._drawn = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="index-progress", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(0.25 if self.tty else 1.0):
            self.render(heartbeat=True)

    def __call__(self, _progress: Progress) -> None:
        self.render(heartbeat=False)

    def render(self, heartbeat: bool) -> None:
        status = self.indexer.status()
        with self._lock:
            if self._stop.is_set():
                return
            if self.tty:
                frac = status.files_done / status.files_total if status.files_total else 0.0
                filled = int(frac * BAR_WIDTH)
                name = status.current.rsplit("/", 1)[-1][:30]
                sys.stderr.write(f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] "
                                 f"{status.line()}  {name}\x1b[K")
                sys.stderr.flush()
                self._drawn = True
                return
            now = time.monotonic()
            moved = status.files_done != self._last_done and now - self._last_line >= 0.2
            if moved or (heartbeat and now - self._last_line >= 1.0):
                self._last_line = now
                self._last_done = status.files_done
                print(f"indexing: {status.line()}", file=sys.stderr, flush=True)

    def finish(self) -> None:
        with self._lock:
            self._stop.set()
            if self._drawn:
                sys.stderr.write("\n")
                sys.stderr.flush()


def cmd_index(cli: Cli) -> int:
    runtime = cli.runtime()
    indexer = runtime.indexer
    if not indexer.library.folders():
        cli.emit({"indexed": 0, "unchanged": 0, "skipped": 0, "failed": 0, "folders": 0,
                  "issues": []},
                 "No folders yet: add one with 'familiar folders add PATH'.")
        return 0
    printer = ProgressPrinter(indexer, tty=sys.stderr.isatty() and not cli.json)
    printer.start()
    job = runtime.lanes.index.submit("index-once", indexer.index_once, cli.args.rebuild,
                                     on_progress=printer, replace=False)
    try:
        report = job.result()
    finally:
        printer.finish()
    issues = indexer.issues.all()
    status = indexer.status()
    payload = {
        "indexed": report.indexed,
        "unchanged": report.unchanged,
        "skipped": sum(1 for i in issues if i.status == "skipped"),
        "failed": sum(1 for i in issues if i.status == "failed"),
        "removed": report.removed,
        "moved": report.moved,
        "chunks": report.chunks,
        "reembedded": report.reembedded,
        "chunks_per_s": status.chunks_per_s,
        "elapsed_s": round(report.elapsed_s, 3),
        "pending": indexer.queue.pending(),
        "unavailable": report.unavailable,
        "folders": len(indexer.library.folders()),
        "issues": [i.as_dict() for i in issues],
    }
    lines = [
        f"Indexed {report.indexed} files ({report.chunks} chunks), {report.unchanged} unchanged, "
        f"{payload['skipped']} skipped, {payload['failed']} failed, {report.removed} removed, "
        f"{report.moved} moved in {report.elapsed_s:.1f} s."
    ]
    if report.reembedded:
        lines.append(f"Re-embedded {report.reembedded} stored chunks for the new embedding model.")
    for folder in report.unavailable:
        lines.append(f"Unavailable (index kept): {folder}")
    for issue in issues:
        lines.append(f"  {issue.status}: {issue.path} ({issue.reason})")
    cli.emit(payload, "\n".join(lines))
    return 0
