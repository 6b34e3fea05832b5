"""``familiar bench retrieval --dataset DIR [--split test]``: retrieval quality and latency.

Loads a BEIR folder (or, with ``--corpus-dir``, a folder of files plus the dataset's queries
and qrels) into a fresh temporary profile through the same ingest pipeline, then prints
nDCG@10, recall@100 and search latency (p50/p95, query embedding included) for the fused
ranking, and the same figures for dense-only and BM25-only so the gain of fusion is visible.
``--workdir`` keeps the profile so later runs skip the ingest.
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from app.commands.base import Cli, CliError


def register_bench(bench_sub: Any, common: argparse.ArgumentParser) -> None:
    parser = bench_sub.add_parser("retrieval", parents=[common],
                                  help="nDCG@10, recall@100 and latency on a BEIR folder")
    parser.add_argument("--dataset", required=True, type=Path, help="BEIR folder")
    parser.add_argument("--split", default="test", help="qrels split (default: test)")
    parser.add_argument("--corpus-dir", type=Path, default=None,
                        help="use the files under this folder as the corpus (doc id = "
                             "relative path) instead of corpus.jsonl")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep the temporary profile here and reuse it on the next run")
    parser.add_argument("--fusion", default=None, help="override memory.fusion for this run")
    parser.add_argument("--embedding-backend", choices=("onnx", "torch"), default=None,
                        help="override memory.embedding_backend for this run")
    parser.add_argument("--pad-to", type=int, default=0, metavar="N",
                        help="then grow the store to N chunks with synthetic variants of its "
                             "chunks and time the searches again (latency at scale)")
    parser.set_defaults(handler=cmd_bench_retrieval)


@contextmanager
def bench_workdir(workdir: Path | None) -> Iterator[Path]:
    """The folder a bench keeps its profile in: ``workdir`` as given (kept), or a temporary
    folder that is removed afterwards."""
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
        yield workdir
        return
    scratch = Path(tempfile.mkdtemp(prefix="familiar-bench-"))
    try:
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _open_profile(workdir: Path) -> Any:
    from app.core.profile.vault import Vault

    home = workdir / "profile"
    secret_file = workdir / "bench-passphrase"
    if home.exists() and secret_file.exists():
        return Vault.load(home).unlock_passphrase(secret_file.read_text().strip()), False
    shutil.rmtree(home, ignore_errors=True)
    passphrase = secrets.token_hex(16)  # a throwaway profile of public bench data
    secret_file.write_text(passphrase)
    secret_file.chmod(0o600)
    profile, _code = Vault.create(home, passphrase=passphrase)
    return profile, True


def corpus_mapping(dataset: Path, workdir: Path, corpus_dir: Path | None,
                   fresh: bool) -> dict[Path, str]:
    """Path -> document id of the bench corpus: the files of ``corpus_dir``, else the BEIR
    documents as Markdown files under ``workdir/docs`` (written when the profile is new)."""
    from app.core.memory import evaluation

    if corpus_dir is not None:
        return evaluation.files_corpus(corpus_dir.resolve())
    if fresh or not (workdir / "docs").is_dir():
        shutil.rmtree(workdir / "docs", ignore_errors=True)
        return evaluation.write_corpus(dataset, workdir / "docs")
    return {p: d for p, d in zip(sorted((workdir / "docs").glob("*.md")),
                                 (d for d, _, _ in evaluation.iter_corpus(dataset)), strict=False)}


def cmd_bench_retrieval(cli: Cli) -> int:
    from app.core.config import MemorySettings
    from app.core.memory import evaluation
    from app.core.memory.service import Memory
    from app.core.tasks import TaskState

    args = cli.args
    dataset: Path = args.dataset
    if not (dataset / "queries.jsonl").is_file() or not (dataset / "qrels").is_dir():
        raise CliError(f"{dataset} is not a BEIR folder (queries.jsonl, qrels/)")
    if not (dataset / "qrels" / f"{args.split}.tsv").is_file():
        raise CliError(f"no qrels/{args.split}.tsv in {dataset}")
    if args.corpus_dir is None and not (dataset / "corpus.jsonl").is_file():
        raise CliError(f"no corpus.jsonl in {dataset} (or give --corpus-dir)")
    if args.corpus_dir is not None and not args.corpus_dir.is_dir():
        raise CliError(f"--corpus-dir {args.corpus_dir} is not a folder")
    data = evaluation.load_queries(dataset, args.split)
    if not data.queries:
        raise CliError(f"no judged queries for split {args.split!r}")

    settings = MemorySettings()
    if args.fusion:
        settings.fusion = args.fusion
    if args.embedding_backend:
        settings.embedding_backend = args.embedding_backend
    with bench_workdir(args.workdir) as workdir:
        profile, fresh = _open_profile(workdir)
        memory = Memory(profile.home, profile.store, profile.subkey("vectors"), settings)
        try:
            mapping = corpus_mapping(dataset, workdir, args.corpus_dir, fresh)
            by_key = {str(p): d for p, d in mapping.items()}
            started = time.perf_counter()
            state = TaskState(on_progress=_progress(cli), min_interval=2.0)
            outcomes = memory.ingestor.ingest([(p, None) for p in mapping], state)
            ingest_s = time.perf_counter() - started
            chunks = memory.store.conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
            searcher = memory.searcher
            searcher.search("warm up the model", k=1)  # load the model before timing
            results = {
                method: evaluation.evaluate(searcher, data, lambda p: by_key.get(str(p)), method)
                for method in ("dense", "bm25", settings.fusion)
            }
            app_timing = evaluation.time_app_searches(searcher, data)
            backend = str(getattr(memory.embedder, "backend", ""))
            padded: dict[str, Any] = {}
            if args.pad_to > chunks:
                cli.info(f"padding the store to {args.pad_to} chunks")
                evaluation.pad_store(memory.store, memory.vectors, memory.embedder.name,
                                     args.pad_to)
                total = memory.store.conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
                padded = {"chunks": total, "ann": memory.vectors.count()}
                for method in (settings.fusion, "dense", "bm25"):
                    timing = evaluation.evaluate(searcher, data, lambda p: by_key.get(str(p)),
                                                 method)
                    padded[method] = {"p50_ms": timing["p50_ms"], "p95_ms": timing["p95_ms"]}
                padded["app"] = evaluation.time_app_searches(searcher, data)
        finally:
            memory.close()
            profile.lock()
    fused = results[settings.fusion]
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    payload = {
        "dataset": dataset.name, "split": args.split, "fusion": settings.fusion,
        "ndcg@10": fused["ndcg@10"], "recall@100": fused["recall@100"],
        "p50_ms": fused["p50_ms"], "p95_ms": fused["p95_ms"], "queries": fused["queries"],
        "docs": len(mapping), "chunks": chunks, "files": counts,
        "ingest_s": round(ingest_s, 1), "dense": results["dense"], "bm25": results["bm25"],
        "app": app_timing, "embedding_backend": backend,
    }
    if padded:
        payload["padded"] = padded
    lines = [f"{dataset.name} ({args.split}, {fused['queries']} queries, {len(mapping)} docs, "
             f"{chunks} chunks, ingest {ingest_s:.0f} s)"]
    for name in ("dense", "bm25", settings.fusion):
        r = results[name]
        label = "fused (" + name + ")" if name == settings.fusion else name
        lines.append(f"  {label:<16} ndcg@10 {r['ndcg@10']:.4f}  recall@100 "
                     f"{r['recall@100']:.4f}  p50 {r['p50_ms']:.1f} ms  p95 {r['p95_ms']:.1f} ms")
    lines.append(f"  app search (k={app_timing['k']}, snippets) p50 {app_timing['p50_ms']:.1f} ms"
                 f"  p95 {app_timing['p95_ms']:.1f} ms")
    if padded:
        fused_pad = padded[settings.fusion]
        lines.append(f"  padded to {padded['chunks']} chunks: fused p50 "
                     f"{fused_pad['p50_ms']:.1f} ms  p95 {fused_pad['p95_ms']:.1f} ms; app search "
                     f"p50 {padded['app']['p50_ms']:.1f} ms  p95 {padded['app']['p95_ms']:.1f} ms")
    cli.emit(payload, "\n".join(lines))
    return 0


def _progress(cli: Cli) -> Any:
    def report(progress: Any) -> None:
        if sys.stderr.isatty() or not cli.json:
            cli.info(f"ingest: {int(progress.done)}/{int(progress.total or 0)} files, "
                     f"{progress.message}")

    return report
