"""``familiar folders add PATH [--exclude PAT]... | list | remove PATH``: the watched library."""

from __future__ import annotations

import argparse
from typing import Any

from app.commands.base import Cli, CliError, add_command
from app.core.indexing.library import Folder, FolderError


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    folders = sub.add_parser("folders", parents=[common], help="the folders Familiar indexes",
                             description="the folders Familiar indexes")
    folders_sub = folders.add_subparsers(dest="folders_command", metavar="ACTION", required=True)
    p = add_command(folders_sub, common, "add", cmd_add,
                    "watch a folder (index it with 'familiar index')")
    p.add_argument("path")
    p.add_argument("--exclude", action="append", default=[], metavar="PATTERN",
                   help="gitignore-style pattern to leave out (repeatable)")
    add_command(folders_sub, common, "list", cmd_list, "the watched folders and their state")
    p = add_command(folders_sub, common, "remove", cmd_remove,
                    "stop watching a folder and forget what was indexed from it")
    p.add_argument("path")


def _describe(folder: Folder, runtime: Any) -> dict[str, Any]:
    conn = runtime.store.conn
    files, chunks = conn.execute(
        "SELECT count(*), coalesce(sum(chunk_count), 0) FROM files WHERE folder_id = ?",
        (folder.id,)).fetchone()
    issues = dict(conn.execute(
        "SELECT status, count(*) FROM index_issues WHERE folder_id = ? GROUP BY status",
        (folder.id,)).fetchall())
    pending = conn.execute("SELECT count(*) FROM index_jobs WHERE folder_id = ?",
                           (folder.id,)).fetchone()[0]
    return {
        "id": folder.id,
        "path": str(folder.path),
        "excludes": list(folder.excludes),
        "status": "ok" if folder.available() else "unavailable",
        "files": int(files),
        "chunks": int(chunks),
        "skipped": int(issues.get("skipped", 0)),
        "failed": int(issues.get("failed", 0)),
        "pending": int(pending),
    }


def cmd_add(cli: Cli) -> int:
    runtime = cli.runtime()
    try:
        folder, new = runtime.indexer.library.add(cli.args.path, cli.args.exclude)
    except (FolderError, ValueError) as exc:
        raise CliError(str(exc)) from exc
    info = _describe(folder, runtime)
    verb = "Watching" if new else "Updated"
    excludes = f" (excluding {', '.join(folder.excludes)})" if folder.excludes else ""
    cli.emit({"folder": info, "added": new},
             f"{verb} {folder.path}{excludes}. Run 'familiar index' to index it now.")
    return 0


def cmd_list(cli: Cli) -> int:
    runtime = cli.runtime()
    folders = [_describe(f, runtime) for f in runtime.indexer.library.folders()]
    if not folders:
        text = "No folders yet: add one with 'familiar folders add PATH'."
    else:
        text = "\n".join(
            f"{f['path']}  [{f['status']}]  {f['files']} files, {f['chunks']} chunks"
            + (f", {f['skipped']} skipped" if f["skipped"] else "")
            + (f", {f['failed']} failed" if f["failed"] else "")
            + (f", {f['pending']} pending" if f["pending"] else "")
            + (f"  excludes: {' '.join(f['excludes'])}" if f["excludes"] else "")
            for f in folders)
    cli.emit({"folders": folders}, text)
    return 0


def cmd_remove(cli: Cli) -> int:
    runtime = cli.runtime()
    indexer = runtime.indexer
    folder = indexer.library.find(cli.args.path)
    if folder is None:
        raise CliError(f"not a watched folder: {cli.args.path} (see 'familiar folders list')")
    removed = runtime.lanes.index.run(indexer.remove_folder, folder)
    cli.emit({"removed": str(folder.path), "files_forgotten": removed},
             f"Stopped watching {folder.path}; forgot {removed} indexed files.")
    return 0
