"""Suite-wide guards: no network beyond loopback, offline model hubs, isolated homes."""

from __future__ import annotations

import faulthandler
import ipaddress
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["ANONYMIZED_TELEMETRY"] = "False"
os.environ["DO_NOT_TRACK"] = "1"

NETWORK_ATTEMPTS: list[str] = []


class NonLoopbackConnection(AssertionError):
    pass


def _is_loopback(address: object) -> bool:
    if isinstance(address, str | bytes):  # AF_UNIX paths
        return True
    if not isinstance(address, tuple) or not address:
        return False
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: resolving it would already be network traffic


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


def _guarded_connect(self: socket.socket, address: object) -> None:
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
        NETWORK_ATTEMPTS.append(repr(address))
        raise NonLoopbackConnection(f"test tried to reach {address!r}")
    return _real_connect(self, address)  # type: ignore[arg-type]


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
        NETWORK_ATTEMPTS.append(repr(address))
        raise NonLoopbackConnection(f"test tried to reach {address!r}")
    return _real_connect_ex(self, address)  # type: ignore[arg-type]


def _guarded_getaddrinfo(host: object, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
    if host not in (None, "localhost", "127.0.0.1", "::1", b"localhost") and not _is_loopback((host,)):
        NETWORK_ATTEMPTS.append(f"resolve {host!r}")
        raise NonLoopbackConnection(f"test tried to resolve {host!r}")
    return _real_getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]


socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
socket.getaddrinfo = _guarded_getaddrinfo  # type: ignore[assignment]


# After the last test, the process has this long to exit. A worker thread that never ends
# would otherwise keep it alive forever (interpreter exit joins them): instead, print every
# thread's stack and exit with status 1.
EXIT_GRACE_S = 120


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    faulthandler.dump_traceback_later(EXIT_GRACE_S, exit=True, file=sys.__stderr__)


@pytest.fixture(autouse=True)
def _no_network_attempts() -> Iterator[None]:
    before = len(NETWORK_ATTEMPTS)
    yield
    attempts = NETWORK_ATTEMPTS[before:]
    assert not attempts, f"a test tried to leave the machine: {attempts}"


@pytest.fixture(scope="session", autouse=True)
def _shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One cache folder for the whole run, as one user's profiles share theirs: the ONNX form
    of the bundled embedding model is exported once, not once per test home."""
    cache = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FAMILIAR_CACHE_DIR", str(cache))
        yield cache


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own FAMILIAR_HOME so nothing touches the real profile."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("FAMILIAR_HOME", str(home))
    monkeypatch.delenv("FAMILIAR_PASSPHRASE", raising=False)
    monkeypatch.delenv("FAMILIAR_RECOVERY_KEY", raising=False)
    monkeypatch.delenv("FAMILIAR_NEW_PASSPHRASE", raising=False)
    return home


@pytest.fixture
def home(_isolated_home: Path) -> Path:
    return _isolated_home


from tests.fixtures.profiles import created, unlocked  # noqa: E402,F401  (shared fixtures)
