"""`familiar memory list|edit|forget|off|on|run` in-process through ``app.cli.main``: the
memories, the worker's state, errors as one line, nothing in plaintext on disk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli import main
from app.core.personalization.memories import Candidate
from app.core.profile.vault import Vault
from app.runtime import Runtime
from tests.fixtures.canary import scan, text_patterns

PASSPHRASE = "personal memory cli"


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    code = main([*argv, "--json"])
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1, out
    return code, json.loads(out[0])


def test_memory_commands(home: Path, monkeypatch: pytest.MonkeyPatch,
                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FAMILIAR_PASSPHRASE", PASSPHRASE)
    profile, _ = Vault.create(home, passphrase=PASSPHRASE)
    runtime = Runtime.start(profile)
    try:
        conversation = runtime.conversations.create()
        message = runtime.conversations.add_message(conversation.id, "user",
                                                    "I keep bees (QuokkaCanary hive).")
        runtime.memories.consolidate(
            [Candidate("The user keeps bees in the QuokkaCanary hive", "fact", 0.9,
                       message.id)], lambda c, related: None)
    finally:
        runtime.close()

    code, out = run_json(capsys, "memory", "list")
    assert code == 0 and out["count"] == 1
    memory = out["memories"][0]
    assert memory["text"] == "The user keeps bees in the QuokkaCanary hive"
    assert memory["sources"] == [message.id]
    worker = out["worker"]
    assert worker["memories"]["waiting"] == "waiting for a model"
    assert worker["memories"]["backlog"] == 1
    assert worker["reranker"]["active"] is False
    assert worker["scheduler"]["state"] in ("waiting", "paused", "ready")

    code, out = run_json(capsys, "memory", "run")  # no model: extraction waits, nothing faked
    assert code == 0 and out["ran"] == {} and out["worker"]["memories"]["backlog"] == 1

    code, out = run_json(capsys, "memory", "edit", str(memory["id"]),
                         "The user keeps two QuokkaCanary beehives")
    assert code == 0 and out["memory"]["edited"] is True

    code, out = run_json(capsys, "memory", "off")
    assert code == 0 and out["memories_enabled"] is False
    code, out = run_json(capsys, "memory", "list")
    assert out["worker"]["memories"]["enabled"] is False
    assert out["worker"]["memories"]["waiting"] == "memories are turned off"
    assert run_json(capsys, "memory", "on")[1]["memories_enabled"] is True

    assert scan(home, text_patterns("QuokkaCanary")) == []

    code, out = run_json(capsys, "memory", "forget", str(memory["id"]))
    assert code == 0 and out["forgotten"] == memory["id"]
    code, out = run_json(capsys, "memory", "list")
    assert out["count"] == 0

    code, out = run_json(capsys, "memory", "forget", "9999")
    assert code != 0 and out["error"] == "no memory 9999"
    code, out = run_json(capsys, "memory", "edit", str(memory["id"]), "  ")
    assert code != 0 and "empty" in out["error"]
