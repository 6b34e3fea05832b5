"""The suite's guard against leaving the machine actually fires, and loopback still works."""

from __future__ import annotations

import socket
import threading

import pytest

from tests import conftest


def test_non_loopback_connection_is_refused() -> None:
    before = len(conftest.NETWORK_ATTEMPTS)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        with pytest.raises(conftest.NonLoopbackConnection):
            sock.connect(("192.0.2.1", 443))  # TEST-NET-1: never routed
    with pytest.raises(conftest.NonLoopbackConnection):
        socket.getaddrinfo("huggingface.co", 443)
    assert len(conftest.NETWORK_ATTEMPTS) == before + 2
    del conftest.NETWORK_ATTEMPTS[before:]  # expected here; any other test would fail


def test_loopback_is_allowed() -> None:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    accepted: list[bytes] = []

    def serve() -> None:
        conn, _ = server.accept()
        accepted.append(conn.recv(5))
        conn.close()

    t = threading.Thread(target=serve)
    t.start()
    with socket.create_connection(("127.0.0.1", port)) as client:
        client.sendall(b"hello")
    t.join(10)
    server.close()
    assert accepted == [b"hello"]
