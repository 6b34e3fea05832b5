"""The header parser takes any bytes and either returns a header or raises ValueError."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.profile import header as hdr
from app.core.profile import keys


def _valid() -> bytes:
    h = hdr.Header(profile_id="ab" * 16, created="2026-01-01T00:00:00+00:00")
    h.slots.append(hdr.Slot("recovery", "r1", b"n" * 12, b"w" * 48))
    h.slots.append(
        hdr.Slot("passphrase", "p1", b"n" * 12, b"w" * 48, kdf=keys.Argon2Params(b"s" * 16))
    )
    return hdr.dumps(h)


VALID = _valid()


def test_round_trip() -> None:
    parsed = hdr.loads(VALID)
    assert hdr.dumps(parsed) == VALID


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_random_bytes(data: bytes) -> None:
    try:
        hdr.loads(data)
    except ValueError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(VALID) - 1), st.integers(1, 255))
def test_single_byte_changes(offset: int, xor: int) -> None:
    data = bytearray(VALID)
    data[offset] ^= xor
    try:
        parsed = hdr.loads(bytes(data))
    except ValueError:
        return
    # Only whitespace changes may survive the checksum.
    assert parsed.body() == hdr.loads(VALID).body()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["format", "version", "profile_id", "created", "slots", "x"]),
                       json_values, max_size=6))
def test_structurally_wrong_documents_with_valid_checksum(doc: dict) -> None:  # type: ignore[type-arg]
    body = dict(doc)
    if "format" not in body:
        body["format"] = hdr.FORMAT
    data = json.dumps(dict(body, checksum=hdr._checksum(body))).encode()
    try:
        hdr.loads(data)
    except ValueError:
        pass
