"""``familiar search QUERY [-k N] [--folder DIR] [--type EXT] [--since WHEN]``: hybrid search
over the indexed files; hits with path, score, page or heading, and a snippet with the
matching words marked."""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from app.commands.base import Cli, CliError, add_command

_RELATIVE = re.compile(r"^(\d+)\s*([hdw])$")


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    parser = add_command(sub, common, "search", cmd_search, "search your indexed files")
    parser.add_argument("query", help="what to look for (words or a question)")
    parser.add_argument("-k", type=int, default=10, help="number of hits (default 10)")
    parser.add_argument("--folder", type=Path, default=None, help="only files below this folder")
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


def cmd_search(cli: Cli) -> int:
    from app.core.memory.search import Filters

    args = cli.args
    if not args.query.strip():
        raise CliError("the query is empty")
    if args.k < 1 or args.k > 1000:
        raise CliError("-k must be between 1 and 1000")
    filters = Filters(
        folder=args.folder.expanduser().resolve() if args.folder else None,
        types=tuple(t for t in args.types if t.strip(".")),
        since_ns=parse_since(args.since) if args.since else None,
    )
    runtime = cli.runtime()
    memory = runtime.memory
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
