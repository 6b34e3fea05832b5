"""``familiar models ...`` and ``familiar bench engine`` as subprocesses, like a user or script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.fixtures.canary import scan, text_patterns
from tests.fixtures.fake_hub import FakeHub
from tests.fixtures.tiny_gguf import tiny_gguf  # noqa: F401
from tests.integration.cli import run, run_json


def _run_json_env(home: Path, env_extra: dict[str, str], *args: str) -> tuple[int, dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FAMILIAR_", "HF_"))}
    env.update(FAMILIAR_HOME=str(home), **env_extra)
    out = subprocess.run([sys.executable, "-m", "app", *args, "--json"], env=env,
                         capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300)
    lines = [line for line in out.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, (out.stdout, out.stderr[-800:])
    return out.returncode, json.loads(lines[0])


def test_bench_engine_prints_the_figures(home: Path, tiny_gguf: Path) -> None:  # noqa: F811
    code, out = run_json(home, "bench", "engine", "--model", str(tiny_gguf), "--rounds", "2",
                         "--max-tokens", "32")
    assert code == 0, out
    for key in ("app_tokens_per_s", "raw_tokens_per_s", "ratio", "ttft_overhead_ms"):
        assert isinstance(out[key], float | int), key
    assert out["app_tokens_per_s"] > 0 and out["raw_tokens_per_s"] > 0
    assert out["same_output"] is True and out["tokens_per_round"] == 32
    assert 0 <= out["python_share_of_token_time"] <= 1


def test_bench_engine_refuses_a_bad_model(home: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_text("no")
    code, out = run_json(home, "bench", "engine", "--model", str(bad))
    assert code != 0 and "not a GGUF" in out["error"]


def test_list_and_recommend_label_every_entry(home: Path) -> None:
    code, listed = run_json(home, "models", "list")
    assert code == 0
    labels = {m["label"] for m in listed["catalog"]}
    assert labels <= {"fits well", "will be slow", "too big for this machine"}
    assert len(listed["catalog"]) >= 8
    assert sum(m["recommended"] for m in listed["catalog"]) <= 1
    code, rec = run_json(home, "models", "recommend")
    if listed["recommended"] is None:
        assert code != 0
    else:
        assert code == 0 and rec["id"] == listed["recommended"]
        assert rec["label"] in ("fits well", "will be slow")


def test_download_from_a_hub_like_server_then_list(home: Path, tiny_gguf: Path) -> None:  # noqa: F811
    hub = FakeHub()
    try:
        data = tiny_gguf.read_bytes()
        sha = hub.state.add("bartowski/Qwen2.5-0.5B-Instruct-GGUF",
                            "Qwen2.5-0.5B-Instruct-Q4_K_M.gguf", data)
        env = {"HF_ENDPOINT": hub.url, "HF_HUB_OFFLINE": "0", "HF_HOME": str(home / "hf")}
        code, out = _run_json_env(home, env, "models", "download", "qwen2.5-0.5b-instruct")
        assert code == 0, out
        assert out["sha256"] == sha and out["verified_against"] == "hub-etag"
        assert Path(out["path"]).read_bytes() == data
        code, again = _run_json_env(home, env, "models", "download", "qwen2.5-0.5b-instruct")
        assert code == 0 and again["already_present"] is True
    finally:
        hub.close()
    code, listed = run_json(home, "models", "list")
    assert [m["file"] for m in listed["installed"]] == ["Qwen2.5-0.5B-Instruct-Q4_K_M.gguf"]
    entry = next(m for m in listed["catalog"] if m["id"] == "qwen2.5-0.5b-instruct")
    assert entry["downloaded"] is True


def test_download_unknown_id_and_offline(home: Path) -> None:
    code, out = run_json(home, "models", "download", "no-such-model")
    assert code != 0 and "not in the model catalog" in out["error"]
    code, out = run_json(home, "models", "download", "qwen2.5-0.5b-instruct")  # HF_HUB_OFFLINE=1
    assert code != 0 and "HF_HUB_OFFLINE" in out["error"]


def test_import_copy_and_bad_files(home: Path, tiny_gguf: Path, tmp_path: Path) -> None:  # noqa: F811
    code, out = run_json(home, "models", "import", str(tiny_gguf))
    assert code == 0 and out["copied"] and out["architecture"] == "llama"
    assert Path(out["path"]).read_bytes() == tiny_gguf.read_bytes()
    code, out = run_json(home, "models", "import", str(tiny_gguf))
    assert code != 0 and "already in the models folder" in out["error"]
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(tiny_gguf.read_bytes()[:100_000])
    code, out = run_json(home, "models", "import", str(cut))
    assert code != 0 and "truncated" in out["error"]
    assert not (home / "models" / "cut.gguf").exists()
    out_text = run(home, "models", "import", str(tmp_path / "missing.gguf"))
    assert out_text.returncode != 0
    assert len(out_text.stderr.strip().splitlines()) == 1


def test_import_by_reference_keeps_the_path_encrypted(home: Path, tiny_gguf: Path,  # noqa: F811
                                                      tmp_path: Path) -> None:
    secret_dir = tmp_path / "canary-d41c9e-private-models"
    secret_dir.mkdir()
    model = secret_dir / "my-model.gguf"
    model.write_bytes(tiny_gguf.read_bytes())
    assert run_json(home, "init", FAMILIAR_PASSPHRASE="pw")[0] == 0
    code, out = run_json(home, "models", "import", "--reference", str(model),
                         FAMILIAR_PASSPHRASE="pw")
    assert code == 0 and out["copied"] is False
    code, listed = run_json(home, "models", "list", FAMILIAR_PASSPHRASE="pw")
    assert [r["path"] for r in listed["references"]] == [str(model)]
    assert not (home / "models" / "my-model.gguf").exists()
    assert scan(home, text_patterns("canary-d41c9e-private-models")) == []
    code, locked = run_json(home, "models", "list")  # no passphrase: references hidden
    assert code == 0 and locked["references"] == [] and locked["notes"]


def test_models_use_sets_the_active_model(home: Path, tiny_gguf: Path) -> None:  # noqa: F811
    env = {"FAMILIAR_PASSPHRASE": "x"}
    assert run_json(home, "init", **env)[0] == 0
    code, out = run_json(home, "models", "use", str(tiny_gguf), **env)
    assert code == 0 and out["path"] == str(tiny_gguf)
    code, out = run_json(home, "models", "use", "no-such-model", **env)
    assert code != 0 and "no model" in out["error"]
