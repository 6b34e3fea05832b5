"""The bundled model on onnxruntime: the same vectors as torch, exported once and cached, a
damaged cache made again, and torch whenever there is no working export."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app.core.memory import onnx_backend
from app.core.memory.embedder import SentenceEmbedder, bundled_model_path, valid_text

TEXTS = [
    "How do I bake sourdough bread?",
    "",
    "x",
    "Émigré naïve café — 漢字 かな 😀",
    "Reefs are built by colonies of tiny animals in warm seas. " * 40,  # beyond 256 tokens
    "SELECT name FROM users WHERE id = 1;",
]


@pytest.fixture(scope="module")
def torch_embedder() -> SentenceEmbedder:
    embedder = SentenceEmbedder(threads=1, backend="torch")
    embedder.load()
    return embedder


def _cached_export() -> Path:
    found = sorted((Path(os.environ["FAMILIAR_CACHE_DIR"]) / "embedders").glob("*.onnx"))
    assert len(found) == 1, found
    return found[0]


def test_bundled_model_runs_on_onnx_with_the_torch_vectors(
        real_embedder: SentenceEmbedder, torch_embedder: SentenceEmbedder) -> None:
    assert real_embedder.backend == "onnx" and torch_embedder.backend == "torch"
    assert real_embedder.dim == torch_embedder.dim == 384
    onnx_rows = real_embedder.encode(TEXTS)
    torch_rows = torch_embedder.encode(TEXTS)
    assert onnx_rows.dtype == np.float32 and onnx_rows.shape == (len(TEXTS), 384)
    assert float((onnx_rows * torch_rows).sum(axis=1).min()) > 0.9999
    query = real_embedder.encode([TEXTS[0]], query=True)
    assert float(query[0] @ torch_rows[0]) > 0.9999
    assert real_embedder.max_tokens == torch_embedder.max_tokens == 256


def test_the_export_is_reused_and_a_damaged_one_is_made_again(
        real_embedder: SentenceEmbedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model_dir = bundled_model_path()
    assert model_dir is not None
    cache = tmp_path / "cache"
    cache.mkdir()
    cached = shutil.copy(_cached_export(), cache)  # exported for the session's embedder

    def no_export(*args: object) -> None:
        raise AssertionError("exported although a good export was cached")

    monkeypatch.setattr(onnx_backend, "export", no_export)
    model = onnx_backend.load(model_dir, "all-MiniLM-L6-v2", cache, threads=1)
    assert np.allclose(model.encode(TEXTS[:1], 1), real_embedder.encode(TEXTS[:1]), atol=1e-5)
    monkeypatch.undo()

    Path(cached).write_bytes(b"not an onnx model")
    # An export that does not match torch is refused, and leaves nothing behind.
    monkeypatch.setattr(onnx_backend, "FIDELITY", 1.5)
    with pytest.raises(onnx_backend.OnnxUnavailable, match="differs"):
        onnx_backend.load(model_dir, "all-MiniLM-L6-v2", cache, threads=1)
    assert list(cache.iterdir()) == []
    monkeypatch.undo()

    model = onnx_backend.load(model_dir, "all-MiniLM-L6-v2", cache, threads=1)
    assert [p.name for p in cache.iterdir()] == [Path(cached).name]
    assert np.allclose(model.encode(TEXTS, 2), real_embedder.encode(TEXTS), atol=1e-5)


def test_other_models_and_failed_exports_run_on_torch(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
        torch_embedder: SentenceEmbedder) -> None:
    odd = tmp_path / "odd-model"
    odd.mkdir()
    (odd / "modules.json").write_text(json.dumps([{"type": "x.Transformer"},
                                                  {"type": "x.Pooling"}]))
    assert not onnx_backend.supported(odd)
    with pytest.raises(onnx_backend.OnnxUnavailable):
        onnx_backend.load(odd, "odd", tmp_path / "cache", threads=1)
    model_dir = bundled_model_path()
    assert model_dir is not None and onnx_backend.supported(model_dir)

    def broken_export(model_dir: Path, path: Path) -> None:
        raise onnx_backend.OnnxUnavailable("export failed (RuntimeError: test)")

    monkeypatch.setattr(onnx_backend, "export", broken_export)
    embedder = SentenceEmbedder(threads=1, cache_dir=tmp_path / "empty")
    with caplog.at_level(logging.WARNING, logger="app.core.memory.embedder"):
        rows = embedder.encode(TEXTS[:2])
    assert embedder.backend == "torch" and "no ONNX form" in caplog.text
    assert np.allclose(rows, torch_embedder.encode(TEXTS[:2]), atol=1e-5)
    assert SentenceEmbedder(threads=1, backend="torch").requested_backend == "torch"


def test_an_onnx_embedder_does_not_load_torch(real_embedder: SentenceEmbedder) -> None:
    assert real_embedder.backend == "onnx"  # so the session's export is in the cache
    code = ("import sys; from app.core.memory.embedder import SentenceEmbedder; "
            "e = SentenceEmbedder(threads=1); e.encode(['hello']); "
            "print(e.backend, 'torch' in sys.modules, 'sentence_transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert out.stdout.split() == ["onnx", "False", "False"]


def test_undecodable_text_is_encoded_not_refused(real_embedder: SentenceEmbedder) -> None:
    broken = "tomato \udcff caf\udce9"  # bytes b"\xff" and b"\xe9" of a command-line argument
    assert valid_text(broken) == "tomato \ufffd caf\ufffd"
    assert valid_text("fine — ok") == "fine — ok"
    rows = real_embedder.encode([broken], query=True)
    assert rows.shape == (1, 384) and np.isfinite(rows).all()
