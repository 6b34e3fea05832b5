"""Text extraction behind one interface: ``extract(path, max_chars) -> Extraction``.

One module per format family; this module picks the family by file extension and turns every
exception into a ``failed`` result whose reason names the format and the error type only (no
file content). Runs on the index lane.
"""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path

from app.core.memory.extract import archive, books, html, mail, markup, office, pdf, sheets, text
from app.core.memory.extract.base import (
    EXTRACTED,
    FAILED,
    SKIPPED,
    Extraction,
    Family,
    Piece,
    failed,
    skipped,
)

log = logging.getLogger(__name__)

__all__ = ["EXTRACTED", "FAILED", "SKIPPED", "Extraction", "Piece", "extract", "family_of",
           "supported_extensions"]

FAMILIES: tuple[Family, ...] = (
    Family("text", text.TEXT_EXTENSIONS, text.extract_text),
    Family("markdown", markup.MARKDOWN_EXTENSIONS, markup.extract_markdown),
    Family("rest", markup.REST_EXTENSIONS, markup.extract_rest),
    Family("org", markup.ORG_EXTENSIONS, markup.extract_org),
    Family("html", html.HTML_EXTENSIONS, html.extract_html),
    Family("pdf", pdf.PDF_EXTENSIONS, pdf.extract_pdf),
    Family("docx", office.DOCX_EXTENSIONS, office.extract_docx),
    Family("pptx", office.PPTX_EXTENSIONS, office.extract_pptx),
    Family("odt", office.ODT_EXTENSIONS, office.extract_odt),
    Family("xlsx", sheets.XLSX_EXTENSIONS, sheets.extract_xlsx),
    Family("csv", sheets.CSV_EXTENSIONS, sheets.extract_csv),
    Family("epub", books.EPUB_EXTENSIONS, books.extract_epub),
    Family("eml", mail.EML_EXTENSIONS, mail.extract_eml),
    Family("mbox", mail.MBOX_EXTENSIONS, mail.extract_mbox),
)
_BY_EXTENSION = {ext: family for family in FAMILIES for ext in family.extensions}


def supported_extensions() -> frozenset[str]:
    return frozenset(_BY_EXTENSION)


def family_of(path: Path) -> Family | None:
    return _BY_EXTENSION.get(path.suffix.lower())


def extract(path: Path, max_chars: int) -> Extraction:
    """Extract ``path``; never raises. ``max_chars`` caps the text kept from one file."""
    family = family_of(path)
    if family is None:
        return skipped("unsupported file type")
    try:
        if not path.is_file():
            return skipped("not a regular file")
        if path.stat().st_size == 0:
            return skipped("empty file")
        if family.name in _ZIP_FAMILIES:
            if _starts_with(path, _OLE_MAGIC):
                # Office puts password-protected DOCX/XLSX/PPTX in an OLE container.
                return skipped("encrypted or password-protected document (or an old binary "
                               "format)")
            # Zip bombs: text parts inflating past the stated limits are refused up front.
            archive.check(path, family.name)
        return family.extract(path, max_chars)
    except archive.PackageTooLarge as exc:
        return failed(str(exc))
    except (zipfile.BadZipFile, KeyError) as exc:
        return failed(f"damaged {family.name} file ({type(exc).__name__})")
    except PermissionError:
        return failed("permission denied")
    except MemoryError:
        return failed(f"{family.name} file too large to read")
    except RecursionError:
        return failed(f"{family.name} file nested too deeply")
    except Exception as exc:
        text_reason = _encrypted_reason(exc)
        if text_reason:
            return skipped(text_reason)
        log.debug("extractor %s failed: %s", family.name, type(exc).__name__)
        return failed(f"could not read this {family.name} file ({type(exc).__name__})")


_ZIP_FAMILIES = frozenset(("docx", "pptx", "xlsx", "odt", "epub"))
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _starts_with(path: Path, magic: bytes) -> bool:
    with path.open("rb") as handle:
        return handle.read(len(magic)) == magic


def _encrypted_reason(exc: Exception) -> str:
    name = type(exc).__name__.lower()
    message = str(exc).lower()[:200]
    if "encrypt" in name or "password" in name or "encrypted" in message:
        return "encrypted or password-protected document"
    return ""


def result_summary(result: Extraction) -> str:
    """A log-safe one-liner: status, piece count, chars (never the text)."""
    if result.status == EXTRACTED:
        return f"{EXTRACTED}: {len(result.pieces)} pieces, {result.chars} chars"
    return f"{result.status}: {result.reason}"
