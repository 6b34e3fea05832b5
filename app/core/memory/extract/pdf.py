"""PDF: text per page with pypdf, page numbers kept. Encrypted files that need a password are
skipped (an empty user password is tried, as viewers do).

Pages are read one at a time from the open file: pypdf given a path reads the whole file into
a ``BytesIO`` first, given a file object it seeks and reads only the objects it needs (the
cross-reference table, then each page's objects). So a 1,000-page file, or one padded with a
large image, costs one page of memory plus the text kept under the cap. (A file whose
cross-reference table is damaged is still scanned whole by pypdf's recovery.)"""

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
    with path.open("rb") as handle:  # open for the whole extraction: pages are read lazily
        reader = PdfReader(handle, strict=False)
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
