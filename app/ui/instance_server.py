"""The running app's end of the single-instance channel (``app.core.instance`` is the client).

QLocalServer listens on ``instance_address(home)``; each client sends one JSON line
``{"command": ...}`` and gets ``{"ok": true}`` (or ``{"ok": false, "error": ...}``) back.
Commands: ``activate`` (raise the window), ``quick-ask`` (show the popup), ``lock``,
``quit`` (close the session and exit, as the tray's Quit: the bundle's smoke test uses it).
Lives on the main thread; signals are emitted there.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from app.core.instance import instance_address

log = logging.getLogger(__name__)

COMMANDS = ("ping", "activate", "quick-ask", "lock", "quit")
MAX_LINE = 64 * 1024


class InstanceServer(QObject):
    activate_requested = Signal()
    quick_ask_requested = Signal()
    lock_requested = Signal()
    quit_requested = Signal()  # connect queued, so the reply goes out before the app quits

    def __init__(self, home: Path, parent: QObject | None = None):
        super().__init__(parent)
        self.address = instance_address(home)
        self._server = QLocalServer(self)
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._server.newConnection.connect(self._accept)
        self._buffers: dict[QLocalSocket, bytes] = {}

    def listen(self) -> bool:
        """Listen on the profile's address; a stale socket left by a crash is removed first.
        Returns False when another instance is alive there (the caller hands off to it)."""
        if server_alive(self.address):
            return False
        QLocalServer.removeServer(self.address)
        if not self._server.listen(self.address):
            log.error("instance server could not listen: %s", self._server.errorString())
            return False
        return True

    def close(self) -> None:
        self._server.close()

    def _accept(self) -> None:
        while self._server.hasPendingConnections():
            sock = self._server.nextPendingConnection()
            self._buffers[sock] = b""
            sock.readyRead.connect(lambda s=sock: self._read(s))
            sock.disconnected.connect(lambda s=sock: self._forget(s))

    def _forget(self, sock: QLocalSocket) -> None:
        self._buffers.pop(sock, None)
        sock.deleteLater()

    def _read(self, sock: QLocalSocket) -> None:
        data = self._buffers.get(sock, b"") + bytes(sock.readAll().data())
        if b"\n" not in data:
            if len(data) > MAX_LINE:
                sock.abort()
            else:
                self._buffers[sock] = data
            return
        line = data.split(b"\n", 1)[0]
        self._buffers[sock] = b""
        reply = self._handle(line)
        sock.write((json.dumps(reply) + "\n").encode())
        sock.flush()
        sock.disconnectFromServer()

    def _handle(self, line: bytes) -> dict[str, object]:
        try:
            command = json.loads(line.decode()).get("command")
        except (ValueError, AttributeError, UnicodeDecodeError):
            return {"ok": False, "error": "bad request"}
        if command not in COMMANDS:
            return {"ok": False, "error": "unknown command"}
        log.info("instance command: %s", command)
        if command == "ping":  # "is an instance running?" (a login start asks this)
            return {"ok": True}
        {"activate": self.activate_requested, "quick-ask": self.quick_ask_requested,
         "lock": self.lock_requested, "quit": self.quit_requested}[command].emit()
        return {"ok": True}


def server_alive(address: str) -> bool:
    """Is something accepting connections at ``address``? (A bare connect, no command.)"""
    probe = QLocalSocket()
    probe.connectToServer(address)
    alive = probe.waitForConnected(200)
    if alive:
        probe.disconnectFromServer()
    probe.abort()
    return alive

