"""Take the README screenshots: the main window with an answer and its sources, the Library
page during indexing, and the quick-ask popup. Run under Xvfb by scripts/screenshots.sh.

Everything happens in a throwaway profile (a temporary FAMILIAR_HOME, passphrase set here),
over sample notes written by this script and, for the indexing shot, the public eval corpus
when it is on the machine. No model is needed: without one Familiar answers extractively
(quoting the best passages), and that is what the shots show.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

SAMPLE_NOTES = {
    "trips/kyoto-2026.md": "# Kyoto, April 2026\n\n## Lodging\n\nThe ryokan Hiiragiya is "
    "booked for 14-18 April; check-in from 3pm, dinner served at 7pm in the room.\n\n"
    "## Getting there\n\nShinkansen from Tokyo, reserved seats on the 9:03 Nozomi.\n",
    "garden/tomatoes.md": "# Tomatoes\n\nWater every second morning. Feed with seaweed "
    "fertiliser from July. Pinch out side shoots weekly.\n",
    "work/standup-notes.md": "# Stand-up notes\n\n## 12 March\n\nThe release is moved to "
    "Friday; Lena reviews the migration script first.\n",
    "recipes/miso-soup.md": "# Miso soup\n\nDashi, white miso, tofu, wakame, spring onion. "
    "Never boil after adding the miso.\n",
}


def _wait(app: object, condition: Callable[[], bool], timeout_s: float = 120.0) -> None:
    from PySide6.QtCore import QDeadlineTimer, QEventLoop
    from PySide6.QtWidgets import QApplication

    deadline = QDeadlineTimer(int(timeout_s * 1000))
    while not condition():
        if deadline.hasExpired():
            raise TimeoutError("screenshot scene did not become ready")
        QApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)


def _save(widget: object, path: Path) -> None:
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QWidget

    assert isinstance(widget, QWidget)
    screen = QGuiApplication.primaryScreen()
    if QGuiApplication.platformName() == "xcb":
        geo = widget.frameGeometry()
        pixmap = screen.grabWindow(0, geo.x(), geo.y(), geo.width(), geo.height())
    else:
        pixmap = widget.grab()
    pixmap.save(str(path))
    print(f"wrote {path} ({pixmap.width()}x{pixmap.height()})")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--theme", choices=("light", "dark"), default="light")
    parser.add_argument("--corpus", type=Path, default=Path("/work/shared/eval/corpus/til"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="familiar-shots-"))
    os.environ["FAMILIAR_HOME"] = str(home / "profile")

    from PySide6.QtWidgets import QApplication

    from app.core.profile.vault import Vault
    from app.core.settings_store import load_settings
    from app.core.tasks import Lanes
    from app.runtime import Runtime
    from app.ui.chat.chat_page import ChatPage
    from app.ui.icons import app_icon
    from app.ui.library_page import LibraryPage
    from app.ui.main_window import MainWindow
    from app.ui.memory_page import MemoryPage
    from app.ui.models_page import ModelsPage
    from app.ui.quick_ask import QuickAsk
    from app.ui.session import warm_up
    from app.ui.settings_page import SettingsPage
    from app.ui.tasks import UiTasks
    from app.ui.theme import ThemeController

    qapp = QApplication([sys.argv[0]])
    qapp.setWindowIcon(app_icon())
    theme = ThemeController(qapp, args.theme)
    notes = home / "Notes"
    for rel, text in SAMPLE_NOTES.items():
        (notes / rel).parent.mkdir(parents=True, exist_ok=True)
        (notes / rel).write_text(text, encoding="utf-8")

    profile, _code = Vault.create(Path(os.environ["FAMILIAR_HOME"]), passphrase="screenshots")
    lanes = Lanes()
    runtime = Runtime(profile, load_settings(profile.store), lanes)
    tasks = UiTasks(lanes)
    try:
        lanes.io.run(warm_up, runtime)
        runtime.indexer.library.add(notes)
        lanes.index.run(runtime.indexer.index_once)

        chat = ChatPage(runtime, tasks)
        library = LibraryPage(runtime, tasks)
        window = MainWindow(chat, [("Library", library), ("Models", ModelsPage(runtime, tasks)),
                                   ("Memory", MemoryPage(runtime, tasks)),
                                   ("Settings", SettingsPage(runtime, tasks, theme))])
        window.resize(1280, 800)
        window.move(40, 40)
        window.show()
        chat.start()
        library.start()
        answered: list[object] = []
        chat.chat.answer_finished.connect(answered.append)
        chat.chat.ask("When is check-in at the ryokan in Kyoto?")
        _wait(qapp, lambda: bool(answered) and not chat.chat.busy)
        _wait(qapp, lambda: chat.conversations.items.count() > 0)
        _save(window, args.out / "main-window.png")

        popup = QuickAsk(runtime, tasks)
        popup.popup()
        popup.input.setText("How often do I water the tomatoes?")
        popup.ask()
        _wait(qapp, lambda: popup.job is None and bool(popup.answer.text))
        _save(popup, args.out / "quick-ask.png")
        popup.hide()

        if args.corpus.is_dir():
            copy = home / "Documents" / "til"
            shutil.copytree(args.corpus, copy)
            window.show_page("Library")
            library.add_folder(copy)
            _wait(qapp, lambda: runtime.indexer.status().phase == "indexing"
                  and runtime.indexer.status().files_done >= 40, timeout_s=600)
            library.show_status(runtime.indexer.status())
            _wait(qapp, lambda: library.folders.rowCount() == 2)
            for _ in range(3):
                library.show_status(runtime.indexer.status())
                qapp.processEvents()
            _save(window, args.out / "library-indexing.png")
        window.hide()
    finally:
        runtime.close()
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
