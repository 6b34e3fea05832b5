"""Where Familiar keeps its files. ``FAMILIAR_HOME`` overrides the platform data dir."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "Familiar"


def data_home() -> Path:
    """The profile folder: ``$FAMILIAR_HOME`` or the platform's user data dir."""
    override = os.environ.get("FAMILIAR_HOME")
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def log_dir() -> Path:
    """The platform log folder; inside ``$FAMILIAR_HOME`` when that is set (isolated runs)."""
    override = os.environ.get("FAMILIAR_HOME")
    if override:
        return Path(override).expanduser() / "logs"
    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def cache_dir() -> Path:
    """Files Familiar can make again from what it ships (the ONNX form of the embedding
    model): ``$FAMILIAR_CACHE_DIR``, inside ``$FAMILIAR_HOME`` when that is set, or the
    platform's cache folder. Never personal data."""
    override = os.environ.get("FAMILIAR_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    home = os.environ.get("FAMILIAR_HOME")
    if home:
        return Path(home).expanduser() / "cache"
    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def models_dir() -> Path:
    """Model weights (not personal data, not encrypted): shared by profiles of this user."""
    override = os.environ.get("FAMILIAR_MODELS_DIR")
    if override:
        return Path(override).expanduser()
    return data_home() / "models"
