"""`familiar ask` end to end: a folder indexed through the CLI, then questions, with and
without a model."""

from __future__ import annotations

from pathlib import Path

from tests.fixtures.canary import scan, text_patterns
from tests.fixtures.tiny_gguf import tiny_gguf  # noqa: F401
from tests.integration.cli import run_json

NOTE = "# Garden\n\n## Tomatoes\n\nWater the tomatoes every second morning (marigold-canary).\n"


def test_ask_extractive_then_with_a_model(home: Path, tmp_path: Path, tiny_gguf: Path) -> None:  # noqa: F811
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "garden.md").write_text(NOTE)
    (notes / "travel.md").write_text("# Travel\n\nThe Kyoto trip is in April.\n")
    env = {"FAMILIAR_PASSPHRASE": "x"}
    assert run_json(home, "init", **env)[0] == 0
    assert run_json(home, "folders", "add", str(notes), **env)[0] == 0
    code, summary = run_json(home, "index", **env)
    assert code == 0 and summary["indexed"] == 2

    code, out = run_json(home, "ask", "how often do I water the tomatoes", **env)
    assert code == 0 and out["status"] == "extractive"
    assert out["citations"][0]["path"] == str(notes / "garden.md")
    assert out["citations"][0]["location"].startswith("Garden")
    assert out["timings"]["retrieval_ms"] is not None

    code, out = run_json(home, "ask", "when is the trip?", "--model", str(tiny_gguf), **env)
    assert code == 0 and out["status"] == "complete" and out["answer"]
    assert out["timings"]["ttft_ms"] is not None and out["timings"]["tokens_per_s"]
    assert any(c["path"] == str(notes / "travel.md") for c in out["citations"])

    assert scan(home, text_patterns("marigold-canary") + text_patterns(str(notes))) == []


def test_ask_bad_input(home: Path) -> None:
    env = {"FAMILIAR_PASSPHRASE": "x"}
    assert run_json(home, "init", **env)[0] == 0
    code, out = run_json(home, "ask", "  ", **env)
    assert code != 0 and "empty" in out["error"]
    code, out = run_json(home, "ask", "q", "--model", "/nonexistent.gguf", **env)
    assert code != 0 and "no model file" in out["error"]
