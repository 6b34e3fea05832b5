"""Engine and model-manager errors: each message names the problem and a next step."""

from __future__ import annotations

from app.core.errors import FamiliarError


class EngineError(FamiliarError):
    """The local model cannot do what was asked."""


class NoModel(EngineError):
    """No model is configured."""

    def __init__(self) -> None:
        super().__init__(
            "no model is set up; run 'familiar models recommend' and "
            "'familiar models download ID', or pass --model PATH"
        )


class InvalidModel(EngineError):
    """A file is not a usable GGUF (not GGUF, truncated, unsupported)."""


class ModelTooBig(EngineError):
    """The model needs more memory than this machine has."""

    exit_code = 5


class ContextTooSmall(EngineError):
    """The system prompt and question alone do not fit the context window."""


class OutputNotJson(EngineError):
    """Constrained generation ended before the JSON value was complete."""


class DownloadError(EngineError):
    """A model download failed; the partial file is kept for resuming unless said otherwise."""

    exit_code = 6


class ChecksumMismatch(DownloadError):
    """The downloaded bytes do not match the expected sha256; the file was deleted."""


class NotEnoughDisk(DownloadError):
    """Not enough free disk space for the download or import."""


class DownloadCancelled(DownloadError):
    """The user cancelled; the partial file is kept so the download can resume."""

    exit_code = 130
