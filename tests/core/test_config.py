from __future__ import annotations

from app.core.config import SETTINGS_VERSION, Settings
from app.core.settings_store import load_settings, save_settings


def test_defaults_round_trip() -> None:
    s = Settings()
    assert Settings.from_dict(s.to_dict()) == s
    assert s.version == SETTINGS_VERSION


def test_unknown_and_mistyped_values_fall_back_to_defaults() -> None:
    raw = Settings().to_dict()
    raw["engine"]["context_size"] = "huge"
    raw["engine"]["temperature"] = 0  # int where float expected is fine
    raw["memory"] = "not a section"
    raw["nonsense"] = {"x": 1}
    s = Settings.from_dict(raw)
    assert s.engine.context_size == Settings().engine.context_size
    assert s.engine.temperature == 0
    assert s.memory == Settings().memory


def test_newer_version_keeps_known_fields() -> None:
    raw = Settings().to_dict()
    raw["version"] = SETTINGS_VERSION + 5
    raw["ui"]["theme"] = "dark"
    assert Settings.from_dict(raw).ui.theme == "dark"


def test_settings_persist_in_store(unlocked) -> None:  # type: ignore[no-untyped-def]
    s = load_settings(unlocked.store)
    assert s == Settings()
    s.ui.theme = "dark"
    s.indexing.global_excludes = ["*.tmp"]
    save_settings(unlocked.store, s)
    again = load_settings(unlocked.store)
    assert again.ui.theme == "dark" and again.indexing.global_excludes == ["*.tmp"]
