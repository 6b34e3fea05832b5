"""Downloads against a local server that answers like the hub (tests/fixtures/fake_hub.py)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from app.core.engine import downloads
from app.core.engine.downloads import DownloadProgress, download
from app.core.engine.errors import (
    ChecksumMismatch,
    DownloadCancelled,
    DownloadError,
    NotEnoughDisk,
)
from app.core.tasks import TaskState
from tests.fixtures.fake_hub import COMMIT, FakeHub, fake_hub  # noqa: F401

REPO, FILE = "someone/Tiny-GGUF", "tiny-q4.gguf"
DATA = os.urandom(3 * 2**20 + 12345)
SHA = hashlib.sha256(DATA).hexdigest()
CHUNK = 64 * 1024


def test_downloads_verifies_against_the_hub_etag_and_places_atomically(
        fake_hub: FakeHub, tmp_path: Path) -> None:  # noqa: F811
    fake_hub.state.add(REPO, FILE, DATA)
    events: list[DownloadProgress] = []
    result = download(REPO, FILE, tmp_path, on_progress=events.append, chunk_bytes=CHUNK)
    assert result.path == tmp_path / FILE and result.path.read_bytes() == DATA
    assert result.sha256 == SHA and result.verified_against == "hub-etag"
    assert result.commit == COMMIT and result.resumed_from == 0
    assert not list((tmp_path / ".partial").iterdir())
    done = [e.done_bytes for e in events]
    assert done == sorted(done) and done[-1] == len(DATA)
    assert events[-1].total_bytes == len(DATA) and events[-1].speed_bps > 0
    assert fake_hub.state.auth_seen_on_cdn == []  # no token leaves the hub host


def test_catalog_hash_takes_precedence(fake_hub: FakeHub, tmp_path: Path) -> None:  # noqa: F811
    fake_hub.state.add(REPO, FILE, DATA)
    result = download(REPO, FILE, tmp_path, expected_sha256=SHA.upper(), chunk_bytes=CHUNK)
    assert result.verified_against == "catalog"


def test_resumes_after_a_cut_connection(fake_hub: FakeHub, tmp_path: Path) -> None:  # noqa: F811
    fake_hub.state.add(REPO, FILE, DATA)
    fake_hub.state.cut_after = 1_000_000
    result = download(REPO, FILE, tmp_path, chunk_bytes=CHUNK)
    assert result.path.read_bytes() == DATA and result.sha256 == SHA
    assert fake_hub.state.gets[0] is None
    assert fake_hub.state.gets[1] is not None and fake_hub.state.gets[1].startswith("bytes=")
    assert int(fake_hub.state.gets[1][6:-1]) >= 1  # resumed, not restarted


def test_a_connection_that_keeps_failing_gives_up_resumably(
        fake_hub: FakeHub, tmp_path: Path) -> None:  # noqa: F811
    fake_hub.state.add(REPO, FILE, DATA)
    fake_hub.state.cut_after = 0
    fake_hub.state.cut_always = True
    with pytest.raises(DownloadError, match="interrupted at .* run the same command again"):
        download(REPO, FILE, tmp_path, chunk_bytes=CHUNK)
    assert len(fake_hub.state.gets) == downloads.RETRIES + 1
    assert not (tmp_path / FILE).exists()
    fake_hub.state.cut_always = False
    fake_hub.state.cut_after = None
    assert download(REPO, FILE, tmp_path, chunk_bytes=CHUNK).path.read_bytes() == DATA


def test_cancel_keeps_a_resumable_part_and_no_final_file(
        fake_hub: FakeHub, tmp_path: Path) -> None:  # noqa: F811
    fake_hub.state.add(REPO, FILE, DATA)
    state = TaskState()

    def cancel_after_some(p: DownloadProgress) -> None:
        if p.done_bytes >= 5 * CHUNK:
            state.cancel()

    with pytest.raises(DownloadCancelled, match="run the same command again to resume"):
        download(REPO, FILE, tmp_path, state=state, on_progress=cancel_after_some,
                 chunk_bytes=CHUNK)
    assert not (tmp_path / FILE).exists()
    part = tmp_path / ".partial" / f"{FILE}.part"
    kept = part.stat().st_size
    assert 5 * CHUNK <= kept < len(DATA)
    result = download(REPO, FILE, tmp_path, chunk_bytes=CHUNK)
    assert result.resumed_from == kept
    assert result.path.read_bytes() == DATA and not part.exists()


def test_server_that_ignores_range_restarts_cleanly(
        fake_hub: FakeHub, tmp_path: Path) -> None:  # noqa: F811
    fake_hub.state.add(REPO, FILE, DATA)
    fake_hub.state.cut_after = 500_000
    fake_hub.state.ignore_range = True
    result = download(REPO, FILE, tmp_path, chunk_bytes=CHUNK)
    assert result.path.read_bytes() == DATA


def test_checksum_mismatch_deletes_the_bytes(fake_hub: FakeHub, tmp_path: Path) -> None:  # noqa: F811
    fake_hub.state.add(REPO, FILE, DATA)
    fake_hub.state.corrupt = True
    with pytest.raises(ChecksumMismatch, match="damaged file was deleted"):
        download(REPO, FILE, tmp_path, chunk_bytes=CHUNK)
    assert not (tmp_path / FILE).exists()
    assert not (tmp_path / ".partial" / f"{FILE}.part").exists()


def test_catalog_hash_mismatch(fake_hub: FakeHub, tmp_path: Path) -> None:  # noqa: F811
    fake_hub.state.add(REPO, FILE, DATA)
    with pytest.raises(ChecksumMismatch):
        download(REPO, FILE, tmp_path, expected_sha256="0" * 64, chunk_bytes=CHUNK)
    assert not (tmp_path / FILE).exists()


def test_full_disk_is_refused_before_any_byte(fake_hub: FakeHub, tmp_path: Path,  # noqa: F811
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    fake_hub.state.add(REPO, FILE, DATA)
    monkeypatch.setattr(downloads.hardware, "free_disk_bytes", lambda path: 10 * 2**20)
    with pytest.raises(NotEnoughDisk, match="FAMILIAR_MODELS_DIR"):
        download(REPO, FILE, tmp_path)
    assert fake_hub.state.gets == []
    assert not (tmp_path / FILE).exists()


def test_missing_file_names_the_problem(fake_hub: FakeHub, tmp_path: Path) -> None:  # noqa: F811
    with pytest.raises(DownloadError, match="not in 'someone/Tiny-GGUF'"):
        download(REPO, "nope.gguf", tmp_path)


def test_offline_mode_is_respected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DownloadError, match="HF_HUB_OFFLINE"):
        download(REPO, FILE, tmp_path)
