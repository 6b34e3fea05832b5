"""FTS5 BM25 over chunk headings and text, with a query builder that never lets user input
reach FTS5's query syntax: words are quoted and OR-ed, common English stopwords dropped (the
porter tokenizer in the table stems both sides).

Ranking an OR query costs FTS5 one score per matching row, so a common word ("high", "1")
that matches a fifth of 100k chunks dominates the time while adding almost nothing to the
ranking (its IDF is low). ``bm25_search`` therefore keeps the query's rarest terms within a
budget of postings, using document frequencies from an ``fts5vocab`` table and the table's
own tokenizer (a per-connection in-memory FTS5 table) to stem the query exactly as the index
did. Small collections never reach the budget. Read-only over the store: any thread.
"""

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


def words(text: str) -> list[str]:
    """The words of ``text``, lower-cased, as the query builder sees them."""
    return [w.lower() for w in _WORD.findall(text)]


def query_terms(query: str) -> list[str]:
    found = words(query)
    kept = [w for w in found if w not in STOPWORDS] or found
    seen: dict[str, None] = {}
    for word in kept:
        seen.setdefault(word, None)
    return list(seen)[:MAX_TERMS]


def match_expression(query: str) -> str:
    """An FTS5 MATCH expression: quoted terms joined by OR; "" when the query has no words."""
    return _expression(query_terms(query))


def _expression(terms: Sequence[str]) -> str:
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)


# Must match the tokenizer of chunks_fts (migration m002), so that stems agree.
CHUNKS_TOKENIZER = "porter unicode61 remove_diacritics 2"


def _ensure_term_tables(conn: Any) -> None:
    """Per-connection helpers in the temp schema (in memory: temp_store = MEMORY): a scratch
    FTS5 table whose vocabulary gives the stems of the query words, and a row vocabulary of
    chunks_fts for document frequencies."""
    conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.query_words USING fts5("
                 f"w, tokenize='{CHUNKS_TOKENIZER}')")
    conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.query_stems "
                 "USING fts5vocab(temp, query_words, instance)")
    conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.chunk_term_docs "
                 "USING fts5vocab(main, chunks_fts, row)")


def rare_terms(conn: Any, terms: Sequence[str], budget: int) -> list[str]:
    """The query words whose stems are rarest in chunks_fts, in query order, kept while the
    sum of their document frequencies stays within ``budget`` (the rarest matching stem is
    always kept). Words that match no chunk are dropped; [] when none matches."""
    if not terms:
        return []
    _ensure_term_tables(conn)
    conn.execute("DELETE FROM temp.query_words")
    conn.executemany("INSERT INTO temp.query_words(rowid, w) VALUES (?, ?)",
                     list(enumerate(terms, start=1)))
    stems: dict[int, set[str]] = {}
    for stem, row in conn.execute("SELECT term, doc FROM temp.query_stems"):
        stems.setdefault(int(row), set()).add(str(stem))
    conn.execute("DELETE FROM temp.query_words")
    wanted = sorted(set().union(*stems.values())) if stems else []
    if not wanted:
        return []
    marks = ",".join("?" * len(wanted))
    docs = {str(t): int(n) for t, n in conn.execute(
        f"SELECT term, doc FROM temp.chunk_term_docs WHERE term IN ({marks})", wanted)}
    kept: set[str] = set()
    spent = 0
    for stem in sorted(docs, key=lambda t: (docs[t], t)):
        if kept and spent + docs[stem] > budget:
            break
        kept.add(stem)
        spent += docs[stem]
    return [t for i, t in enumerate(terms, start=1) if stems.get(i, set()) & kept]


def bm25_search(conn: Any, query: str, limit: int, where: str = "", params: Sequence[Any] = (),
                heading_weight: float = 1.0, text_weight: float = 1.0,
                postings_budget: int = 0) -> list[tuple[int, float]]:
    """``(chunk_id, score)`` best first; score is minus FTS5's bm25 (higher is better).
    ``where`` is an extra SQL condition on ``c`` (chunks) and ``f`` (files).
    ``postings_budget`` > 0: query only the rarest terms (``rare_terms``)."""
    terms = query_terms(query)
    if postings_budget > 0:
        terms = rare_terms(conn, terms, postings_budget)
    expression = _expression(terms)
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


def lookup_matches(conn: Any, query: str, limit: int, where: str = "",
                   params: Sequence[Any] = ()) -> list[int]:
    """A one-word query as a lookup: the chunks holding that word (its stem, as FTS5 sees
    it) when there are at most ``limit`` of them; [] when the query has more words (pinning
    the chunks that hold every word of a two- or three-word query lowered msmarco-5k, see
    docs/memory.md), the word occurs nowhere, or it is common (then ranking is the fusion's
    job)."""
    terms = query_terms(query)
    if len(terms) != 1 or limit <= 0:
        return []
    join = "JOIN chunks c ON c.id = chunks_fts.rowid JOIN files f ON f.id = c.file_id" if where else ""
    sql = (f"SELECT chunks_fts.rowid FROM chunks_fts {join} WHERE chunks_fts MATCH ? "
           f"{('AND ' + where) if where else ''} LIMIT ?")
    rows = conn.execute(sql, (_expression(terms), *params, limit + 1)).fetchall()
    return [int(r[0]) for r in rows] if len(rows) <= limit else []


def snippets(conn: Any, query: str, chunks: dict[int, tuple[str, str]], open_mark: str,
             close_mark: str, tokens: int = 24) -> dict[int, str]:
    """FTS5 snippets (matching words marked) for the given ``{chunk_id: (heading, text)}``
    that match ``query``. They are cut from a per-connection in-memory FTS5 table holding just
    these chunks (same tokenizer), not from chunks_fts: matching the query against the whole
    index again only to mark a handful of rows costs as much as the search itself."""
    expression = match_expression(query)
    if not expression or not chunks:
        return {}
    conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.snippet_rows USING fts5("
                 f"heading, text, tokenize='{CHUNKS_TOKENIZER}')")
    conn.execute("DELETE FROM temp.snippet_rows")
    try:
        conn.executemany("INSERT INTO temp.snippet_rows(rowid, heading, text) VALUES (?, ?, ?)",
                         [(cid, heading, text) for cid, (heading, text) in chunks.items()])
        rows = conn.execute(
            "SELECT rowid, snippet(snippet_rows, 1, ?, ?, '…', ?) FROM temp.snippet_rows "
            "WHERE snippet_rows MATCH ?", (open_mark, close_mark, tokens, expression)).fetchall()
    finally:
        conn.execute("DELETE FROM temp.snippet_rows")
    return {int(r[0]): str(r[1]) for r in rows}
