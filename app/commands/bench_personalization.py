"""``familiar bench personalization --corpus DIR``: does the feedback reranker help a user
with a stable preference?

Indexes the notes under DIR (e.g. the til eval corpus) into a throwaway profile with the real
embedder, then runs ``app.core.personalization.simulation``: the simulated user prefers one
topic folder's notes (``--prefer``) for the queries of a group of folders (``--topics``),
gives ``--events`` feedback events on training queries, the reranker trains as in idle time,
and nDCG@10 before/after is printed on held-out queries of that user, with control queries
from other folders (``--controls``). ``--workdir`` keeps the indexed profile between runs.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from app.commands.base import Cli, CliError

DEFAULT_TOPICS = "postgres,mysql,sqlite,mongodb,prisma,drizzle,planetscale"
DEFAULT_CONTROLS = "git,vim,javascript,ruby,python,tmux,react"


def register_bench(bench_sub: Any, common: argparse.ArgumentParser) -> None:
    parser = bench_sub.add_parser(
        "personalization", parents=[common],
        help="nDCG@10 of a simulated user's held-out queries before and after feedback")
    parser.add_argument("--corpus", required=True, type=Path,
                        help="a folder of notes in topic folders (e.g. eval/corpus/til)")
    parser.add_argument("--topics", default=DEFAULT_TOPICS,
                        help="comma-separated topic folders whose note titles are the queries")
    parser.add_argument("--prefer", default="mysql", help="the folder the user prefers")
    parser.add_argument("--controls", default=DEFAULT_CONTROLS,
                        help="comma-separated folders for control queries")
    parser.add_argument("--events", type=int, default=200, help="feedback events to give")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep the indexed profile here and reuse it on the next run")
    parser.add_argument("--lora-model", type=Path, default=None,
                        help="also fine-tune a personal LoRA adapter for this GGUF on the "
                             "preferred folder's notes (as the user's own text) and print "
                             "held-out perplexity with and without it (needs the lora extra)")
    parser.add_argument("--lora-steps", type=int, default=100)
    parser.set_defaults(handler=cmd_bench_personalization)


def _folders(corpus: Path, names: str) -> list[str]:
    out = [n.strip() for n in names.split(",") if n.strip()]
    missing = [n for n in out if not (corpus / n).is_dir()]
    if missing:
        raise CliError(f"no folder {', '.join(missing)} under {corpus}")
    return out


def _fresh_feedback(store: Any) -> None:
    """A reused profile starts without the previous run's answers, feedback and model."""
    with store.transaction() as conn:
        conn.execute("DELETE FROM conversations")
        conn.execute("DELETE FROM ranker_examples")
        conn.execute("DELETE FROM personal_state WHERE key LIKE 'ranker.%'")


def cmd_bench_personalization(cli: Cli) -> int:
    from app.commands.bench_retrieval import _open_profile, bench_workdir
    from app.core.assistant.conversations import Conversations
    from app.core.config import MemorySettings, PersonalizationSettings
    from app.core.memory.service import Memory
    from app.core.personalization.ranker import RerankingSearcher
    from app.core.personalization.ranker_training import RankerTrainer
    from app.core.personalization.simulation import simulate
    from app.core.personalization.state import PersonalState

    args = cli.args
    corpus: Path = args.corpus.resolve()
    if not corpus.is_dir():
        raise CliError(f"--corpus {args.corpus} is not a folder")
    topics = _folders(corpus, args.topics)
    controls = _folders(corpus, args.controls)
    if args.prefer not in topics:
        raise CliError(f"--prefer {args.prefer} is not one of the --topics folders")
    if args.events <= 0:
        raise CliError("--events must be positive")
    with bench_workdir(args.workdir) as workdir:
        profile, _fresh = _open_profile(workdir)
        memory = Memory(profile.home, profile.store, profile.subkey("vectors"), MemorySettings())
        try:
            files = sorted(p for p in corpus.rglob("*.md") if p.is_file())
            started = time.perf_counter()
            memory.ingestor.ingest([(p, None) for p in files])
            ingest_s = time.perf_counter() - started
            _fresh_feedback(profile.store)
            settings = PersonalizationSettings()
            reranking = RerankingSearcher(memory.searcher, profile.store, settings)
            trainer = RankerTrainer(profile.store, lambda: memory.searcher, reranking,
                                    PersonalState(profile.store))
            started = time.perf_counter()
            result = simulate(corpus, topics, args.prefer, controls, memory.searcher, reranking,
                              trainer, Conversations(profile.store), args.events, args.seed,
                              progress=cli.info)
            simulate_s = time.perf_counter() - started
            lora = (_bench_lora(cli, profile, corpus / args.prefer, args.lora_model,
                                args.lora_steps)
                    if args.lora_model is not None else None)
        finally:
            memory.close()
            profile.lock()
    r = result.to_json()
    payload = {"corpus": corpus.name, "prefer": args.prefer, "topics": topics,
               "controls": controls, "files": len(files), "ingest_s": round(ingest_s, 1),
               "simulate_s": round(simulate_s, 1), **r, "lora": lora}
    text = "\n".join([
        f"{corpus.name}: user prefers '{args.prefer}' for {', '.join(topics)} "
        f"({len(files)} notes, ingest {ingest_s:.0f} s)",
        f"  feedback: {r['events']} events on {r['answers']} answers "
        f"({r['train_queries']} training queries)",
        f"  held-out ({r['heldout_queries']} queries) ndcg@10 {r['ndcg_before']:.4f} -> "
        f"{r['ndcg_after']:.4f}",
        f"  control ({r['control_queries']} queries)  ndcg@10 {r['control_before']:.4f} -> "
        f"{r['control_after']:.4f}",
    ])
    if lora is not None:
        text += (f"\n  personal adapter ({lora['steps']} steps on {lora['texts']} notes, "
                 f"{lora['train_s']:.0f} s): held-out perplexity {lora['perplexity_base']:.3f}"
                 f" -> {lora['perplexity_adapter']:.3f}")
    cli.emit(payload, text)
    return 0


def _bench_lora(cli: Cli, profile: Any, folder: Path, model: Path, steps: int) -> dict[str, Any]:
    """The LoRA path as in idle time, on the user's "own text" (one folder's notes)."""
    from app.core.assistant.conversations import Conversations
    from app.core.config import EngineSettings, PersonalizationSettings
    from app.core.engine.llm import Engine
    from app.core.personalization import lora_train
    from app.core.personalization.adapters import LoraTask
    from app.core.personalization.state import PersonalState
    from app.core.tasks import TaskState

    reason = lora_train.missing()
    if reason:
        raise CliError(reason)
    if not model.is_file():
        raise CliError(f"--lora-model {model} is not a file")
    notes = [p.read_text(encoding="utf-8", errors="replace")[:600]
             for p in sorted(folder.rglob("*.md"))]
    chat = Conversations(profile.store)
    conversation = chat.create(title="bench")
    for note in notes:
        chat.add_message(conversation.id, "user", note)
    settings = PersonalizationSettings(lora_enabled=True, lora_steps=steps, lora_min_texts=2,
                                       lora_learning_rate=1e-3)
    engine = Engine(EngineSettings(context_size=512, idle_unload_s=0), model_path=model)
    task = LoraTask(profile.store, profile.blobs, settings, lambda: engine,
                    PersonalState(profile.store), lambda fn: fn())
    started = time.perf_counter()
    result: dict[str, Any] = {}
    try:
        while task.pending():
            result = task.step(TaskState())
            cli.info(f"lora: step {result.get('steps')}/{steps}, loss {result.get('loss')}")
        task.reset()
    finally:
        task.close()
        engine.close()
    return {"texts": len(notes), "steps": result.get("steps"),
            "train_s": round(time.perf_counter() - started, 1),
            "held_out_windows": result.get("held_out_windows"),
            "perplexity_base": result.get("perplexity_base"),
            "perplexity_adapter": result.get("perplexity_adapter")}
