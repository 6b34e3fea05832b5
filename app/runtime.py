"""The one composition root: builds every service for an unlocked profile.

The GUI and the CLI both call ``Runtime.start(profile)`` and reach services through it; no
module keeps a singleton. Services that load models are built lazily, on first use, so start-up
stays fast and a CLI command pays only for what it touches.
"""

from __future__ import annotations

import logging
from functools import cached_property
from typing import Any

from app.core.config import Settings
from app.core.profile.vault import UnlockedProfile
from app.core.settings_store import load_settings, save_settings
from app.core.tasks import Lanes

log = logging.getLogger(__name__)


class Runtime:
    """Services of one unlocked profile. ``close`` stops the lanes and locks the profile."""

    def __init__(self, profile: UnlockedProfile, settings: Settings, lanes: Lanes | None = None):
        self.profile = profile
        self.settings = settings
        self.lanes = lanes if lanes is not None else Lanes()
        self._closed = False

    @classmethod
    def start(cls, profile: UnlockedProfile) -> Runtime:
        return cls(profile, load_settings(profile.store))

    @property
    def store(self) -> Any:
        return self.profile.store

    def save_settings(self) -> None:
        save_settings(self.profile.store, self.settings)

    @cached_property
    def keychain(self) -> Any:
        from app.core.profile.keychain import Keychain

        return Keychain()

    def close(self) -> None:
        """Stop background work, then drop keys and connections (the lock)."""
        if self._closed:
            return
        self._closed = True
        self.lanes.shutdown()
        for name in list(self.__dict__):
            service = self.__dict__[name]
            closer = getattr(service, "close", None)
            if name not in ("profile", "settings", "lanes") and callable(closer):
                try:
                    closer()
                except Exception:
                    log.exception("closing service %s failed", name)
        self.profile.lock()
