"""``familiar memory list | forget ID | edit ID TEXT | on | off | run``: what Familiar has
learned about the user, and the personalization worker's state and last results."""

from __future__ import annotations

import argparse
from typing import Any

from app.commands.base import Cli, CliError, add_command


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    memory = sub.add_parser("memory", parents=[common], help="what Familiar remembers about you",
                            description="what Familiar remembers about you")
    memory_sub = memory.add_subparsers(dest="memory_command", metavar="ACTION", required=True)
    add_command(memory_sub, common, "list", cmd_list,
                "the memories, and the personalization worker's state and last results")
    p = add_command(memory_sub, common, "forget", cmd_forget,
                    "remove a memory everywhere; it is never learned again from the same message")
    p.add_argument("id", type=int)
    p = add_command(memory_sub, common, "edit", cmd_edit, "change the text of a memory")
    p.add_argument("id", type=int)
    p.add_argument("text")
    add_command(memory_sub, common, "on", cmd_on, "learn memories and use them in answers")
    p = add_command(memory_sub, common, "off", cmd_off,
                    "stop learning memories and stop using them in answers")
    p.add_argument("--forget-all", action="store_true", help="also forget every memory")
    add_command(memory_sub, common, "run", cmd_run,
                "do the idle-time learning now (memories from new conversations, reranker)")
    p = add_command(memory_sub, common, "adapter", cmd_adapter,
                    "the personal model (experimental LoRA adapter trained on your own text)")
    p.add_argument("action", choices=("status", "on", "off", "reset"),
                   help="reset: back to the base model (deletes the adapter)")


def cmd_list(cli: Cli) -> int:
    runtime = cli.runtime()
    personalizer = runtime.personalizer
    memories = [m.to_json() for m in personalizer.bank.entries()]
    status = personalizer.status()
    lines = [f"{m['id']:>5}  [{m['kind']}] {m['text']}" for m in memories]
    if not lines:
        lines.append("No memories yet.")
    state = status["scheduler"]
    waiting = status["memories"]["waiting"]
    lines.append("")
    lines.append(f"Memories: {'on' if status['memories']['enabled'] else 'off'}"
                 f"{' (' + waiting + ')' if waiting else ''}, "
                 f"{status['memories']['backlog']} messages not yet read.")
    lines.append(f"Reranker: {'on' if status['reranker']['enabled'] else 'off'}, "
                 f"{'in use' if status['reranker']['active'] else 'not trained yet'} "
                 f"({status['reranker']['examples']} examples).")
    for name, result in sorted(state["last_results"].items()):
        shown = ", ".join(f"{k} {v}" for k, v in result.items() if k != "at")
        lines.append(f"Last {name} run: {shown}")
    cli.emit({"memories": memories, "count": len(memories), "worker": status},
             "\n".join(lines))
    return 0


def cmd_forget(cli: Cli) -> int:
    bank = cli.runtime().memories
    bank.forget(cli.args.id)
    cli.emit({"forgotten": cli.args.id}, f"Forgot memory {cli.args.id}.")
    return 0


def cmd_edit(cli: Cli) -> int:
    if not cli.args.text.strip():
        raise CliError("the new text is empty; use 'familiar memory forget ID' to remove it")
    bank = cli.runtime().memories
    memory = bank.edit(cli.args.id, cli.args.text)
    cli.emit({"memory": memory.to_json()}, f"Memory {memory.id}: {memory.text}")
    return 0


def _switch(cli: Cli, on: bool) -> Any:
    runtime = cli.runtime()
    runtime.settings.personalization.memories_enabled = on
    runtime.save_settings()
    return runtime


def cmd_on(cli: Cli) -> int:
    _switch(cli, True)
    cli.emit({"memories_enabled": True}, "Memories are on.")
    return 0


def cmd_off(cli: Cli) -> int:
    runtime = _switch(cli, False)
    forgotten = runtime.memories.forget_all() if cli.args.forget_all else 0
    cli.emit({"memories_enabled": False, "forgotten": forgotten},
             "Memories are off." + (f" Forgot {forgotten}." if forgotten else ""))
    return 0


def cmd_run(cli: Cli) -> int:
    personalizer = cli.runtime().personalizer
    done = personalizer.run_now()
    status = personalizer.status()
    waiting = status["memories"]["waiting"]
    lines = [f"{name}: " + ", ".join(f"{k} {v}" for k, v in result.items())
             for name, result in done.items()] or ["Nothing to learn right now."]
    if waiting:
        lines.append(f"memories: {waiting}")
    cli.emit({"ran": done, "worker": status}, "\n".join(lines))
    return 0


def cmd_adapter(cli: Cli) -> int:
    runtime = cli.runtime()
    settings = runtime.settings.personalization
    lora = runtime.personalizer.lora
    action = cli.args.action
    if action in ("on", "off"):
        settings.lora_enabled = action == "on"
        runtime.save_settings()
    if action in ("off", "reset"):
        lora.reset()  # off also goes back to the base model
    status = lora.status()
    shown = ", ".join(f"{k} {v}" for k, v in status.items() if v is not None)
    cli.emit({"adapter": status}, f"Personal model: {shown}")
    return 0
