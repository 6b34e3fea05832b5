"""E-mail: EML (one message) and MBOX (many), with the standard library's email parser.

A message gives a header piece (From, To, Cc, Date, Subject), its body (plain text preferred,
HTML converted) and its text attachments, all under the heading "Subject"; in a mailbox every
piece carries the message number as its page.

Bounded memory: at most ``MAX_MESSAGE_BYTES`` are read of one message (an EML file, or one
message of a mailbox, read from its offset in the mailbox's table of contents); a longer
message is parsed up to there and the result is flagged truncated. Non-text attachments are
never decoded, so they cost no character budget. Headers are read defensively: the default
policy raises on some malformed address headers, so a header that cannot be parsed is kept
as its raw value, and a mailbox message that still cannot be read is skipped, not the mailbox.
"""

from __future__ import annotations

import logging
import mailbox
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from email import policy
from email.feedparser import BytesFeedParser
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol, cast

from app.core.memory.extract.base import Extraction, Piece, PieceBuffer, skipped
from app.core.memory.extract.html import html_pieces
from app.core.memory.extract.text import SAMPLE_BYTES, paragraphs

log = logging.getLogger(__name__)

EML_EXTENSIONS = (".eml",)
MBOX_EXTENSIONS = (".mbox", ".mbx")
MAX_MESSAGE_BYTES = 32 * 1024 * 1024
MAX_MESSAGES = 50_000
_CHUNK_BYTES = 1024 * 1024
HEADER_NAMES = ("From", "To", "Cc", "Date", "Subject")
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


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
                return _clean(str(raw))
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
    parser = BytesFeedParser(policy=policy.default)
    left = MAX_MESSAGE_BYTES
    while left > 0:
        chunk = handle.read(min(_CHUNK_BYTES, left))
        if not chunk:
            break
        left -= len(chunk)
        parser.feed(chunk)
    cut = left <= 0 and bool(handle.read(1))
    # policy.default builds EmailMessage objects
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


def _add_mbox_message(buffer: PieceBuffer, box: mailbox.mbox, key: str, number: int) -> None:
    # Read from the message's offsets in the mailbox's table of contents, never all of it.
    message_file = box.get_file(key)
    try:
        message, cut = _parse_bounded(message_file)
    finally:
        message_file.close()
    buffer.truncated = buffer.truncated or cut
    add_message(buffer, message, page=number)


def extract_mbox(path: Path, max_chars: int) -> Extraction:
    with path.open("rb") as handle:
        sample = handle.read(SAMPLE_BYTES)
    if not sample.startswith(b"From ") and _is_binary(sample):
        return skipped("binary content")
    box = mailbox.mbox(str(path), factory=None, create=False)
    buffer = PieceBuffer(max_chars)
    unreadable = 0
    try:
        for number, key in enumerate(box.iterkeys(), start=1):
            if buffer.full or number > MAX_MESSAGES:
                buffer.truncated = True
                break
            try:
                _add_mbox_message(buffer, box, key, number)
            except MemoryError:
                raise
            except Exception as exc:  # one damaged message must not sink the mailbox
                unreadable += 1
                log.debug("mbox message %d unreadable: %s", number, type(exc).__name__)
    finally:
        box.close()
    if unreadable:
        log.debug("mbox: %d unreadable messages skipped", unreadable)
    return buffer.result("no messages in this mailbox")
