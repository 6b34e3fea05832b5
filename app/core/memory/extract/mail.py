"""E-mail: EML (one message) and MBOX (many), with the standard library's email parser.

A message gives a header piece (From, To, Date, Subject), its body (plain text preferred, HTML
converted) and its text attachments, all under the heading "Subject"."""

from __future__ import annotations

import mailbox
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from app.core.memory.extract.base import Extraction, Piece, PieceBuffer
from app.core.memory.extract.html import html_pieces
from app.core.memory.extract.text import paragraphs

EML_EXTENSIONS = (".eml",)
MBOX_EXTENSIONS = (".mbox", ".mbx")
MAX_MESSAGE_BYTES = 32 * 1024 * 1024
MAX_MESSAGES = 50_000


def _text_of(part: Any) -> str:
    try:
        content = part.get_content()
    except (LookupError, ValueError, AssertionError):
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""
    return content if isinstance(content, str) else ""


def add_message(buffer: PieceBuffer, message: EmailMessage, page: int | None = None) -> None:
    subject = " ".join(str(message.get("subject", "") or "").split())
    heading = (subject,) if subject else ()
    header_lines = [f"{name}: {message.get(name)}" for name in ("From", "To", "Cc", "Date",
                                                                  "Subject") if message.get(name)]
    buffer.add(Piece("\n".join(header_lines), page=page, heading=heading))
    body = message.get_body(preferencelist=("plain", "html"))
    if body is not None:
        text = _text_of(body)
        if body.get_content_subtype() == "html":
            html_pieces(text, buffer, heading)
        else:
            buffer.extend(paragraphs(text.splitlines(), heading=heading, page=page))
    for attachment in message.iter_attachments():
        if buffer.full:
            return
        if attachment.get_content_maintype() != "text":
            continue
        name = attachment.get_filename() or "attachment"
        text = _text_of(attachment)
        buffer.extend(paragraphs(text.splitlines(), heading=(*heading, name), page=page))


def extract_eml(path: Path, max_chars: int) -> Extraction:
    with path.open("rb") as handle:
        data = handle.read(min(MAX_MESSAGE_BYTES, max(4 * max_chars, 4096)))
    message = BytesParser(policy=policy.default).parsebytes(data)
    buffer = PieceBuffer(max_chars)
    add_message(buffer, message)
    return buffer.result("no text in this message")


def extract_mbox(path: Path, max_chars: int) -> Extraction:
    box = mailbox.mbox(str(path), factory=None, create=False)
    buffer = PieceBuffer(max_chars)
    try:
        for number, key in enumerate(box.iterkeys(), start=1):
            if buffer.full or number > MAX_MESSAGES:
                buffer.truncated = True
                break
            raw = box.get_bytes(key)[:MAX_MESSAGE_BYTES]
            message = BytesParser(policy=policy.default).parsebytes(raw)
            add_message(buffer, message, page=number)
    finally:
        box.close()
    return buffer.result("no messages in this mailbox")
