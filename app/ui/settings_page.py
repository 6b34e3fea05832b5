"""Settings: model parameters, indexing, the embedding model, privacy (lock after idle, lock
now), hotkey, start at login, theme. Edits apply to ``runtime.settings`` on Save, which writes
the encrypted store on the ``io`` lane. A new embedding model is loaded there first (a name or
folder that does not load is refused), then switched to on the ``index`` lane, where the
memories and the stored chunks are embedded again in the background (progress in the Library).
Main thread only."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.core import autostart
from app.core.indexing.rules import check_pattern
from app.core.memory.embedder import BUNDLED_MODEL, EmbedderUnavailable
from app.core.tasks import TaskState
from app.ui.hotkey import why_unavailable
from app.ui.tasks import UiTasks
from app.ui.theme import THEMES, ThemeController, muted_label


def _save(state: TaskState, runtime: Any, start_at_login: bool,
          embedding_model: str | None = None) -> Any:
    """Saves the settings; returns the new embedding model, loaded, or None."""
    loaded = None
    if embedding_model is not None:
        from app.core.memory.service import make_embedder

        # Load it now, off the GUI thread: a model that will not load is refused before it is
        # saved (no download: from the local Hugging Face cache or a folder).
        memory = runtime.settings.memory
        loaded = make_embedder(replace(memory, embedding_model=embedding_model))
        loaded.dim  # noqa: B018
        memory.embedding_model = embedding_model
    runtime.save_settings()
    if autostart.start_at_login_enabled() != start_at_login:
        autostart.set_start_at_login(start_at_login)
    return loaded


def _spin(low: int, high: int, value: int, step: int = 1, special: str = "") -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    box.setSingleStep(step)
    box.setValue(value)
    if special:
        box.setSpecialValueText(special)
    return box


def _dspin(low: float, high: float, value: float, step: float, special: str = "") -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(low, high)
    box.setSingleStep(step)
    box.setValue(value)
    if special:
        box.setSpecialValueText(special)
    return box


class SettingsPage(QWidget):
    saved = Signal()
    lock_now = Signal()

    def __init__(self, runtime: Any, tasks: UiTasks, theme: ThemeController | None = None,
                 parent: Any = None):
        super().__init__(parent)
        self.runtime = runtime
        self.tasks = tasks
        self.theme = theme
        self._new_model: str | None = None  # the embedding model being saved, if it changed
        s = runtime.settings
        e, ix, pv, ui = s.engine, s.indexing, s.privacy, s.ui

        self.context_size = _spin(512, 131072, e.context_size, 512)
        self.temperature = _dspin(0.0, 2.0, e.temperature, 0.05)
        self.top_p = _dspin(0.05, 1.0, e.top_p, 0.05)
        self.max_tokens = _spin(16, 16384, e.max_tokens, 64)
        self.threads = _spin(0, 256, e.threads, 1, "automatic")
        self.gpu_layers = _spin(-1, 999, e.gpu_layers, 1, "automatic")
        model = QGroupBox("Model")
        f = QFormLayout(model)
        f.addRow("Context window (tokens)", self.context_size)
        f.addRow("Temperature", self.temperature)
        f.addRow("Top-p", self.top_p)
        f.addRow("Longest answer (tokens)", self.max_tokens)
        f.addRow("CPU threads", self.threads)
        f.addRow("GPU layers", self.gpu_layers)

        self.respect_gitignore = QCheckBox("Respect .gitignore files")
        self.respect_gitignore.setChecked(ix.respect_gitignore)
        self.pause_on_battery = QCheckBox("Pause indexing on battery")
        self.pause_on_battery.setChecked(ix.pause_on_battery)
        self.max_file_mb = _spin(1, 4096, ix.max_file_mb)
        self.global_excludes = QPlainTextEdit("\n".join(ix.global_excludes))
        self.global_excludes.setPlaceholderText("Patterns to leave out in every folder "
                                                "(gitignore syntax, one per line)")
        self.global_excludes.setMaximumHeight(90)
        indexing = QGroupBox("Indexing")
        f = QFormLayout(indexing)
        f.addRow(self.respect_gitignore)
        f.addRow(self.pause_on_battery)
        f.addRow("Largest file (MB)", self.max_file_mb)
        f.addRow("Leave out everywhere", self.global_excludes)

        self.embedding_model = QLineEdit(s.memory.embedding_model)
        self.embedding_model.setPlaceholderText(f"{BUNDLED_MODEL} (bundled)")
        embedding_note = muted_label(
            f"{BUNDLED_MODEL} is bundled. Another sentence-transformers model: its name (from "
            "the local Hugging Face cache) or folder. After a change your files are embedded "
            "again in the background (progress in the Library); search keeps working.",
            wrap=True)
        memory = QGroupBox("Memory")
        f = QFormLayout(memory)
        f.addRow("Embedding model", self.embedding_model)
        f.addRow(embedding_note)

        self.lock_after = _dspin(0, 1440, pv.lock_after_idle_min, 5, "never")
        self.lock_after.setSuffix(" min")
        lock = QPushButton("Lock now")
        lock.clicked.connect(self.lock_now)
        privacy = QGroupBox("Privacy")
        f = QFormLayout(privacy)
        f.addRow("Lock after inactivity", self.lock_after)
        f.addRow(lock)

        self.theme_box = QComboBox()
        self.theme_box.addItems(["Follow the system", "Light", "Dark"])
        self.theme_box.setCurrentIndex(THEMES.index(ui.theme) if ui.theme in THEMES else 0)
        self.theme_box.currentIndexChanged.connect(self._preview_theme)
        self.hotkey = QLineEdit(ui.hotkey)
        hotkey_note = muted_label(why_unavailable() or "Opens quick ask from anywhere "
                                  "(pynput syntax, e.g. <ctrl>+<alt>+space).", wrap=True)
        self.start_at_login = QCheckBox("Start Familiar when I log in")
        self.start_at_login.setChecked(ui.start_at_login)
        desktop = QGroupBox("Desktop")
        f = QFormLayout(desktop)
        f.addRow("Theme", self.theme_box)
        f.addRow("Quick-ask hotkey", self.hotkey)
        f.addRow(hotkey_note)
        f.addRow(self.start_at_login)

        self.error = QLabel("")
        self.error.setStyleSheet("color: #d93025;")
        self.save_button = QPushButton("Save")
        self.save_button.clicked.connect(self.save)
        bottom = QHBoxLayout()
        bottom.addWidget(self.error, 1)
        bottom.addWidget(self.save_button)

        inner = QWidget()
        column = QVBoxLayout(inner)
        for box in (model, indexing, memory, privacy, desktop):
            column.addWidget(box)
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(inner)
        layout = QVBoxLayout(self)
        layout.addWidget(scroll, 1)
        layout.addLayout(bottom)

    def _preview_theme(self, index: int) -> None:
        if self.theme is not None:
            self.theme.apply(THEMES[index])

    def save(self) -> None:
        patterns = [p.strip() for p in self.global_excludes.toPlainText().splitlines() if p.strip()]
        try:
            for pattern in patterns:
                check_pattern(pattern)
        except Exception as exc:
            self.error.setText(str(exc))
            return
        s = self.runtime.settings
        s.engine.context_size = self.context_size.value()
        s.engine.temperature = round(self.temperature.value(), 3)
        s.engine.top_p = round(self.top_p.value(), 3)
        s.engine.max_tokens = self.max_tokens.value()
        s.engine.threads = self.threads.value()
        s.engine.gpu_layers = self.gpu_layers.value()
        s.indexing.respect_gitignore = self.respect_gitignore.isChecked()
        s.indexing.pause_on_battery = self.pause_on_battery.isChecked()
        s.indexing.max_file_mb = self.max_file_mb.value()
        s.indexing.global_excludes = patterns
        s.privacy.lock_after_idle_min = self.lock_after.value()
        s.ui.theme = THEMES[self.theme_box.currentIndex()]
        s.ui.hotkey = self.hotkey.text().strip() or s.ui.hotkey
        s.ui.start_at_login = self.start_at_login.isChecked()
        model = self.embedding_model.text().strip() or BUNDLED_MODEL
        self._new_model = model if model != s.memory.embedding_model else None
        self.error.setText("Loading the embedding model…" if self._new_model else "Saving…")
        self.tasks.run("io", "save-settings", _save, self.runtime, s.ui.start_at_login,
                       self._new_model, on_done=self._saved, on_error=self._failed)

    def _saved(self, embedder: object) -> None:
        if embedder is None:
            self.error.setText("Saved.")
        else:
            self.error.setText("Saved. Your files are being embedded again with the new "
                               "model (progress in the Library); search keeps working.")
            self.tasks.run("index", "switch-embedding-model",
                           self.runtime.switch_embedding_model, embedder,
                           on_done=self._switched, on_error=self._switch_failed)
        self.saved.emit()

    def _switched(self, chunks: object) -> None:
        self.error.setText(f"The new embedding model is in use ({chunks} passages embedded "
                           "again)." if chunks else "The new embedding model is in use.")

    def _switch_failed(self, exc: BaseException) -> None:
        self.error.setText(f"Embedding again stopped ({type(exc).__name__}); it resumes at "
                           "the next start.")

    def _failed(self, exc: BaseException) -> None:
        if isinstance(exc, EmbedderUnavailable):
            self.embedding_model.setText(self.runtime.settings.memory.embedding_model)
            self.error.setText(f"Not saved: {exc}")
            return
        self.error.setText(f"Could not save ({type(exc).__name__}).")
