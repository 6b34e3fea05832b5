"""FTS5 BM25 over chunk headings and text, with a query builder that never lets user input
reach FTS5's query syntax: words are quoted and OR-ed, common English stopwords dropped (the
porter tokenizer in the table stems both sides). Read-only: any thread."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

_WORD = re.compile(r"\w+", re.UNICODE)
MAX_TERMS = 32
STOPWORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further
had has have having he her here hers herself him himself his how i if in into is it its itself
just me more most my myself no nor not now of off on once only or other our ours ourselves out
over own same she should so some such than that the their theirs them themselves then there
these they this those through to too under until up very was we were what when where which
while who whom why will with would you your yours yourself yourselves s t don doesn didn
isn aren wasn weren can't won't shall may might must also get got use used using want need
""".split())


def query_terms(query: str) -> list[str]:
    words = [w.lower() for w in _WORD.findall(query)]
    kept = [w for w in words if w not in STOPWORDS] or words
    seen: dict[str, None] = {}
    for word in kept:
        seen.setdefault(word, None)
    return list(seen)[:MAX_TERMS]


def match_expression(query: str) -> str:
    """An FTS5 MATCH expression: quoted terms joined by OR; "" when the query has no words."""
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in query_terms(query))


def bm25_search(conn: Any, query: str, limit: int, where: str = "", params: Sequence[Any] = (),
                heading_weight: float = 1.0, text_weight: float = 1.0) -> list[tuple[int, float]]:
    """``(chunk_id, score)`` best first; score is minus FTS5's bm25 (higher is better).
    ``where`` is an extra SQL condition on ``c`` (chunks) and ``f`` (files)."""
    expression = match_expression(query)
    if not expression:
        return []
    join = "JOIN chunks c ON c.id = chunks_fts.rowid JOIN files f ON f.id = c.file_id" if where else ""
    sql = (
        f"SELECT chunks_fts.rowid, bm25(chunks_fts, ?, ?) AS score FROM chunks_fts {join} "
        f"WHERE chunks_fts MATCH ? {('AND ' + where) if where else ''} "
        "ORDER BY score LIMIT ?"
    )
    rows = conn.execute(sql, (heading_weight, text_weight, expression, *params, limit))
    return [(int(r[0]), -float(r[1])) for r in rows]


def snippets(conn: Any, query: str, chunk_ids: Sequence[int], open_mark: str, close_mark: str,
             tokens: int = 24) -> dict[int, str]:
    """FTS5 snippets (matching words marked) for the given chunks that match ``query``."""
    expression = match_expression(query)
    if not expression or not chunk_ids:
        return {}
    marks = ",".join("?" * len(chunk_ids))
    rows = conn.execute(
        f"SELECT rowid, snippet(chunks_fts, 1, ?, ?, '…', ?) FROM chunks_fts "
        f"WHERE chunks_fts MATCH ? AND rowid IN ({marks})",
        (open_mark, close_mark, tokens, expression, *chunk_ids),
    )
    return {int(r[0]): str(r[1]) for r in rows}
