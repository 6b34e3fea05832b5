"""Shared pieces for the personalization tests: a simulated clock, a memory bank over a real
unlocked profile (real SQLCipher store, real in-memory chroma) with the fake embedder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.core.config import PersonalizationSettings
from app.core.memory.vectors import EphemeralVectors
from app.core.personalization.memories import MemoryBank
from app.core.profile.vault import UnlockedProfile
from tests.fixtures.fake_embedder import FakeEmbedder
from tests.fixtures.tiny_gguf import tiny_gguf  # noqa: F401


class Clock:
    """A clock that only moves when the test says so."""

    def __init__(self, start: float = 1_000_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def psettings() -> PersonalizationSettings:
    return PersonalizationSettings()


@pytest.fixture
def bank(unlocked: UnlockedProfile, psettings: PersonalizationSettings,
         clock: Clock) -> Iterator[MemoryBank]:
    vectors = EphemeralVectors("memories")
    yield MemoryBank(unlocked.store, FakeEmbedder(dim=64), vectors, psettings, clock=clock)
    vectors.close()
