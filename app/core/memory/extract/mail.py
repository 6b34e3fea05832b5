"""E-mail: EML (one message) and MBOX (many), with the standard library's email parser.

A message gives a header piece (From, To, Cc, Date, Subject), its body (plain text preferred,
HTML converted) and its text attachments, all under the heading "Subject"; in a mailbox every
piece carries the message number as its page.

Bounded memory: at most ``MAX_MESSAGE_BYTES`` are read of one message (an EML file, or one
message of a mailbox, read from its own offsets); a longer message is parsed up to there and
the result is flagged truncated. A mailbox is split into messages by scanning it in blocks of
``_SCAN_BYTES`` (the standard library's mbox reads it line by line, so one huge line cost its
whole size), one message at a time, never a table of the whole mailbox. Non-text attachments are
never decoded, so they cost no character budget. Headers are read defensively: the default
policy raises on some malformed address headers, so a header that cannot be parsed is kept
as its raw value, and a mailbox message that still cannot be read is skipped, not the mailbox.
A header is read up to its first ``MAX_HEADER_CHARS`` characters: the standard library's
structured-header parser takes time quadratic in a header's length on some damage (16,000
characters of markup in a Content-Transfer-Encoding header: 0.6 s each time it is read).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from email.feedparser import BytesFeedParser
from email.message import EmailMessage
from email.policy import EmailPolicy
from pathlib import Path
from typing import IO, Any, Protocol, cast

from app.core.memory.extract.base import Extraction, Piece, PieceBuffer, skipped
from app.core.memory.extract.html import html_pieces
from app.core.memory.extract.text import SAMPLE_BYTES, paragraphs

log = logging.getLogger(__name__)

EML_EXTENSIONS = (".eml",)
MBOX_EXTENSIONS = (".mbox", ".mbx")
MAX_MESSAGE_BYTES = 32 * 1024 * 1024
MAX_MESSAGES = 50_000
MAX_HEADER_CHARS = 8 * 1024
_CHUNK_BYTES = 1024 * 1024
_SCAN_BYTES = 1024 * 1024
_SEPARATOR = b"\nFrom "  # a message starts at every line that begins with "From "
HEADER_NAMES = ("From", "To", "Cc", "Date", "Subject")
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


class _BoundedPolicy(EmailPolicy):
    """The default policy, reading at most ``MAX_HEADER_CHARS`` of a header's value."""

    def header_fetch_parse(self, name: str, value: str) -> Any:
        if isinstance(value, str) and len(value) > MAX_HEADER_CHARS:
            value = value[:MAX_HEADER_CHARS]
        return super().header_fetch_parse(name, value)


_POLICY = _BoundedPolicy()


class _Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


def _is_binary(sample: bytes) -> bool:
    """The text extractors' rule: NUL bytes in the first 64 KiB without a BOM = binary."""
    return not sample.startswith(_BOMS) and b"\x00" in sample[:SAMPLE_BYTES]


def _clean(value: str) -> str:
    """One line, with undecodable bytes (kept by the parser as surrogates) replaced."""
    try:
        text = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeError:  # a lone surrogate that no byte produced
        text = value.encode("utf-8", "replace").decode("utf-8")
    return " ".join(text.split())


@contextmanager
def _tolerant() -> Iterator[None]:
    """Leave out what the parser cannot read (malformed headers or parameters), but never
    swallow running out of memory."""
    try:
        yield
    except MemoryError:
        raise
    except Exception as exc:
        log.debug("mail part unreadable: %s", type(exc).__name__)


def header(message: Any, name: str) -> str:
    """A header's value, or its raw text when the policy's parser fails on it ('' if absent)."""
    with _tolerant():
        value = message.get(name)
        return _clean(str(value)) if value is not None else ""
    with _tolerant():  # e.g. 'To: a@[' raises AttributeError, 'From: "a" <' IndexError
        for key, raw in message.raw_items():
            if key.lower() == name.lower():
                return _clean(str(raw)[:MAX_HEADER_CHARS])
    return ""


def _text_of(part: Any) -> str:
    with _tolerant():
        content = part.get_content()
        return content if isinstance(content, str) else ""
    with _tolerant():  # unknown charset, bad encoding, malformed Content-Type parameters
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            return payload.decode("utf-8", errors="replace")
    return ""


def _add_text(buffer: PieceBuffer, text: str, html: bool, heading: tuple[str, ...],
              page: int | None) -> None:
    if not html:
        buffer.extend(paragraphs(text.splitlines(), heading=heading, page=page))
        return
    # html_pieces knows no page: collect within the room left, then stamp the message number.
    room = PieceBuffer(max(buffer.max_chars - buffer.used, 0))
    html_pieces(text, room, heading)
    buffer.extend(replace(piece, page=page) for piece in room.pieces)
    buffer.truncated = buffer.truncated or room.truncated


def add_message(buffer: PieceBuffer, message: EmailMessage, page: int | None = None) -> None:
    """The header piece, the body and the text attachments; a part that cannot be read is
    left out, the rest kept."""
    subject = header(message, "Subject")
    heading = (subject,) if subject else ()
    lines = [f"{name}: {value}" for name in HEADER_NAMES if (value := header(message, name))]
    buffer.add(Piece("\n".join(lines), page=page, heading=heading))
    parts: list[tuple[Any, tuple[str, ...]]] = []
    with _tolerant():
        body = message.get_body(preferencelist=("plain", "html"))
        if body is not None:
            parts.append((body, heading))
        elif message.get_content_maintype() == "multipart" and not message.is_multipart():
            # A multipart without a (valid) boundary: the parser keeps its body as one string.
            parts.append((message, heading))
    with _tolerant():
        for attachment in message.iter_attachments():
            with _tolerant():
                if attachment.get_content_maintype() == "text":  # others are never decoded
                    name = _clean(attachment.get_filename() or "") or "attachment"
                    parts.append((attachment, (*heading, name)))
    for part, part_heading in parts:
        if buffer.full:
            buffer.truncated = True
            return
        with _tolerant():
            html = part.get_content_subtype() == "html"
            _add_text(buffer, _text_of(part), html, part_heading, page)


def _parse_bounded(handle: _Readable) -> tuple[EmailMessage, bool]:
    """The message in at most ``MAX_MESSAGE_BYTES`` of ``handle``, and whether more was left.

    Fed to the parser in chunks: ``parsebytes`` would hold the bytes, a str and a UCS-4
    StringIO copy of them at once (about 9x the message size in memory, 3x this way)."""
    parser = BytesFeedParser(policy=_POLICY)
    left = MAX_MESSAGE_BYTES
    while left > 0:
        chunk = handle.read(min(_CHUNK_BYTES, left))
        if not chunk:
            break
        left -= len(chunk)
        parser.feed(chunk)
    cut = left <= 0 and bool(handle.read(1))
    # an EmailPolicy builds EmailMessage objects
    return cast(EmailMessage, parser.close()), cut


def extract_eml(path: Path, max_chars: int) -> Extraction:
    with path.open("rb") as handle:
        if _is_binary(handle.read(SAMPLE_BYTES)):
            return skipped("binary content")
        handle.seek(0)
        message, cut = _parse_bounded(handle)
    buffer = PieceBuffer(max_chars)
    add_message(buffer, message)
    buffer.truncated = buffer.truncated or cut
    return buffer.result("no text in this message")


class _Slice:
    """``stop - start`` bytes of ``handle`` from ``start``, read as a file."""

    def __init__(self, handle: IO[bytes], start: int, stop: int):
        handle.seek(start)
        self.handle = handle
        self.left = stop - start

    def read(self, size: int = -1, /) -> bytes:
        size = self.left if size < 0 else min(size, self.left)
        data = self.handle.read(size)
        self.left -= len(data)
        return data


def mbox_spans(handle: IO[bytes]) -> Iterator[tuple[int, int]]:
    """(start, stop) offsets of each message in a mailbox, in order. As the standard library
    reads mbox: every line that begins with "From " starts a message (the From_ line is part
    of it), and what comes before the first one is not a message."""
    handle.seek(0)
    start: int | None = None
    position = 0  # the file offset just past what was read
    # The end of the last block, as a separator may straddle two; at first a newline before
    # offset 0, so a "From " line that opens the file is found like any other.
    tail = b"\n"
    while block := handle.read(_SCAN_BYTES):
        data = tail + block
        base = position - len(tail)
        index = data.find(_SEPARATOR)
        while index != -1:
            begin = base + index + 1
            if start is not None:
                yield start, begin
            start = begin
            index = data.find(_SEPARATOR, index + 1)
        tail = data[-(len(_SEPARATOR) - 1):]
        position += len(block)
    if start is not None:
        yield start, position


def _add_mbox_message(buffer: PieceBuffer, handle: IO[bytes], span: tuple[int, int],
                      number: int) -> None:
    message, cut = _parse_bounded(_Slice(handle, *span))
    buffer.truncated = buffer.truncated or cut
    add_message(buffer, message, page=number)


def extract_mbox(path: Path, max_chars: int) -> Extraction:
    buffer = PieceBuffer(max_chars)
    unreadable = 0
    with path.open("rb") as scan, path.open("rb") as handle:
        sample = scan.read(SAMPLE_BYTES)
        if not sample.startswith(b"From ") and _is_binary(sample):
            return skipped("binary content")
        for number, span in enumerate(mbox_spans(scan), start=1):
            if buffer.full or number > MAX_MESSAGES:
                buffer.truncated = True
                break
            try:
                _add_mbox_message(buffer, handle, span, number)
            except MemoryError:
                raise
            except Exception as exc:  # one damaged message must not sink the mailbox
                unreadable += 1
                log.debug("mbox message %d unreadable: %s", number, type(exc).__name__)
    if unreadable:
        log.debug("mbox: %d unreadable messages skipped", unreadable)
    return buffer.result("no messages in this mailbox")
