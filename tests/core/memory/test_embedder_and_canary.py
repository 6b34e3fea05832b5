"""The real bundled model (loaded once) and the fake; the canary scan of a real profile after
ingest and search: no chunk text, no path and no unrotated vector anywhere on disk."""

from __future__ import annotations

import numpy as np

from app.core.config import MemorySettings
from app.core.memory.embedder import BUNDLED_MODEL, SentenceEmbedder, bundled_model_path
from app.core.memory.ingest import from_blob
from app.core.memory.service import Memory
from app.core.memory.vectors import rotation_matrix
from app.core.profile.vault import Vault
from tests.fixtures.canary import scan, text_patterns, vector_patterns
from tests.fixtures.fake_embedder import FakeEmbedder


def test_bundled_model_is_found_offline() -> None:
    path = bundled_model_path()
    assert path is not None and (path / "model.safetensors").exists()


def test_real_embedder_normalised_and_semantic(real_embedder: SentenceEmbedder) -> None:
    assert real_embedder.name == BUNDLED_MODEL and real_embedder.dim == 384
    vectors = real_embedder.encode(["How do I bake sourdough bread?",
                                    "A recipe for a naturally leavened loaf",
                                    "Changing the oil of a motorcycle"])
    assert vectors.dtype == np.float32 and vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2
    again = real_embedder.encode(["How do I bake sourdough bread?"])
    assert np.allclose(again[0], vectors[0], atol=1e-5)
    assert real_embedder.encode([]).shape == (0, 384)


def test_fake_embedder_is_deterministic() -> None:
    fake = FakeEmbedder(dim=16)
    a, b = fake.encode(["same words here", "same words here"])
    assert np.array_equal(a, b) and abs(float(np.linalg.norm(a)) - 1.0) < 1e-6


def test_rotation_is_orthogonal_secret_and_stable() -> None:
    q = rotation_matrix(b"k" * 32, 48)
    assert np.allclose(q @ q.T, np.eye(48), atol=1e-10)
    assert np.array_equal(q, rotation_matrix(b"k" * 32, 48))
    assert not np.allclose(q, rotation_matrix(b"j" * 32, 48))


def test_canary_no_plaintext_under_the_profile(tmp_path, real_embedder) -> None:  # type: ignore[no-untyped-def]
    home = tmp_path / "profile"
    profile, _code = Vault.create(home, passphrase="canary test passphrase")
    docs = tmp_path / "CanaryFolderQuux"
    docs.mkdir()
    secret_text = "ZebraCanaryMarker lives in the chunk text"
    path = docs / "CanaryFileNameXyzzy.md"
    path.write_text(f"# HeadingCanaryPlugh\n\n{secret_text}.\n", encoding="utf-8")
    memory = Memory(home, profile.store, profile.subkey("vectors"), MemorySettings(),
                    embedder=real_embedder)
    try:
        assert memory.ingestor.ingest([(path, None)])[0].status == "indexed"
        hits = memory.searcher.search("ZebraCanaryMarker", k=1)
        assert hits and hits[0].path == path
        stored = from_blob(profile.store.conn.execute("SELECT embedding FROM chunks").fetchone()[0])
        query_vector = real_embedder.encode(["ZebraCanaryMarker"])[0]
        conversations = memory.ephemeral("conversations")
        conversations.add(["m1"], real_embedder.encode(["EphemeralCanaryText"]))
    finally:
        memory.close()
        profile.lock()
    assert any((home / "vectors").rglob("*")), "the chroma index should be on disk"
    patterns = [p for marker in ("ZebraCanaryMarker", "CanaryFileNameXyzzy", "CanaryFolderQuux",
                                 "HeadingCanaryPlugh", "EphemeralCanaryText")
                for p in text_patterns(marker)]
    patterns += vector_patterns(stored) + vector_patterns(query_vector)
    assert scan(home, patterns) == []
