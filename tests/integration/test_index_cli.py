"""``familiar folders`` and ``familiar index`` as subprocesses, including kill -9 and resume."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from app.core.config import MemorySettings
from app.core.memory.service import Memory
from app.core.profile.vault import Vault
from tests.fixtures.fake_embedder import FakeEmbedder
from tests.fixtures.indexing import copy_til, note, picture, write
from tests.integration.cli import familiar_env, run, run_json

PASS = "kill-test"


def init_with_folder(home: Path, folder: Path, *extra: str) -> None:
    assert run_json(home, "init", FAMILIAR_PASSPHRASE=PASS)[0] == 0
    code, added = run_json(home, "folders", "add", str(folder), *extra, FAMILIAR_PASSPHRASE=PASS)
    assert code == 0 and added["added"], added


def final_state(home: Path) -> dict[str, Any]:
    profile = Vault.load(home).unlock_passphrase(PASS)
    memory = Memory(home, profile.store, profile.subkey("vectors"), MemorySettings(),
                    embedder=FakeEmbedder())
    try:
        pic = picture(profile.store)
        pic["vector_ids"] = memory.vectors.ids()
        pic["pending"] = profile.store.conn.execute("SELECT count(*) FROM index_jobs").fetchone()[0]
        return pic
    finally:
        memory.close()
        profile.lock()


def assert_same_index(state: dict[str, Any], clean: dict[str, Any]) -> None:
    assert state["pending"] == 0
    assert state["chunk_count"] == state["distinct_chunks"], "duplicate chunks"
    assert state["vector_ids"] == state["ann_ids"], "orphan or missing vectors"
    assert state["files"] == clean["files"]
    assert state["chunks"] == clean["chunks"]
    assert len(state["vector_ids"]) == len(clean["vector_ids"])


def test_folders_add_list_remove_and_index(home: Path, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    write(docs / "a.md", note("alpha"))
    write(docs / "skip" / "b.md", note("beta"))
    write(docs / "bin.txt", "x\x00y")
    init_with_folder(home, docs, "--exclude", "skip/")
    code, listed = run_json(home, "folders", "list", FAMILIAR_PASSPHRASE=PASS)
    assert code == 0 and listed["folders"][0]["excludes"] == ["skip/"]
    out = run(home, "folders", "add", str(tmp_path / "nope"), FAMILIAR_PASSPHRASE=PASS)
    assert out.returncode != 0 and len(out.stderr.strip().splitlines()) == 1
    code, report = run_fake_json(home, "index")
    assert code == 0, report
    assert (report["indexed"], report["skipped"], report["failed"]) == (1, 1, 0)
    assert report["issues"] == [{"path": str(docs / "bin.txt"), "status": "skipped",
                                 "reason": "binary content"}]
    code, again = run_fake_json(home, "index")
    assert (again["indexed"], again["unchanged"]) == (0, 1)
    code, listed = run_json(home, "folders", "list", FAMILIAR_PASSPHRASE=PASS)
    assert listed["folders"][0]["files"] == 1 and listed["folders"][0]["skipped"] == 1
    code, removed = run_json(home, "folders", "remove", str(docs), FAMILIAR_PASSPHRASE=PASS)
    assert code == 0 and removed["files_forgotten"] == 1
    assert final_state(home)["files"] == []
    out = run(home, "folders", "remove", str(docs), FAMILIAR_PASSPHRASE=PASS)
    assert out.returncode != 0


def run_fake_json(home: Path, *args: str) -> tuple[int, dict[str, Any]]:
    """``familiar ARGS --json`` with the fake embedder (tests/fixtures/indexing.py)."""
    out = subprocess.run(
        [sys.executable, "-m", "tests.fixtures.indexing", *args, "--json"],
        cwd=Path(__file__).parents[2], env=familiar_env(home, FAMILIAR_PASSPHRASE=PASS),
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300)
    lines = [line for line in out.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, (out.stdout, out.stderr[-1000:])
    return out.returncode, json.loads(lines[0])


def start_index(home: Path, fake: bool) -> subprocess.Popen[str]:
    module = ["-m", "tests.fixtures.indexing"] if fake else ["-m", "app"]
    return subprocess.Popen(
        [sys.executable, *module, "index", "--json"], cwd=Path(__file__).parents[2],
        env=familiar_env(home, FAMILIAR_PASSPHRASE=PASS), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)


def kill_after(proc: subprocess.Popen[str], marker: str, count: int,
               mid_run: bool = False) -> bool:
    """SIGKILL ``proc`` once ``count`` stderr lines starting with ``marker`` were read (with
    ``mid_run``: progress lines showing some but not all files done); False when it
    finished first."""
    assert proc.stderr is not None
    seen = 0
    for line in proc.stderr:
        if not line.startswith(marker):
            continue
        if mid_run:
            match = re.search(r"(\d+)/(\d+) files", line)
            if not match or not 0 < int(match.group(1)) < int(match.group(2)):
                continue
        seen += 1
        if seen >= count:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            return True
    proc.wait()
    return False


def index_to_the_end(home: Path, fake: bool) -> dict[str, Any]:
    proc = start_index(home, fake)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-2000:]
    return final_state(home)


@pytest.mark.slow
def test_kill_9_at_several_points_then_resume_equals_a_clean_run(tmp_path: Path) -> None:
    corpus = tmp_path / "til"
    copy_til(corpus, 300)
    clean_home = tmp_path / "clean"
    init_with_folder(clean_home, corpus)
    clean = index_to_the_end(clean_home, fake=True)
    assert clean["chunk_count"] > 300

    home = tmp_path / "killed"
    init_with_folder(home, corpus)
    kills = 0
    # after the first progress line (reconcile done, first batch under way), then after the
    # 1st, 2nd and 3rd embedding batch of successive runs (each run resumes the last one)
    for marker, count in [("indexing:", 1), ("encoded", 1), ("encoded", 2), ("encoded", 1)]:
        kills += kill_after(start_index(home, fake=True), marker, count)
    assert kills >= 3
    partial = final_state(home)
    assert 0 < partial["chunk_count"] < clean["chunk_count"] or partial["pending"] > 0
    assert_same_index(index_to_the_end(home, fake=True), clean)


@pytest.mark.slow
def test_kill_9_with_the_real_pipeline(tmp_path: Path) -> None:
    """Killed while the real model loads or embeds, then resumed with the real model. The
    chunk set does not depend on the embedder, so the clean reference uses the fake one."""
    corpus = tmp_path / "til"
    copy_til(corpus, 160)
    clean_home = tmp_path / "clean"
    init_with_folder(clean_home, corpus)
    clean = index_to_the_end(clean_home, fake=True)
    home = tmp_path / "killed"
    init_with_folder(home, corpus)
    # right after the first embedding batch is committed, while the next one is embedded
    killed = kill_after(start_index(home, fake=False), "indexing:", 1, mid_run=True)
    state = index_to_the_end(home, fake=False)
    assert_same_index(state, clean)
    assert killed, "the run finished before the kill point: use a larger corpus"


def test_a_terminal_gets_a_progress_bar(home: Path, tmp_path: Path) -> None:
    import pty

    docs = tmp_path / "docs"
    for i in range(20):
        write(docs / f"n{i}.md", note(f"bar{i}"))
    init_with_folder(home, docs)
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "tests.fixtures.indexing", "index"],
            cwd=Path(__file__).parents[2], env=familiar_env(home, FAMILIAR_PASSPHRASE=PASS),
            stdout=subprocess.PIPE, stderr=follower, stdin=subprocess.DEVNULL, text=True,
            timeout=300)
        os.close(follower)
        follower = -1
        chunks = []
        while True:
            try:
                data = os.read(leader, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
    finally:
        if follower != -1:
            os.close(follower)
        os.close(leader)
    drawn = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0
    assert "\r[" in drawn and "20/20 files" in drawn
    assert proc.stdout.startswith("Indexed 20 files")


def test_index_re_embeds_after_the_embedding_model_changes(home: Path, tmp_path: Path) -> None:
    from app.core.memory.embedder import bundled_model_path
    from app.core.settings_store import load_settings, save_settings

    docs = tmp_path / "docs"
    for name in ("heron", "owl"):
        write(docs / f"{name}.md", note(name))
    init_with_folder(home, docs)
    code, first = run_json(home, "index", FAMILIAR_PASSPHRASE=PASS)
    assert code == 0 and first["indexed"] == 2 and first["reembedded"] == 0
    # What Settings > Memory saves: another sentence-transformers model, here by folder.
    profile = Vault.load(home).unlock_passphrase(PASS)
    settings = load_settings(profile.store)
    settings.memory.embedding_model = str(bundled_model_path())
    save_settings(profile.store, settings)
    profile.lock()
    code, second = run_json(home, "index", FAMILIAR_PASSPHRASE=PASS)
    assert code == 0 and second["indexed"] == 0 and second["unchanged"] == 2
    assert second["reembedded"] == first["chunks"] > 0
    out = run(home, "index", FAMILIAR_PASSPHRASE=PASS)
    assert out.returncode == 0 and "Re-embedded" not in out.stdout
    code, hits = run_json(home, "search", "heron", FAMILIAR_PASSPHRASE=PASS)
    assert code == 0 and Path(hits["hits"][0]["path"]).name == "heron.md"
