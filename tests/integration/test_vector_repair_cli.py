"""A damaged or missing ANN index through the CLI: the first `familiar index` rebuilds a
damaged one from store.db, and `familiar search` repairs a missing or incomplete one (on the
index lane, its single writer) before it searches. Real store, real chromadb, fake embedder."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

import app.core.memory.search as search_module
import app.core.memory.service as memory_service
from app.cli import main
from app.core.config import MemorySettings
from app.core.profile.vault import Vault
from app.runtime import Runtime
from tests.fixtures.fake_embedder import FakeEmbedder
from tests.fixtures.indexing import note, write
from tests.integration.test_index_cli import PASS, final_state, init_with_folder, run_fake_json


def damage(vectors: Path) -> None:
    """Random bytes over the head of chroma's database ("file is not a database")."""
    with (vectors / "chroma.sqlite3").open("r+b") as handle:
        handle.write(os.urandom(8192))


def test_a_damaged_index_is_rebuilt_by_the_first_index_run(home: Path, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    for topic in ("alpha", "beta", "gamma"):
        write(docs / f"{topic}.md", note(topic))
    init_with_folder(home, docs)
    assert run_fake_json(home, "index")[0] == 0
    code, before = run_fake_json(home, "search", "alpha paragraph", "-k", "3")
    assert code == 0 and before["hits"], before
    damage(home / "vectors")
    code, report = run_fake_json(home, "index")
    assert code == 0, report  # was: internal error (AttributeError), exit 1
    assert (report["indexed"], report["unchanged"], report["failed"]) == (0, 3, 0)
    state = final_state(home)
    assert state["vector_ids"] == state["ann_ids"]
    code, after = run_fake_json(home, "search", "alpha paragraph", "-k", "3")
    assert code == 0 and after["hits"] == before["hits"]


@pytest.fixture
def fake_profile(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A profile indexed with the fake embedder, which the in-process CLI also uses."""
    monkeypatch.setattr(memory_service, "make_embedder", lambda settings: FakeEmbedder())
    monkeypatch.setenv("FAMILIAR_PASSPHRASE", PASS)
    profile, _ = Vault.create(home, passphrase=PASS)
    files = [write(tmp_path / "notes" / f"{topic}.md", note(topic))
             for topic in ("heron", "otter", "bread", "soup")]
    runtime = Runtime.start(profile)
    try:
        outcomes = runtime.lanes.index.run(
            lambda state: runtime.memory.ingestor.ingest([(p, None) for p in files], state))
        assert all(o.status == "indexed" for o in outcomes)
    finally:
        runtime.close()
    return home


def search_hits(capsys: pytest.CaptureFixture[str], query: str) -> list[dict[str, object]]:
    assert main(["search", query, "-k", "3", "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1, lines
    hits: list[dict[str, object]] = json.loads(lines[0])["hits"]
    return hits


def test_search_repairs_a_missing_or_incomplete_index_and_returns_dense_hits(
        fake_profile: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Above ``EXACT_MAX`` chunks (here lowered to 0, as for a profile of more than 20,000)
    dense hits come from the ANN only: a deleted index gave none, and stayed empty."""
    monkeypatch.setattr(search_module, "EXACT_MAX", 0)
    shutil.rmtree(fake_profile / "vectors")
    # No word of this query is in any note: every hit is a dense one.
    assert len(search_hits(capsys, "quokka")) == 3
    state = final_state(fake_profile)
    assert state["vector_ids"] == state["ann_ids"] and len(state["ann_ids"]) > 3
    # An index that lost some vectors (its count differs from the store's) is completed too.
    profile = Vault.load(fake_profile).unlock_passphrase(PASS)
    memory = memory_service.Memory(fake_profile, profile.store, profile.subkey("vectors"),
                                   MemorySettings(), embedder=FakeEmbedder())
    try:
        memory.vectors.delete(sorted(state["ann_ids"])[:3])
        assert memory.vectors.count() == len(state["ann_ids"]) - 3
    finally:
        memory.close()
        profile.lock()
    assert len(search_hits(capsys, "quokka")) == 3
    assert final_state(fake_profile)["vector_ids"] == state["ann_ids"]


def test_ask_repairs_a_missing_index_before_it_retrieves(
        fake_profile: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.rmtree(fake_profile / "vectors")
    assert main(["ask", "what do herons eat", "--json"]) == 0
    capsys.readouterr()
    state = final_state(fake_profile)
    assert state["vector_ids"] == state["ann_ids"] and state["ann_ids"]
