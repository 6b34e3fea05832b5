"""The keychain slot's secret in the OS keychain, through ``keyring``.

Only backends that really keep secrets are used: the ``fail`` and ``null`` backends and
plaintext files (keyrings.alt) are refused with a reason, and the caller offers the passphrase
slot instead. Every write is read back and compared before it is trusted.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from app.core.errors import KeychainUnavailable

SERVICE = "Familiar"

# Backends whose "storage" is no storage, or plaintext on disk.
_REFUSED = {
    "keyring.backends.fail.Keyring": "no keychain is available on this system",
    "keyring.backends.null.Keyring": "the keychain is disabled (null backend)",
    "keyrings.alt.file.PlaintextKeyring": "the keychain stores secrets in a plaintext file",
    "keyrings.alt.file.EncryptedKeyring": "the keychain backend asks for its own password",
}


def backend_name(backend: Any) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def refusal(backend: Any) -> str | None:
    """Why ``backend`` cannot keep the profile key, or None when it can."""
    from keyring.backends.chainer import ChainerBackend

    name = backend_name(backend)
    if isinstance(backend, ChainerBackend):
        # The chainer writes to its first backend that takes the write: judge that one.
        inner = list(backend.backends)
        if not inner:
            return _REFUSED["keyring.backends.fail.Keyring"]
        return refusal(inner[0])
    for cls in type(backend).__mro__:
        refused = _REFUSED.get(f"{cls.__module__}.{cls.__qualname__}")
        if refused:
            return refused
    try:
        priority = float(backend.priority)
    except Exception:  # a backend whose viability check itself fails
        return f"the keychain backend {name} is not usable here"
    if priority <= 0:
        return f"the keychain backend {name} is not usable (priority {priority:g})"
    return None


def default_backend() -> Any:
    import keyring

    return keyring.get_keyring()


class Keychain:
    """The profile's entries in one keyring backend."""

    def __init__(self, backend: Any | None = None):
        self.backend = backend if backend is not None else default_backend()

    @property
    def name(self) -> str:
        return backend_name(self.backend)

    def check(self) -> None:
        reason = refusal(self.backend)
        if reason:
            raise KeychainUnavailable(f"{reason}; use a passphrase instead")

    def store(self, account: str, secret: bytes) -> None:
        """Write, read back and compare; raises KeychainUnavailable when it did not stick."""
        self.check()
        encoded = base64.b64encode(secret).decode("ascii")
        try:
            self.backend.set_password(SERVICE, account, encoded)
            back = self.backend.get_password(SERVICE, account)
        except Exception as exc:  # keyring backends raise many kinds
            raise KeychainUnavailable(
                f"the keychain refused the key ({type(exc).__name__}); use a passphrase instead"
            ) from exc
        if back != encoded:
            raise KeychainUnavailable(
                "the keychain did not keep the key (read back differs); use a passphrase instead"
            )

    def load(self, account: str) -> bytes | None:
        """The stored secret, or None when the entry is missing or unreadable."""
        if refusal(self.backend):
            return None
        try:
            value = self.backend.get_password(SERVICE, account)
        except Exception:
            return None
        if not value:
            return None
        try:
            return base64.b64decode(value.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError):
            return None

    def delete(self, account: str) -> None:
        try:
            self.backend.delete_password(SERVICE, account)
        except Exception:
            pass
