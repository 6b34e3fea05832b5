"""EML and MBOX extraction on awkward input: huge messages, malformed headers, binary files
named .eml, attachments before the text, HTML bodies in a mailbox."""

from __future__ import annotations

import base64
import io
import mailbox
import random
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.memory.extract import EXTRACTED, SKIPPED, Extraction, extract, mail

CAP = 200_000
FROM_LINE = b"From x@y Mon Jan  1 00:00:00 2024\n"


def text_of(result: Extraction) -> str:
    return "\n".join(p.text for p in result.pieces)


def piece_with(result: Extraction, word: str):  # type: ignore[no-untyped-def]
    return next(p for p in result.pieces if word in p.text)


def base64_lines(size: int) -> bytes:
    line = base64.b64encode(b"\x00" * 57) + b"\n"
    return line * (size // len(line) + 1)


def attachment_message(subject: str, text: str, attachment_bytes: int) -> bytes:
    return (f"From: a@b\nSubject: {subject}\nMIME-Version: 1.0\n"
            "Content-Type: multipart/mixed; boundary=XX\n\n"
            f"--XX\nContent-Type: text/plain\n\n{text}\n"
            "--XX\nContent-Type: application/octet-stream\n"
            "Content-Transfer-Encoding: base64\n\n").encode() + base64_lines(attachment_bytes) + (
            b"--XX--\n")


def write_mbox(path: Path, *messages: bytes) -> Path:
    path.write_bytes(b"\n".join(FROM_LINE + message for message in messages))
    return path


# 1. MBOX: a huge message is read only up to the per-message limit, from its own offset;
#    the mailbox is split into messages block by block, so a huge line costs one block.

def test_mbox_reads_a_huge_message_only_up_to_the_limit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mail, "MAX_MESSAGE_BYTES", 64 * 1024)
    path = write_mbox(tmp_path / "big.mbox",
                      b"From: a@b\nSubject: one\n\nfirst body\n",
                      attachment_message("two", "second body", 1024 * 1024),
                      b"From: a@b\nSubject: three\n\nthird body\n")
    result = extract(path, CAP)
    assert result.status == EXTRACTED
    assert result.truncated
    assert [piece_with(result, word).page for word in ("first", "second", "third")] == [1, 2, 3]


def test_mbox_with_one_huge_line_costs_a_block_not_the_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mail, "MAX_MESSAGE_BYTES", 64 * 1024)
    line = 24 * 1024 * 1024
    path = write_mbox(tmp_path / "line.mbox",
                      b"From: a@b\nSubject: one\n\nfirst body\n",
                      b"From: a@b\nSubject: two\n\n" + b"x" * line + b"\n",
                      b"From: a@b\nSubject: three\n\nthird body\n")
    tracemalloc.start()
    try:
        result = extract(path, CAP)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [piece_with(result, word).page for word in ("first", "third")] == [1, 3]
    assert result.truncated
    # Two scan blocks at most (a block and the block with the previous one's tail), plus one
    # message's limit: far below the line (the standard library's mbox held it whole).
    assert peak < 8 * 1024 * 1024, peak


def stdlib_messages(path: Path) -> list[bytes]:
    """Each message as the standard library's mbox splits it, From_ line left out."""
    box = mailbox.mbox(str(path), create=False)
    try:
        return [box.get_bytes(key).rstrip(b"\r\n") for key in box.iterkeys()]
    finally:
        box.close()


def our_messages(path: Path) -> list[bytes]:
    with path.open("rb") as handle:
        data = handle.read()
        spans = list(mail.mbox_spans(handle))
    messages = []
    for start, stop in spans:
        message = data[start:stop]
        first_line_end = message.find(b"\n")
        body = message[first_line_end + 1:] if first_line_end != -1 else b""
        messages.append(body.rstrip(b"\r\n"))
    return messages


LINES = st.sampled_from([b"From x@y Mon Jan  1 00:00:00 2024", b"From", b">From x", b"",
                         b"Subject: s", b"text From y", b"From  two spaces", b"\r", b"body"])


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(LINES, max_size=25), block=st.integers(min_value=1, max_value=16),
       crlf=st.booleans())
def test_mbox_split_matches_the_standard_library(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lines: list[bytes], block: int,
        crlf: bool) -> None:
    """Messages start where the standard library's mbox starts them, whatever the block
    size (a separator straddling two blocks included), with LF or CRLF line ends."""
    monkeypatch.setattr(mail, "_SCAN_BYTES", block)
    path = tmp_path / "box.mbox"
    path.write_bytes((b"\r\n" if crlf else b"\n").join(lines))
    assert our_messages(path) == stdlib_messages(path)


# 2. MBOX: one message with a malformed header does not sink the mailbox.

@pytest.mark.parametrize("bad", [b"To: a@[\n", b'From: "a" <\n',
                                 b"Content-Type: multipart/mixed\n"])
def test_mbox_message_with_malformed_header_keeps_the_rest(tmp_path: Path, bad: bytes) -> None:
    path = write_mbox(tmp_path / "bad.mbox",
                      b"From: a@b\nSubject: one\n\nbody one\n",
                      b"Subject: two\n" + bad + b"\nbody two\n",
                      b"From: a@b\nSubject: three\n\nbody three\n")
    result = extract(path, CAP)
    assert result.status == EXTRACTED
    assert [piece_with(result, f"body {n}").page for n in ("one", "two", "three")] == [1, 2, 3]
    assert piece_with(result, "body two").heading == ("two",)


def test_eml_with_malformed_address_keeps_its_raw_value(tmp_path: Path) -> None:
    path = tmp_path / "bad.eml"
    path.write_bytes(b'From: "a" <\nTo: a@[\nSubject: odd\n\nthe body\n')
    result = extract(path, CAP)
    assert result.status == EXTRACTED
    assert 'From: "a" <\nTo: a@[\nSubject: odd' in text_of(result)
    assert "the body" in text_of(result)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("suffix", [".eml", ".mbox"])
def test_a_long_damaged_header_is_read_up_to_its_limit(tmp_path: Path, suffix: str) -> None:
    # The standard library's header parser is quadratic on such a value: 120 KB of markup in
    # a Content-Transfer-Encoding header took minutes, every time the header was read.
    junk = b"</w:t>" * 40_000
    message = (b"From: a@b\nTo: " + b"x" * 50_000 + b"\nSubject: long\n"
               b"Content-Transfer-Encoding: " + junk + b"\n\nthe body survives\n")
    path = tmp_path / f"long{suffix}"
    if suffix == ".eml":
        path.write_bytes(message)
    else:
        write_mbox(path, message, b"From: a@b\nSubject: next\n\nthe next body\n")
    result = extract(path, CAP)
    assert result.status == EXTRACTED
    assert "the body survives" in text_of(result)
    assert "To: " + "x" * mail.MAX_HEADER_CHARS + "\n" in text_of(result)
    assert "x" * (mail.MAX_HEADER_CHARS + 1) not in text_of(result)
    if suffix == ".mbox":
        assert piece_with(result, "the next body").page == 2


# 3. EML: a binary attachment before the text costs no budget; a cut message says so.

def test_eml_text_after_a_large_attachment_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "report.eml"
    path.write_bytes(b"From: a@b\nSubject: report\nMIME-Version: 1.0\n"
                     b"Content-Type: multipart/mixed; boundary=XX\n\n"
                     b"--XX\nContent-Type: application/pdf\n"
                     b"Content-Disposition: attachment; filename=a.pdf\n"
                     b"Content-Transfer-Encoding: base64\n\n" + base64_lines(200_000)
                     + b"--XX\nContent-Type: text/plain\n\nThe important text.\n--XX--\n")
    result = extract(path, 10_000)
    assert result.status == EXTRACTED
    assert "The important text." in text_of(result)
    assert not result.truncated


def test_eml_longer_than_the_message_limit_is_flagged_truncated(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mail, "MAX_MESSAGE_BYTES", 64 * 1024)
    path = tmp_path / "long.eml"
    path.write_bytes(attachment_message("long", "kept text", 200_000))
    result = extract(path, CAP)
    assert result.status == EXTRACTED
    assert "kept text" in text_of(result)
    assert result.truncated


def test_eml_parts_left_out_at_the_character_cap_are_flagged(tmp_path: Path) -> None:
    path = tmp_path / "cap.eml"
    path.write_bytes(b"From: a@b\nSubject: s\nMIME-Version: 1.0\n"
                     b"Content-Type: multipart/mixed; boundary=XX\n\n"
                     b"--XX\nContent-Type: text/plain\n\nabcdefghij\n"
                     b"--XX\nContent-Type: text/plain\nContent-Disposition: attachment; "
                     b"filename=n.txt\n\nattached text\n--XX--\n")
    header = "From: a@b\nSubject: s"
    result = extract(path, len(header) + len("abcdefghij"))  # the body fills the cap exactly
    assert result.status == EXTRACTED
    assert text_of(result) == header + "\nabcdefghij"
    assert result.truncated


# 4. Binary files named .eml are skipped; real 8-bit mail still works.

def _zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("foo.txt", "hello")
    return buffer.getvalue()


@pytest.mark.parametrize("kind", ["zip", "random", "png"])
def test_binary_file_named_eml_is_skipped(tmp_path: Path, kind: str) -> None:
    noise = random.Random(3).randbytes(3000)
    data = {"zip": _zip_bytes(), "random": noise, "png": b"\x89PNG\r\n\x1a\n" + noise}[kind]
    path = tmp_path / f"{kind}.eml"
    path.write_bytes(data)
    result = extract(path, CAP)
    assert (result.status, result.reason) == (SKIPPED, "binary content")


def test_binary_file_named_mbox_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "zeros.mbox"
    path.write_bytes(b"\x00" * 100_000)
    result = extract(path, CAP)
    assert (result.status, result.reason) == (SKIPPED, "binary content")


@pytest.mark.parametrize("charset", ["utf-8", "iso-8859-1"])
def test_eml_with_8bit_body_is_extracted(tmp_path: Path, charset: str) -> None:
    path = tmp_path / "8bit.eml"
    path.write_bytes(f"From: a@b\nSubject: Gr\u00fc\u00dfe\nMIME-Version: 1.0\n"
                     f"Content-Type: text/plain; charset={charset}\n"
                     "Content-Transfer-Encoding: 8bit\n\nSch\u00f6ne Gr\u00fc\u00dfe aus K\u00f6ln\n"
                     .encode(charset))
    result = extract(path, CAP)
    assert result.status == EXTRACTED
    assert "Sch\u00f6ne Gr\u00fc\u00dfe aus K\u00f6ln" in text_of(result)


# 5. Every piece of a mailbox message carries its message number, HTML bodies included.

def test_mbox_html_body_pieces_keep_the_message_number(tmp_path: Path) -> None:
    path = write_mbox(tmp_path / "loc.mbox",
                      b"From: a@b\nSubject: plain one\n\nplain body\n",
                      b"From: a@b\nSubject: html two\nMIME-Version: 1.0\n"
                      b"Content-Type: text/html\n\n"
                      b"<html><body><h1>Hi</h1><p>html body</p></body></html>\n")
    result = extract(path, CAP)
    assert result.status == EXTRACTED
    second = [p for p in result.pieces if p.heading[:1] == ("html two",)]
    assert {p.text for p in second} >= {"Hi", "html body"}
    assert {p.page for p in second} == {2}
    assert piece_with(result, "html body").heading == ("html two", "Hi")
