"""Reaching the running app instance of a profile (single instance, ``lock``, ``quick-ask``).

The GUI listens with QLocalServer on ``instance_address(home)``: a Unix socket path on POSIX,
a named pipe on Windows. The protocol is one JSON line each way: ``{"command": "..."}`` in,
``{"ok": true}`` out. This side is plain Python so the CLI needs no Qt to talk to it.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import tempfile
from pathlib import Path

TIMEOUT_S = 2.0


def instance_address(home: Path) -> str:
    digest = hashlib.sha256(str(home.resolve()).encode()).hexdigest()[:16]
    name = f"familiar-{digest}"
    if os.name == "nt":
        return rf"\\.\pipe\{name}"
    return str(Path(tempfile.gettempdir()) / f"{name}.sock")


def request_running_instance(home: Path, command: str, **fields: object) -> bool:
    """Send ``command`` to the running instance; True when one answered ``ok``."""
    address = instance_address(home)
    message = (json.dumps({"command": command, **fields}) + "\n").encode()
    try:
        if os.name == "nt":
            with open(address, "r+b", buffering=0) as pipe:
                pipe.write(message)
                reply = pipe.readline()
        else:
            if not os.path.exists(address):
                return False
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(TIMEOUT_S)
                sock.connect(address)
                sock.sendall(message)
                reply = sock.makefile("rb").readline()
    except OSError:
        return False
    try:
        return bool(json.loads(reply.decode()).get("ok"))
    except (ValueError, AttributeError):
        return False
