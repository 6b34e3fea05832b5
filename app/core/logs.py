"""Logging to the platform's log folder, rotated. No user content: callers log kinds, counts
and ids, never message text, file contents or paths of the user's files (at INFO and above)."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from app.core.paths import log_dir

LOG_NAME = "familiar.log"
MAX_BYTES = 1_000_000
BACKUPS = 3


def setup_logging(level: int = logging.INFO, folder: Path | None = None) -> Path | None:
    """Attach a rotating file handler to the root logger once; returns the log file, or None
    when the folder cannot be written (logging then stays off rather than failing the app)."""
    folder = folder or log_dir()
    path = folder / LOG_NAME
    root = logging.getLogger()
    for handler in root.handlers:
        if getattr(handler, "familiar", False):
            return path
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
        )
    except OSError:
        return None
    handler.familiar = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(min(root.level or level, level))
    for noisy in ("chromadb", "httpx", "urllib3", "sentence_transformers", "huggingface_hub"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return path
