"""Model downloads from the Hugging Face Hub: progress, cancel, resume, verify, place atomically.

The hub's own URL layout and metadata are used (``hf_hub_url`` + ``get_hf_file_metadata``:
HEAD on ``/{repo}/resolve/{revision}/{file}`` for the commit, the LFS ETag = sha256 and the
size), so HF_ENDPOINT, HF_HOME (token) and HF_HUB_OFFLINE behave as everywhere else. The
transfer itself is ours, over the hub's HTTP session: ``hf_hub_download`` offers no cancel and
keeps its partial files in its cache, while a desktop app needs a stop button, progress with
speed and ETA, and a resumable ``.part`` file next to where the model will live.

Bytes go to ``<models>/.partial/<file>.part`` with a small JSON note of what they belong to
(URL, ETag, size). A cut connection is resumed with an HTTP Range request (a few automatic
retries, then the same command resumes); a cancel keeps the part for later. When all bytes
are in, the sha256 (computed while writing) must equal the catalog's or, failing that, the
hub's LFS ETag; a mismatch deletes the part. Only then is the file fsynced and renamed into
place, so a file under its final name is always complete. Runs on the ``io`` lane (or the
CLI thread); ``state.cancel()`` from any thread stops it within one chunk.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core import hardware
from app.core.engine.errors import (
    ChecksumMismatch,
    DownloadCancelled,
    DownloadError,
    NotEnoughDisk,
)
from app.core.profile.header import fsync_dir
from app.core.tasks import TaskState

log = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20
RETRIES = 3
DISK_MARGIN_BYTES = 64 * 2**20
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class DownloadProgress:
    done_bytes: int
    total_bytes: int
    speed_bps: float
    eta_s: float | None


@dataclass(frozen=True)
class DownloadResult:
    path: Path
    sha256: str
    size_bytes: int
    verified_against: str  # "catalog" | "hub-etag" | "none" (hash computed and recorded)
    resumed_from: int
    commit: str | None


def offline() -> bool:
    from huggingface_hub import constants

    env = os.environ.get("HF_HUB_OFFLINE")
    if env is not None:
        return env.strip().upper() in {"1", "ON", "YES", "TRUE"}
    return bool(constants.HF_HUB_OFFLINE)


class _Meter:
    """Throttled progress with a smoothed speed and an ETA."""

    def __init__(self, total: int, start: int, state: TaskState,
                 on_progress: Callable[[DownloadProgress], None] | None):
        self.total, self.done = total, start
        self.state, self.on_progress = state, on_progress
        self._t0, self._b0 = time.monotonic(), start
        self.speed = 0.0

    def add(self, n: int) -> None:
        self.done += n
        elapsed = time.monotonic() - self._t0
        if elapsed > 0:
            self.speed = (self.done - self._b0) / elapsed
        self.emit()

    def emit(self) -> None:
        eta = (self.total - self.done) / self.speed if self.speed > 0 else None
        progress = DownloadProgress(self.done, self.total, self.speed, eta)
        self.state.set_progress(self.done, self.total, _describe(progress))
        if self.on_progress is not None:
            self.on_progress(progress)


def _describe(p: DownloadProgress) -> str:
    eta = f", {p.eta_s:.0f}s left" if p.eta_s is not None else ""
    return f"{p.done_bytes / 2**20:.1f} of {p.total_bytes / 2**20:.1f} MB, " \
           f"{p.speed_bps / 2**20:.1f} MB/s{eta}"


def download(
    repo: str,
    filename: str,
    dest_dir: Path,
    *,
    revision: str = "main",
    expected_sha256: str | None = None,
    expected_size: int | None = None,
    state: TaskState | None = None,
    on_progress: Callable[[DownloadProgress], None] | None = None,
    chunk_bytes: int = CHUNK_BYTES,
) -> DownloadResult:
    """Fetch ``repo``/``filename`` into ``dest_dir`` (see module docstring)."""
    state = state if state is not None else TaskState()
    if offline():
        raise DownloadError("downloads are turned off (HF_HUB_OFFLINE is set); unset it, or "
                            "import a GGUF you already have with 'familiar models import PATH'")
    from huggingface_hub import get_hf_file_metadata, get_session, hf_hub_url
    from huggingface_hub.utils._headers import build_hf_headers

    endpoint = os.environ.get("HF_ENDPOINT") or None
    url = hf_hub_url(repo, filename, revision=revision, endpoint=endpoint)
    token = _token()
    try:
        meta = get_hf_file_metadata(url, token=token, endpoint=endpoint, retry_on_errors=True)
    except Exception as exc:
        raise _hub_error(exc, repo, filename) from exc
    size = meta.size if meta.size is not None else expected_size
    if size is None:
        raise DownloadError(f"the hub did not say how large '{filename}' is; try again later")
    if expected_size is not None and meta.size is not None and meta.size != expected_size:
        log.warning("hub size %d differs from catalog size %d", meta.size, expected_size)
    hub_sha = meta.etag if meta.etag and _SHA256.match(meta.etag) else None
    want_sha = (expected_sha256 or "").lower() or hub_sha
    verified_against = "catalog" if expected_sha256 else ("hub-etag" if hub_sha else "none")

    dest_dir.mkdir(parents=True, exist_ok=True)
    final = dest_dir / filename
    partial_dir = dest_dir / ".partial"
    partial_dir.mkdir(exist_ok=True)
    part = partial_dir / f"{filename}.part"
    note = partial_dir / f"{filename}.part.json"
    identity = {"url": url, "etag": meta.etag, "size": size}
    if part.exists() and _read_json(note) != identity:
        part.unlink()  # bytes of another version of the file: start over
    have = part.stat().st_size if part.exists() else 0
    if have > size:
        part.unlink()
        have = 0
    _check_disk(dest_dir, size - have, filename)
    _write_json(note, identity)

    hasher = hashlib.sha256()
    if have:
        with part.open("rb") as f:
            for block in iter(lambda: f.read(chunk_bytes), b""):
                hasher.update(block)
    resumed_from = have
    # Off-hub redirects (CDN, signed URLs) must not receive the token.
    source = meta.location or url
    headers = build_hf_headers(token=token) if _same_host(source, url) else {}
    headers["Accept-Encoding"] = "identity"
    session = get_session()
    meter = _Meter(size, have, state, on_progress)
    meter.emit()
    failures = 0
    while have < size:
        if state.cancelled:
            raise _cancelled(filename, have, size)
        attempt_start = have
        request_headers = dict(headers)
        if have:
            request_headers["Range"] = f"bytes={have}-"
        try:
            with session.stream("GET", source, headers=request_headers, follow_redirects=True,
                                timeout=30.0) as response:
                if response.status_code == 200 and have:
                    # The server ignored the range: take the whole body again.
                    part.unlink()
                    have, hasher, meter.done = 0, hashlib.sha256(), 0
                elif response.status_code not in (200, 206):
                    raise DownloadError(f"the server answered HTTP {response.status_code} for "
                                        f"'{filename}'; try again later")
                with part.open("ab") as out:
                    for block in response.iter_bytes(chunk_bytes):
                        if state.cancelled:
                            out.flush()
                            raise _cancelled(filename, have, size)
                        out.write(block)
                        hasher.update(block)
                        have += len(block)
                        meter.add(len(block))
                        failures = 0
        except (DownloadError, DownloadCancelled):
            raise
        except Exception as exc:
            if not _is_network_error(exc):
                raise
            failures += 1
            log.info("download interrupted (%s), %d/%d retries", type(exc).__name__,
                     failures, RETRIES)
            if failures > RETRIES:
                raise DownloadError(
                    f"the download of '{filename}' was interrupted at {have / 2**20:.0f} of "
                    f"{size / 2**20:.0f} MB; run the same command again to resume") from exc
            if state.wait_cancelled(min(2.0, 0.2 * failures)):
                raise _cancelled(filename, have, size) from exc
            continue
        if have < size and have == attempt_start:
            failures += 1  # an empty answer: count it as a failed attempt
            if failures > RETRIES:
                raise DownloadError(f"the server sent no data for '{filename}'; run the same "
                                    "command again later to resume")
    state.flush()
    if have != size:
        raise DownloadError(f"'{filename}' came out {have} bytes instead of {size}; "
                            "run the same command again to download it afresh")
    digest = hasher.hexdigest()
    if want_sha and digest != want_sha:
        part.unlink(missing_ok=True)
        note.unlink(missing_ok=True)
        raise ChecksumMismatch(
            f"'{filename}' does not match its published sha256 (got {digest[:12]}..., expected "
            f"{want_sha[:12]}...); the damaged file was deleted: run the command again")
    _fsync(part)
    os.replace(part, final)
    fsync_dir(dest_dir)
    note.unlink(missing_ok=True)
    return DownloadResult(final, digest, size, verified_against, resumed_from, meta.commit_hash)


def _token() -> str | None:
    from huggingface_hub import get_token

    try:
        return get_token()  # HF_TOKEN or the token file under HF_HOME
    except Exception:
        return None


def _same_host(a: str, b: str) -> bool:
    from urllib.parse import urlparse

    return urlparse(a).netloc == urlparse(b).netloc


def _is_network_error(exc: Exception) -> bool:
    import httpx2

    return isinstance(exc, httpx2.TransportError | ConnectionError | TimeoutError)


def _hub_error(exc: Exception, repo: str, filename: str) -> DownloadError:
    from huggingface_hub import errors

    if isinstance(exc, errors.GatedRepoError):
        return DownloadError(f"'{repo}' is gated: accept its license on the Hugging Face site "
                             "and log in (hf auth login), then try again")
    if isinstance(exc, errors.RepositoryNotFoundError):
        return DownloadError(f"the repository '{repo}' was not found; check the catalog entry")
    if isinstance(exc, errors.EntryNotFoundError | errors.RemoteEntryNotFoundError):
        return DownloadError(f"'{filename}' is not in '{repo}'; check the catalog entry")
    if isinstance(exc, errors.OfflineModeIsEnabled):
        return DownloadError("downloads are turned off (HF_HUB_OFFLINE is set); unset it")
    if _is_network_error(exc):
        return DownloadError("could not reach the model hub; check the network connection "
                             "(or HF_ENDPOINT) and try again")
    return DownloadError(f"the model hub refused the request ({type(exc).__name__}); "
                         "try again later")


def _cancelled(filename: str, have: int, size: int) -> DownloadCancelled:
    return DownloadCancelled(f"the download of '{filename}' was cancelled at "
                             f"{have / 2**20:.0f} of {size / 2**20:.0f} MB; run the same "
                             "command again to resume")


def _check_disk(dest_dir: Path, needed: int, filename: str) -> None:
    free = hardware.free_disk_bytes(dest_dir)
    if needed + DISK_MARGIN_BYTES > free:
        raise NotEnoughDisk(
            f"'{filename}' needs {needed / 2**30:.2f} GB more disk space but only "
            f"{free / 2**30:.2f} GB is free where models are kept; free some space or set "
            "FAMILIAR_MODELS_DIR to a folder on a larger disk")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_json(path: Path, value: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(value), encoding="utf-8")
    os.replace(tmp, path)


def _fsync(path: Path) -> None:
    with path.open("rb+") as f:
        os.fsync(f.fileno())
