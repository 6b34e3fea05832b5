"""The desktop app (PySide6 Widgets). Everything here runs on the Qt main thread except the
job functions handed to ``app.ui.tasks.UiTasks``, which run on the core lanes."""
