"""The bundled embedding model run by onnxruntime instead of torch.

The bundled all-MiniLM-L6-v2 is exported once from its own weights (``torch.onnx.export``) into
the cache folder, checked against the torch model on a padded batch (every cosine at least
``FIDELITY``, or the export is discarded), and from then on loaded by onnxruntime with the
model's own fast tokenizer: no torch import, and a query encodes in a fraction of the time
(figures in docs/memory.md). The vectors are the torch model's to within float rounding, so
the embedder keeps the model's name and nothing stored is re-embedded.

The exported graph embeds, mean-pools over the attention mask and L2-normalises inside
onnxruntime. The mask is turned into the additive attention bias by the wrapper below, not
by transformers' mask helpers, whose traced form does not follow other batch shapes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

EXPORT_VERSION = 1  # bump when the exported graph changes: old cache files are then ignored
FIDELITY = 0.9999  # least cosine between the export's and the torch model's vectors
# Texts per onnxruntime run. onnxruntime keeps its buffers for the largest run it has seen:
# 64 chunks of 256 tokens held the process at 1.1 GB, 16 at 0.44 GB, no slower on 2 cores.
RUN_BATCH = 16
_CHECK_TEXTS = (
    "x",
    "How do I undo the last commit without losing my changes?",
    "Reefs are built by colonies of tiny animals in warm, shallow seas; the coral polyps "
    "take calcium from the water and lay down the limestone that becomes the reef. " * 4,
    "Émigré naïve café — 漢字 かな 😀 ünïcödé",
    "SELECT name FROM users WHERE id = 1;",
    "word " * 400,  # longer than the model's window: truncated on both sides alike
)


class OnnxUnavailable(Exception):
    """The ONNX form of the model cannot be made or loaded; the caller falls back to torch."""


def supported(model_dir: Path) -> bool:
    """A BERT encoder with mean pooling and normalisation: the form ``export`` knows."""
    try:
        modules = json.loads((model_dir / "modules.json").read_text(encoding="utf-8"))
        types = [m["type"].rsplit(".", 1)[-1] for m in modules]
        pooling = json.loads((model_dir / "1_Pooling" / "config.json").read_text("utf-8"))
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return (types == ["Transformer", "Pooling", "Normalize"]
            and pooling.get("pooling_mode_mean_tokens") is True
            and not any(pooling.get(k) for k in ("pooling_mode_cls_token",
                                                  "pooling_mode_max_tokens",
                                                  "pooling_mode_mean_sqrt_len_tokens"))
            and config.get("model_type") == "bert"
            and (model_dir / "tokenizer.json").is_file())


def cache_key(model_dir: Path) -> str:
    """Changes with the weights, the tokenizer, the config and the export code."""
    digest = hashlib.sha256(f"familiar-onnx-export-{EXPORT_VERSION}".encode())
    for name in ("config.json", "tokenizer.json", "sentence_bert_config.json",
                 "model.safetensors"):
        path = model_dir / name
        if path.is_file():
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()[:20]


def max_seq_length(model_dir: Path) -> int:
    try:
        config = json.loads((model_dir / "sentence_bert_config.json").read_text("utf-8"))
        return int(config.get("max_seq_length") or 256)
    except (OSError, ValueError, TypeError):
        return 256


class OnnxModel:
    """An exported model and its tokenizer. ``encode`` is safe to call from several threads
    (onnxruntime sessions are), but the embedder serialises calls anyway."""

    def __init__(self, onnx_path: Path, model_dir: Path, threads: int):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        # Idle pool threads sleep instead of spinning, as torch's do (embedder.calm_openmp).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(onnx_path), options,
                                                providers=["CPUExecutionProvider"])
            self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        except Exception as exc:  # onnxruntime raises its own types for a damaged file
            raise OnnxUnavailable(f"cannot load {onnx_path.name} ({type(exc).__name__})") from exc
        self.max_seq_length = max_seq_length(model_dir)
        self.tokenizer.enable_truncation(self.max_seq_length)
        self.tokenizer.no_padding()
        self.dim = int(self.session.get_outputs()[0].shape[-1])

    def encode(self, texts: Sequence[str], batch_size: int,
               threads: int = 0) -> npt.NDArray[np.float32]:
        """L2-normalised rows, ``batch_size`` texts per run (``threads`` is the session's,
        fixed when it was made; the argument is there for the embedder's torch models)."""
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        step = max(1, min(batch_size, RUN_BATCH))
        for start in range(0, len(texts), step):
            encodings = self.tokenizer.encode_batch(list(texts[start:start + step]))
            width = max(len(e.ids) for e in encodings)
            ids = np.zeros((len(encodings), width), dtype=np.int64)
            mask = np.zeros((len(encodings), width), dtype=np.int64)
            for row, e in enumerate(encodings):
                ids[row, :len(e.ids)] = e.ids
                mask[row, :len(e.ids)] = 1
            out[start:start + len(encodings)] = self.session.run(
                None, {"input_ids": ids, "attention_mask": mask})[0]
        return out


def load(model_dir: Path, name: str, cache_dir: Path, threads: int) -> OnnxModel:
    """The ONNX form of the model ``name`` in ``model_dir``: from the cache, or exported (and
    checked) into it first. Raises ``OnnxUnavailable`` when neither works."""
    if not supported(model_dir):
        raise OnnxUnavailable("not a BERT model with mean pooling")
    path = cache_dir / f"{name.rsplit('/', 1)[-1]}-{cache_key(model_dir)}.onnx"
    if path.is_file():
        try:
            return OnnxModel(path, model_dir, threads)
        except OnnxUnavailable as exc:
            log.warning("cached ONNX embedding model unusable (%s); exporting it again", exc)
            path.unlink(missing_ok=True)
    export(model_dir, path)
    return OnnxModel(path, model_dir, threads)


def export(model_dir: Path, path: Path) -> None:
    """Export the model to ``path`` (atomically) if its vectors match the torch model's."""
    try:
        import torch
        from transformers import AutoModel
    except ImportError as exc:
        raise OnnxUnavailable(f"torch or transformers missing ({exc.name})") from exc
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, scratch_name = tempfile.mkstemp(prefix=".export-", suffix=".onnx", dir=path.parent)
    os.close(fd)
    scratch = Path(scratch_name)
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # on the CLI's stderr
        bert = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()
        wrapper = _mean_pooled_encoder(bert).eval()
        tokenizer = _check_tokenizer(model_dir)
        ids, mask = _batch(tokenizer, _CHECK_TEXTS[:2])
        # The TorchScript-based exporter warns that it is deprecated (and traces with
        # TracerWarnings); the export is checked below instead.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                wrapper, (torch.from_numpy(ids), torch.from_numpy(mask)), str(scratch),
                input_names=["input_ids", "attention_mask"], output_names=["embedding"],
                dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                              "attention_mask": {0: "batch", 1: "tokens"},
                              "embedding": {0: "batch"}},
                opset_version=17, dynamo=False)
        _verify(scratch, model_dir, bert)
        os.replace(scratch, path)
        log.info("exported the embedding model to ONNX (%.0f MB)", path.stat().st_size / 2**20)
    except OnnxUnavailable:
        raise
    except Exception as exc:  # the exporter raises many types; any of them means "use torch"
        raise OnnxUnavailable(f"export failed ({type(exc).__name__}: {exc})") from exc
    finally:
        scratch.unlink(missing_ok=True)


def _check_tokenizer(model_dir: Path) -> Any:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.enable_truncation(max_seq_length(model_dir))
    tokenizer.enable_padding(pad_id=0)
    return tokenizer


def _batch(tokenizer: Any, texts: Sequence[str]) -> tuple[Any, Any]:
    encodings = tokenizer.encode_batch(list(texts))
    ids = np.array([e.ids for e in encodings], dtype=np.int64)
    mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
    return ids, mask


def _verify(onnx_path: Path, model_dir: Path, bert: Any) -> None:
    """The exported graph against the torch model on a padded batch of uneven texts (and on
    each text alone), through the same tokenizer."""
    import torch

    tokenizer = _check_tokenizer(model_dir)
    wrapper = _mean_pooled_encoder(bert).eval()
    model = OnnxModel(onnx_path, model_dir, threads=1)
    ids, mask = _batch(tokenizer, _CHECK_TEXTS)
    with torch.no_grad():
        expected = wrapper.reference(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
    for got in (model.encode(_CHECK_TEXTS, batch_size=len(_CHECK_TEXTS)),
                model.encode(_CHECK_TEXTS, batch_size=1)):
        least = float((got * expected).sum(axis=1).min())
        if not least >= FIDELITY:
            raise OnnxUnavailable(f"export differs from the torch model (cosine {least:.5f})")


def _encoder_class() -> Any:
    import torch

    class MeanPooledEncoder(torch.nn.Module):
        """BertModel's embeddings and layers with the additive mask built here, then mean
        pooling over real tokens and L2 normalisation (the sentence-transformers modules)."""

        def __init__(self, bert: Any):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            positions = torch.arange(input_ids.shape[1], device=input_ids.device).unsqueeze(0)
            hidden = self.bert.embeddings(input_ids=input_ids,
                                          token_type_ids=torch.zeros_like(input_ids),
                                          position_ids=positions)
            weights = attention_mask.to(hidden.dtype)
            bias = (1.0 - weights[:, None, None, :]) * torch.finfo(hidden.dtype).min
            for layer in self.bert.encoder.layer:
                hidden = layer(hidden, attention_mask=bias)
                if isinstance(hidden, tuple):
                    hidden = hidden[0]
            weights = weights.unsqueeze(-1)
            pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

        def reference(self, input_ids: Any, attention_mask: Any) -> Any:
            """The same sentence embedding through transformers' own forward pass."""
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                               token_type_ids=torch.zeros_like(input_ids)).last_hidden_state
            weights = attention_mask.to(hidden.dtype).unsqueeze(-1)
            pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    return MeanPooledEncoder


def _mean_pooled_encoder(bert: Any) -> Any:
    """The wrapper around ``bert`` (its class is made on first use: torch is imported lazily)."""
    return _encoder_class()(bert)
