"""Familiar: a private AI assistant that lives on the user's own desktop."""

from __future__ import annotations

__version__ = "0.1.0"
