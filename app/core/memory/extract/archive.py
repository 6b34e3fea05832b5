"""Zip packages (DOCX, PPTX, XLSX, ODT, EPUB) looked at before a library unpacks them.

The libraries read every part of a package into memory, so a small file can unpack to
gigabytes (a "zip bomb"). Parts are sorted into two kinds by name and first bytes:

* text parts (XML, XHTML, relationships: what carries the text) are unpacked and parsed
  whole, so they are limited: ``MAX_TEXT_PART_BYTES`` each, ``MAX_TEXT_BYTES`` together
  (ODT: ``MAX_ODT_TEXT_BYTES`` for both); beyond that the file is refused
  (``PackageTooLarge``, "... too large when unpacked");
* media (images, video, fonts, embedded files) are never needed for the text. Real
  documents do embed big media, so they are not refused: when they add up to more than
  ``MAX_MEDIA_PASSTHROUGH_BYTES``, the library is handed an in-memory copy of the package in
  which every media part is empty (``package_source``).

Sizes come from the zip's central directory; zipfile never returns more than a member's
declared size, and every read here also stops at the limit, so a lying header cannot
inflate past it. Parts a family's library streams (XLSX worksheets, openpyxl read-only) are
not counted. Runs on the index lane.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

MIB = 1024 * 1024
MAX_TEXT_PART_BYTES = 32 * MIB
MAX_TEXT_BYTES = 64 * MIB
MAX_MEDIA_PASSTHROUGH_BYTES = 16 * MIB
# odfpy builds a Python object per XML element (about 55 bytes of memory per byte of dense
# XML, against about 18 for lxml-based python-docx/python-pptx): ODT gets a lower limit.
MAX_ODT_TEXT_BYTES = 16 * MIB
MAX_MEMBERS = 20_000
_CHUNK = MIB

_TEXT_SUFFIXES = (".xml", ".rels", ".xhtml", ".xht", ".html", ".htm", ".opf", ".ncx")
_MEDIA_SUFFIXES = frozenset((
    ".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".svg", ".emf",
    ".wmf", ".ico", ".heic", ".mp4", ".m4v", ".mov", ".avi", ".wmv", ".mpg", ".mpeg",
    ".webm", ".mkv", ".mp3", ".m4a", ".wav", ".wma", ".ogg", ".oga", ".flac", ".aac",
    ".ttf", ".otf", ".woff", ".woff2", ".odttf", ".fntdata", ".bin", ".ole", ".pdf", ".zip",
    ".docx", ".xlsx", ".pptx", ".docm", ".xlsm", ".pptm", ".odt", ".ods", ".odp", ".css",
))
# Parts read as a stream (or not at all) by the family's library: not held in memory.
_STREAMED = {"xlsx": re.compile(r"^xl/(worksheets|pivotCache)/")}


class PackageTooLarge(Exception):
    """A package whose text parts unpack beyond the limits; the message is the reason."""


@dataclass(frozen=True)
class Inventory:
    """What a package holds: members by kind (last entry wins for a repeated name)."""

    text: tuple[zipfile.ZipInfo, ...]
    media: tuple[zipfile.ZipInfo, ...]
    streamed: tuple[zipfile.ZipInfo, ...]

    @property
    def media_bytes(self) -> int:
        return sum(info.file_size for info in self.media)

    @property
    def text_bytes(self) -> int:
        return sum(info.file_size for info in self.text)


def limits(family: str) -> tuple[int, int]:
    """(bytes per text part, bytes of text parts in all) for a family."""
    if family == "odt":
        return min(MAX_TEXT_PART_BYTES, MAX_ODT_TEXT_BYTES), MAX_ODT_TEXT_BYTES
    return MAX_TEXT_PART_BYTES, MAX_TEXT_BYTES


def _too_large(family: str) -> PackageTooLarge:
    part, total = limits(family)
    return PackageTooLarge(
        f"{family} file too large when unpacked (limit {part // MIB} MiB per text part, "
        f"{total // MIB} MiB in all)"
    )


def is_media(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    """Media by name; a name that says neither is sniffed: markup is text, the rest media."""
    name = info.filename.lower()
    if name.endswith(_TEXT_SUFFIXES) or name == "mimetype":
        return False
    suffix = name[name.rfind(".") :] if "." in name.rsplit("/", 1)[-1] else ""
    if suffix in _MEDIA_SUFFIXES:
        return True
    if info.file_size == 0:
        return False
    try:
        with zf.open(info) as member:
            head = member.read(64)
    except (RuntimeError, NotImplementedError, zipfile.BadZipFile, OSError, zlib.error):
        return True  # unreadable (encrypted, odd compression): the library cannot use it either
    head = head.lstrip(b"\xef\xbb\xbf").lstrip()
    return not head.startswith(b"<")


def inspect(zf: zipfile.ZipFile, family: str) -> Inventory:
    """Sort the members and apply the limits on declared sizes; raises ``PackageTooLarge``."""
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise PackageTooLarge(f"{family} file has too many parts (over {MAX_MEMBERS:,})")
    latest = {info.filename: info for info in infos}
    streamed_pattern = _STREAMED.get(family)
    part_limit, total_limit = limits(family)
    text: list[zipfile.ZipInfo] = []
    media: list[zipfile.ZipInfo] = []
    streamed: list[zipfile.ZipInfo] = []
    for info in latest.values():
        if info.is_dir():
            continue
        if streamed_pattern is not None and streamed_pattern.match(info.filename):
            streamed.append(info)
        elif is_media(zf, info):
            media.append(info)
        elif info.file_size > part_limit:
            raise _too_large(family)
        else:
            text.append(info)
    inventory = Inventory(tuple(text), tuple(media), tuple(streamed))
    if inventory.text_bytes > total_limit:
        raise _too_large(family)
    return inventory


def check(path: Path, family: str) -> None:
    """Refuse a package whose text parts are too large (raises ``PackageTooLarge``)."""
    with zipfile.ZipFile(path) as zf:
        inspect(zf, family)


class TextBudget:
    """Reads text parts while keeping the package within the limits, whatever the headers say."""

    def __init__(self, family: str):
        self.family = family
        self.used = 0

    def chunks(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterator[bytes]:
        part_limit, total_limit = limits(self.family)
        limit = min(part_limit, total_limit - self.used)
        size = 0
        with zf.open(info) as member:
            while chunk := member.read(_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise _too_large(self.family)
                yield chunk
        self.used += size

    def read(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
        return b"".join(self.chunks(zf, info))


def _chunks(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterator[bytes]:
    with zf.open(info) as member:
        while chunk := member.read(_CHUNK):
            yield chunk


def package_source(path: Path, family: str) -> str | io.BytesIO:
    """What to hand the library: the path itself, or (when media add up to more than
    ``MAX_MEDIA_PASSTHROUGH_BYTES``) an in-memory copy whose media parts are empty."""
    with zipfile.ZipFile(path) as zf:
        inventory = inspect(zf, family)
        if inventory.media_bytes <= MAX_MEDIA_PASSTHROUGH_BYTES:
            return str(path)
        return _without_media(zf, inventory, family)


def _without_media(zf: zipfile.ZipFile, inventory: Inventory, family: str) -> io.BytesIO:
    budget = TextBudget(family)
    media = {info.filename for info in inventory.media}
    text = {info.filename for info in inventory.text}
    keep = text | media | {info.filename for info in inventory.streamed}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as copy:
        for info in {i.filename: i for i in zf.infolist()}.values():
            if info.filename not in keep:
                continue
            entry = zipfile.ZipInfo(info.filename, info.date_time)
            if info.filename in media or info.filename == "mimetype":
                entry.compress_type = zipfile.ZIP_STORED
            else:
                entry.compress_type = zipfile.ZIP_DEFLATED
            if info.filename in media:
                copy.writestr(entry, b"")
                continue
            streamed = info.filename not in text
            with copy.open(entry, "w", force_zip64=info.file_size > 2**30) as sink:
                for chunk in _chunks(zf, info) if streamed else budget.chunks(zf, info):
                    sink.write(chunk)
    out.seek(0)
    return out
