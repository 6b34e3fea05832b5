"""``familiar ask QUESTION [--model PATH]``: a grounded answer with citations and timings."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from app.commands.base import Cli, CliError, add_command


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = add_command(sub, common, "ask", cmd_ask, "ask a question about your files")
    p.add_argument("question", help="the question")
    p.add_argument("--model", type=Path, help="GGUF model to answer with (default: the active one)")
    p.add_argument("--conversation", type=int, help="continue this conversation id")


def cmd_ask(cli: Cli) -> int:
    from app.commands.search_cmd import repair_vector_index
    from app.core.tasks import TaskState

    question = cli.args.question.strip()
    if not question:
        raise CliError("the question is empty")
    runtime = cli.runtime()
    if cli.args.model is not None:
        if not cli.args.model.is_file():
            raise CliError(f"no model file at {cli.args.model}")
        runtime.settings.engine.model_path = str(cli.args.model.resolve())
    repair_vector_index(runtime)
    assistant = runtime.assistant
    state = TaskState()
    done = None
    try:
        # The CLI runs the pipeline synchronously (the GUI runs it on the llm lane).
        for event in assistant.ask(state, question, cli.args.conversation):
            if event.kind == "token" and not cli.json:
                sys.stdout.write(event.text)
                sys.stdout.flush()
            elif event.kind == "done":
                done = event
    except KeyboardInterrupt:
        state.cancel()
        raise
    assert done is not None and done.message is not None
    message = done.message
    citations = [
        {"n": c.n, "kind": c.kind, "path": c.path, "location": c.location,
         "snippet": c.snippet, "cited": c.cited}
        for c in message.citations
    ]
    payload = {
        "answer": message.text,
        "status": message.status,
        "conversation_id": message.conversation_id,
        "message_id": message.id,
        "citations": citations,
        "timings": {k: message.meta.get(k) for k in ("retrieval_ms", "ttft_ms", "tokens_per_s")},
    }
    if cli.json:
        cli.emit(payload, "")
    else:
        lines = ["", ""]
        for c in message.citations:
            if c.cited or message.status == "extractive":
                where = f", {c.location}" if c.location else ""
                lines.append(f"[{c.n}] {c.path if c.kind == 'file' else 'memory'}{where}")
        print("\n".join(lines).rstrip())
    return 0
