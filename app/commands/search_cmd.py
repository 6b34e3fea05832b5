"""``familiar search QUERY [-k N] [--folder DIR] [--type EXT] [--since WHEN]``: hybrid search
over the indexed files; hits with path, score, page or heading, and a snippet with the
matching words marked."""

from __future__ import annotations

import argparse
import logging
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from app.commands.base import Cli, CliError, add_command

log = logging.getLogger(__name__)
_RELATIVE = re.compile(r"^(\d+)\s*([hdw])$")


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    parser = add_command(sub, common, "search", cmd_search, "search your indexed files")
    parser.epilog = ('A query that begins with "-" goes after "--", the options before it: '
                     "familiar search --json -k 5 -- -tomato")
    parser.add_argument("query", help='what to look for (words or a question); put "--" '
                                      'before a query that begins with "-"')
    parser.add_argument("-k", type=int, default=10, help="number of hits (default 10)")
    parser.add_argument("--folder", type=Path, default=None,
                        help="only files below this folder (a watched folder or inside one)")
    parser.add_argument("--type", dest="types", action="append", default=[],
                        help="only this file type, e.g. pdf or .md (repeatable)")
    parser.add_argument("--since", default=None,
                        help="only files modified since a date (YYYY-MM-DD) or for 7d, 12h, 2w")


def parse_since(text: str, now: datetime | None = None) -> int:
    """Nanoseconds since the epoch for "2024-05-01", "2024-05-01T10:00" or "7d"/"12h"/"2w"."""
    now = now or datetime.now(UTC)
    match = _RELATIVE.match(text.strip().lower())
    if match:
        amount = int(match.group(1))
        unit = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
        moment = now - amount * unit[match.group(2)]
    else:
        try:
            moment = datetime.fromisoformat(text.strip())
        except ValueError:
            raise CliError(f"--since {text!r}: use a date like 2024-05-01 or 7d, 12h, 2w") from None
        if moment.tzinfo is None:
            moment = moment.astimezone()  # a local date, as the user means it
    return int(moment.timestamp() * 1_000_000_000)


def check_types(values: list[str]) -> tuple[str, ...]:
    """``--type`` values as extensions (".md"); each must be one Familiar can index."""
    from app.core.memory.extract import supported_extensions

    supported = supported_extensions()
    exts: list[str] = []
    for value in values:
        ext = "." + value.strip().lower().lstrip(".")
        if ext not in supported:
            names = ", ".join(sorted(e.lstrip(".") for e in supported))
            raise CliError(f"--type {value!r}: not a file type Familiar indexes; use one of: "
                           f"{names}")
        exts.append(ext)
    return tuple(dict.fromkeys(exts))


def folder_scope(given: Path, watched: list[Any]) -> tuple[Path, ...]:
    """The folders to filter on, as the index names them. ``--folder`` must be a folder that
    overlaps a watched one (inside it, or holding it). The index names files through the
    watched folder's path as it was added, symlinks kept: a folder reached another way (its
    real path, or a link to it) is translated into that form, and one that holds several
    watched folders only through links gives all of them. A path that is gone is accepted
    only inside a watched folder that is unavailable (not mounted), whose index is kept and
    still searchable."""
    from app.core.indexing.library import normalize

    folder = normalize(given)
    if folder.exists() and not folder.is_dir():
        raise CliError(f"--folder {given}: not a folder")
    if not folder.is_dir():
        if not any(w.contains(folder) and not w.available() for w in watched):
            raise CliError(f"--folder {given}: no such folder")
        return (folder,)
    for w in watched:
        if folder.is_relative_to(w.path) or w.path.is_relative_to(folder):
            return (folder,)
    real = folder.resolve()
    found: dict[Path, None] = {}
    for w in watched:
        root = w.path.resolve()
        if real.is_relative_to(root):
            found[w.path / real.relative_to(root)] = None
        elif root.is_relative_to(real):  # holds a watched folder only through links
            found[w.path] = None
    if found:
        return tuple(found)
    raise CliError(f"--folder {given}: not inside a watched folder (see 'familiar folders list')")


def repair_vector_index(runtime: Any) -> None:
    """No indexer runs in a CLI process to repair the ANN index at start-up (the app's does),
    so a command that searches repairs it first, on the index lane (its single writer)."""
    try:
        runtime.lanes.index.run(runtime.memory.repair_ann)
    except Exception as exc:  # search still answers (BM25, exact dense up to 20,000 chunks)
        log.warning("vector index not repaired (%s); searching without it", type(exc).__name__)


def cmd_search(cli: Cli) -> int:
    from app.core.memory.search import Filters

    args = cli.args
    if not args.query.strip():
        raise CliError("the query is empty")
    if args.k < 1 or args.k > 1000:
        raise CliError("-k must be between 1 and 1000")
    types = check_types(args.types)
    since_ns = parse_since(args.since) if args.since else None
    runtime = cli.runtime()
    folders = (folder_scope(args.folder, runtime.indexer.library.folders())
               if args.folder is not None else ())
    filters = Filters(folders=folders, types=types, since_ns=since_ns)
    memory = runtime.memory
    repair_vector_index(runtime)
    hits = runtime.lanes.io.run(lambda _state: memory.searcher.search(args.query, args.k, filters))
    payload = {"query": args.query, "k": args.k, "hits": [h.to_json() for h in hits]}
    if not hits:
        cli.emit(payload, "No matches.")
        return 0
    lines = []
    for number, hit in enumerate(hits, start=1):
        where = f" ({hit.location})" if hit.location else ""
        lines.append(f"{number:>2}. {hit.path}{where}  [{hit.score:.3f}]")
        lines.append(f"    {' '.join(hit.snippet.split())}")
    cli.emit(payload, "\n".join(lines))
    return 0
