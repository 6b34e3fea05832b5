"""Tray wording and icons, the Memory page over the real memory bank, the Settings page
saving to the encrypted store, and the Models page's catalog with fit labels."""

from __future__ import annotations

from typing import Any

from app.core.settings_store import load_settings
from app.runtime import Runtime
from app.ui.icons import app_icon, state_icon
from app.ui.memory_page import MemoryPage
from app.ui.models_page import ModelsPage
from app.ui.settings_page import SettingsPage
from app.ui.tasks import UiTasks
from app.ui.tray import Tray, describe, tray_state


def test_tray_states_read_like_sentences(qtbot: Any) -> None:
    assert describe("idle") == "Familiar — idle"
    assert describe("indexing", 0.42) == "Familiar — indexing 42%"
    assert describe("locked") == "Familiar — locked"
    tray = Tray()
    tray.set_state("indexing", 0.5)
    assert tray.tooltip == "Familiar — indexing 50%" and tray.pause_action.isEnabled()
    tray.set_state("locked")
    assert not tray.lock_action.isEnabled() and not tray.pause_action.isEnabled()
    assert [a.text() for a in tray.menu.actions() if a.text()] == [
        "Quick ask", "Open Familiar", "Pause indexing", "Lock", "Quit"]
    for state in ("idle", "indexing", "locked"):
        assert not state_icon(state, 0.3).isNull()
    assert not app_icon().isNull()


def test_tray_follows_the_indexer_and_reads_paused_only_when_paused() -> None:
    from app.core.indexing.progress import IndexStatus

    assert tray_state(IndexStatus()) == ("idle", None, "")
    assert tray_state(IndexStatus("indexing", 3, 12)) == ("indexing", 0.25, "")
    assert tray_state(IndexStatus("paused", 3, 12, waiting_for="paused")) == (
        "indexing", 0.25, "paused")
    assert tray_state(IndexStatus("waiting", waiting_for="on battery")) == (
        "indexing", None, "on battery")
    rebuild = IndexStatus("reconciling", waiting_for="rebuilding the vector index")
    assert describe(*tray_state(rebuild)) == "Familiar — indexing"


def test_memory_page_lists_edits_and_forgets(qtbot: Any, runtime: Runtime,
                                             tasks: UiTasks) -> None:
    from app.core.personalization.memories import Candidate

    bank = runtime.memories
    bank.consolidate([Candidate("The user is learning Japanese", "goal", 0.9, 0),
                      Candidate("The user prefers short answers", "preference", 0.8, 0)],
                     judge=lambda *_a: None)
    page = MemoryPage(runtime, tasks)
    qtbot.addWidget(page)
    page.show()
    qtbot.waitUntil(lambda: page.table.rowCount() == 2, timeout=10000)
    texts = {page.table.item(r, 0).text() for r in range(2)}
    assert texts == {"The user is learning Japanese", "The user prefers short answers"}
    first = int(page.table.item(0, 0).data(0x0100))
    page.edit(first, "The user is learning Japanese for the Kyoto trip")
    qtbot.waitUntil(lambda: any("Kyoto" in page.table.item(r, 0).text()
                                for r in range(page.table.rowCount())), timeout=10000)
    page.forget(first)
    qtbot.waitUntil(lambda: page.table.rowCount() == 1, timeout=10000)
    assert [m.id for m in bank.entries()] != [first]


def test_settings_page_saves_to_the_store(qtbot: Any, runtime: Runtime, tasks: UiTasks,
                                          monkeypatch: Any, tmp_path: Any) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))  # start-at-login file goes here
    page = SettingsPage(runtime, tasks)
    qtbot.addWidget(page)
    page.temperature.setValue(0.3)
    page.lock_after.setValue(15)
    page.theme_box.setCurrentIndex(2)
    page.global_excludes.setPlainText("*.bak\nprivate/")
    page.start_at_login.setChecked(True)
    with qtbot.waitSignal(page.saved, timeout=10000):
        page.save()
    stored = load_settings(runtime.store)
    assert stored.engine.temperature == 0.3 and stored.privacy.lock_after_idle_min == 15
    assert stored.ui.theme == "dark" and stored.indexing.global_excludes == ["*.bak", "private/"]
    assert (tmp_path / "autostart" / "familiar.desktop").is_file()
    with qtbot.assertNotEmitted(page.saved):
        page.global_excludes.setPlainText("[unclosed")
        page.save()
    assert "[unclosed" not in load_settings(runtime.store).indexing.global_excludes
    lock = [b for b in page.findChildren(type(page.save_button)) if b.text() == "Lock now"]
    with qtbot.waitSignal(page.lock_now):
        lock[0].click()


def test_settings_page_changes_the_embedding_model_only_to_one_that_loads(
        qtbot: Any, indexed_runtime: Runtime, tasks: UiTasks, tmp_path: Any) -> None:
    from app.core.memory.embedder import BUNDLED_MODEL, bundled_model_path
    from app.core.personalization.memories import META_MEMORY_MODEL, Candidate
    from app.core.profile.store import get_meta

    runtime = indexed_runtime
    bank = runtime.personalizer.bank
    bank.consolidate([Candidate("The user is planning a trip to Kyoto", "goal", 0.9, 1)],
                     lambda c, r: None)
    page = SettingsPage(runtime, tasks)
    qtbot.addWidget(page)
    assert page.embedding_model.text() == BUNDLED_MODEL
    # A folder that holds no model: refused, nothing saved.
    page.embedding_model.setText(str(tmp_path / "no-model-here"))
    page.save()
    qtbot.waitUntil(lambda: page.error.text().startswith("Not saved"), timeout=60000)
    assert "cannot be loaded offline" in page.error.text()
    assert page.embedding_model.text() == BUNDLED_MODEL
    assert load_settings(runtime.store).memory.embedding_model == BUNDLED_MODEL
    # Another sentence-transformers model by folder (the bundled weights, loaded by path on
    # torch): loaded, saved, and switched to at once; files and memories embedded again.
    folder = bundled_model_path()
    assert folder is not None
    page.embedding_model.setText(str(folder))
    with qtbot.waitSignal(page.saved, timeout=120000):
        page.save()
    assert "embedded again" in page.error.text()
    qtbot.waitUntil(lambda: "in use" in page.error.text(), timeout=120000)
    assert load_settings(runtime.store).memory.embedding_model == str(folder)
    conn = runtime.store.conn
    assert {r[0] for r in conn.execute("SELECT embedding_model FROM files "
                                       "WHERE chunk_count > 0")} == {str(folder)}
    assert get_meta(conn, META_MEMORY_MODEL) == str(folder)
    assert runtime.memory.embedder.name == str(folder)
    hits = runtime.memory.searcher.search("when is check-in at the ryokan", k=1)
    assert hits[0].path.name == "travel.md" and hits[0].ranks["dense"] == 1
    [recalled] = bank.recall("where am I travelling?", 1)
    assert "Kyoto" in recalled.text


def test_models_page_shows_the_catalog_with_labels(qtbot: Any, runtime: Runtime,
                                                   tasks: UiTasks) -> None:
    page = ModelsPage(runtime, tasks)
    qtbot.addWidget(page)
    page.show()
    qtbot.waitUntil(lambda: page.catalog.rowCount() > 0, timeout=10000)
    labels = {page.catalog.item(r, 2).text() for r in range(page.catalog.rowCount())}
    assert labels <= {"fits well", "will be slow", "too big for this machine"}
    assert "extractive" in page.active.text()
