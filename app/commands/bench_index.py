"""``familiar bench index --corpus DIR``: indexing throughput against raw embedding speed.

Indexes DIR into a fresh temporary profile through the real pipeline (reconcile, queue,
extract, chunk, embed, store, ANN) on the index lane, then encodes the very same chunk texts
directly with the same loaded model (onnxruntime or torch) and batch size, on the same lane, in the same run
(right after the pipeline and again after the re-index; the mean is used). ``ratio`` = pipeline / raw chunks per
second: near 1 means the pipeline is bound by embedding, not by our own overhead. Re-indexing
the unchanged corpus is timed too (``reindex_unchanged_s``). The model is loaded and warmed,
and the vector index opened, before any timing.
"""

from __future__ import annotations

import argparse
import resource
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from app.commands.base import Cli, CliError


def register_bench(bench_sub: Any, common: argparse.ArgumentParser) -> None:
    parser = bench_sub.add_parser("index", parents=[common],
                                  help="indexing chunks/s against raw embedding chunks/s")
    parser.add_argument("--corpus", required=True, type=Path, help="folder of files to index")
    parser.add_argument("--embedding-backend", choices=("onnx", "torch"), default=None,
                        help="override memory.embedding_backend for this run")
    parser.set_defaults(handler=cmd_bench_index)


def _chunk_texts(store: Any) -> list[str]:
    """The texts the pipeline embedded, rebuilt from the stored chunks in insertion order."""
    rows = store.conn.execute("SELECT heading, text FROM chunks ORDER BY id").fetchall()
    return [f"{h}\n{t}" if h else str(t) for h, t in rows]


def _raw_encode(state: Any, embedder: Any, texts: list[str]) -> float:
    model = embedder.load()
    started = time.perf_counter()
    model.encode(texts, embedder.batch_size, embedder.threads)
    return time.perf_counter() - started


def cmd_bench_index(cli: Cli) -> int:
    from app.core.profile.vault import Vault
    from app.runtime import Runtime

    corpus: Path = cli.args.corpus
    if not corpus.is_dir():
        raise CliError(f"--corpus {corpus} is not a folder")
    scratch = Path(tempfile.mkdtemp(prefix="familiar-bench-index-"))
    runtime = None
    try:
        profile, _code = Vault.create(scratch / "profile", passphrase=secrets.token_hex(16))
        if cli.args.embedding_backend:
            from app.core.settings_store import load_settings, save_settings

            settings = load_settings(profile.store)
            settings.memory.embedding_backend = cli.args.embedding_backend
            save_settings(profile.store, settings)
        runtime = Runtime.start(profile)
        indexer = runtime.indexer
        embedder = runtime.memory.embedder
        index = runtime.lanes.index
        # One-time start-up costs (model load, chromadb import and open) are kept out of the
        # timed runs, as the raw encode has none of them.
        index.run(lambda state: embedder.encode(["warm up the model", "and its threads"] * 32))
        index.run(lambda state: runtime.memory.ingestor.ensure_ann())
        indexer.library.add(corpus)
        cli.info("indexing (first run)...")
        started = time.perf_counter()
        report = index.run(indexer.index_once)
        pipeline_s = time.perf_counter() - started
        texts = _chunk_texts(runtime.store)
        if not texts:
            raise CliError(f"nothing indexable under {corpus}")
        cli.info(f"encoding the same {len(texts)} chunks directly...")
        raw_1 = index.run(_raw_encode, embedder, texts)
        cli.info("re-indexing the unchanged corpus...")
        started = time.perf_counter()
        again = index.run(indexer.index_once)
        reindex_s = time.perf_counter() - started
        raw_2 = index.run(_raw_encode, embedder, texts)
        raw_s = (raw_1 + raw_2) / 2
        chunks = len(texts)
        pipeline_rate = chunks / pipeline_s
        raw_rate = chunks / raw_s
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        payload = {
            "corpus": str(corpus),
            "files": report.indexed,
            "skipped": report.skipped,
            "failed": report.failed,
            "chunks": chunks,
            "pipeline_s": round(pipeline_s, 3),
            "pipeline_chunks_per_s": round(pipeline_rate, 1),
            "raw_encode_s": round(raw_s, 3),
            "raw_encode_runs_s": [round(raw_1, 3), round(raw_2, 3)],
            "raw_encode_chunks_per_s": round(raw_rate, 1),
            "ratio": round(pipeline_rate / raw_rate, 3),
            "batch_size": embedder.batch_size,
            "embedding_backend": str(getattr(embedder, "backend", "")),
            "peak_rss_mb": round(peak_kb / 1024 if sys.platform != "darwin" else peak_kb / 2**20, 1),
            "reindex_unchanged_s": round(reindex_s, 3),
            "reindex_fraction": round(reindex_s / pipeline_s, 4),
            "reindex_unchanged_files": again.unchanged,
        }
        text = "\n".join([
            f"files {payload['files']}, chunks {chunks} (skipped {report.skipped}, "
            f"failed {report.failed})",
            f"pipeline:   {pipeline_rate:.1f} chunks/s ({pipeline_s:.1f} s)",
            f"raw encode: {raw_rate:.1f} chunks/s ({raw_s:.1f} s, batch {embedder.batch_size})",
            f"ratio:      {payload['ratio']}",
            f"peak RSS:   {payload['peak_rss_mb']} MB",
            f"unchanged re-index: {reindex_s:.2f} s ({100 * reindex_s / pipeline_s:.1f}% of the "
            f"first run)",
        ])
        cli.emit(payload, text)
        return 0
    finally:
        if runtime is not None:
            runtime.close()
        shutil.rmtree(scratch, ignore_errors=True)
