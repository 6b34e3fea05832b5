"""PDF: text per page with pypdf, page numbers kept. Encrypted files that need a password are
skipped (an empty user password is tried, as viewers do). Pages are read one at a time, so a
1,000-page file costs one page of memory plus the text kept under the cap."""

from __future__ import annotations

import logging
from pathlib import Path

from app.core.memory.extract.base import Extraction, PieceBuffer, skipped
from app.core.memory.extract.text import paragraphs

PDF_EXTENSIONS = (".pdf",)


def extract_pdf(path: Path, max_chars: int) -> Extraction:
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its warnings quote document details
    reader = PdfReader(path, strict=False)
    if reader.is_encrypted:
        try:
            if not reader.decrypt(""):
                return skipped("password-protected PDF")
        except (FileNotDecryptedError, NotImplementedError):
            return skipped("password-protected PDF")
    buffer = PieceBuffer(max_chars)
    for number, page in enumerate(reader.pages, start=1):
        if buffer.full:
            buffer.truncated = True
            break
        text = page.extract_text() or ""
        buffer.extend(paragraphs(text.split("\n"), page=number))
    return buffer.result("no text in this PDF (scanned images need OCR)")
