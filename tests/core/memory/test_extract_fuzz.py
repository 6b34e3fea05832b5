"""Fuzz: random bytes under every supported extension give a result, never an exception.

Random bytes, and random bytes behind each format's real magic (a zip header, "%PDF-", an
HTML tag, mail headers), so the parsers get past their first check."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.memory.extract import EXTRACTED, FAILED, SKIPPED, extract, supported_extensions

PREFIXES = {
    ".pdf": b"%PDF-1.4\n", ".docx": b"PK\x03\x04", ".pptx": b"PK\x03\x04",
    ".xlsx": b"PK\x03\x04", ".odt": b"PK\x03\x04", ".epub": b"PK\x03\x04",
    ".html": b"<html><body>", ".eml": b"From: a@b\nSubject: x\n\n", ".mbox": b"From a@b\n",
}
FAMILY_EXTENSIONS = sorted({".txt", ".py", ".md", ".rst", ".org", ".html", ".pdf", ".docx",
                            ".pptx", ".odt", ".xlsx", ".csv", ".epub", ".eml", ".mbox"})


def test_fuzzed_extensions_cover_every_family() -> None:
    assert set(FAMILY_EXTENSIONS) <= supported_extensions()


@pytest.mark.parametrize("ext", FAMILY_EXTENSIONS)
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.binary(max_size=2048), with_magic=st.booleans())
def test_random_bytes_never_raise(ext: str, data: bytes, with_magic: bool) -> None:
    payload = (PREFIXES.get(ext, b"") + data) if with_magic else data
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"fuzz{ext}"
        path.write_bytes(payload)
        result = extract(path, 10_000)
    assert result.status in (EXTRACTED, SKIPPED, FAILED)
    if result.status == EXTRACTED:
        assert result.pieces and result.chars <= 10_000
    else:
        assert result.reason
