"""Plain text and source code: encoding detection, binary refusal, paragraphs with line ranges.

Reads at most ``4 * max_chars`` bytes (UTF-8 needs at most four bytes a character), so a huge
log file costs bounded memory; the rest of such a file is left out and the result says so.

Decoding, in order: a BOM (UTF-8, UTF-16, UTF-32); NUL bytes in the first 64 KiB mean
binary unless they are the high bytes of BOM-less UTF-16; strict UTF-8 over everything read;
UTF-8 with replacement when its valid multi-byte characters outnumber its bad bytes (a UTF-8
file with a stray byte); otherwise charset-normalizer on a sample that holds the first
non-ASCII bytes, its candidates ranked by how well one language's alphabet covers the letters
they decode to (``_alphabet_fit``), with cp1252 preferred among equals. Only a read that was
cut at the byte limit loses a partial character at its end.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from app.core.memory.extract.base import Extraction, Piece, PieceBuffer, skipped

SAMPLE_BYTES = 64 * 1024
TEXT_EXTENSIONS = (
    ".txt", ".text", ".log", ".py", ".pyi", ".js", ".mjs", ".ts", ".tsx", ".jsx", ".java",
    ".c", ".h", ".cpp", ".hpp", ".cc", ".cs", ".go", ".rs", ".rb", ".php", ".sh", ".bash",
    ".zsh", ".fish", ".ps1", ".sql", ".json", ".yaml", ".yml", ".toml", ".ini", ".cfg",
    ".conf", ".xml", ".css", ".scss", ".lua", ".pl", ".r", ".swift", ".kt", ".scala", ".clj",
    ".ex", ".exs", ".erl", ".hs", ".ml", ".vim", ".tex", ".bib", ".srt", ".vtt", ".el",
)
# Longest first: the UTF-32 LE BOM starts with the UTF-16 LE one.
_BOM_CODECS = ((b"\x00\x00\xfe\xff", "utf-32-be"), (b"\xff\xfe\x00\x00", "utf-32-le"),
               (b"\xfe\xff", "utf-16-be"), (b"\xff\xfe", "utf-16-le"))
_ASCII = bytes(range(128))
_HIGH_BYTE = re.compile(rb"[\x80-\xff]")
# BOM-less UTF-16: NULs in at least this share (and number) of the high bytes (spaces,
# newlines, ASCII), in at most this share of the low bytes, and the text this printable.
_UTF16_HIGH_NULS = 0.1
_UTF16_MIN_NULS = 8
_UTF16_LOW_NULS = 0.01
_UTF16_PRINTABLE = 0.95

# The accented letters of the languages written in the legacy 8-bit code pages (lower case).
# A wrong code page turns a text's letters into letters no single language uses together
# (French "très" read as cp1257 gives "trčs"); charset-normalizer's chaos and coherence
# scores often cannot tell them apart, a language's alphabet can.
_CYRILLIC = "абвгдежзийклмнопрстуфхцчшщъыьэюя"
_ALPHABETS = tuple(frozenset(letters) for letters in (
    "àâæçéèêëîïôœùûüÿ",  # French
    "äöüß",  # German
    "áéíñóúü",  # Spanish
    "áâãàçéêíóôõú",  # Portuguese
    "àèéìíîòóù",  # Italian
    "àçèéíïòóúü",  # Catalan
    "áäéèëíïóöúü",  # Dutch
    "æøåéó",  # Danish, Norwegian
    "åäöé",  # Swedish
    "äöåšž",  # Finnish
    "áðéíóúýþæö",  # Icelandic
    "ąćęłńóśźż",  # Polish
    "áčďéěíňóřšťúůýž",  # Czech
    "áäčďéíĺľňóôŕšťúýž",  # Slovak
    "áéíóöőúüű",  # Hungarian
    "ăâîșțşţ",  # Romanian
    "čćđšž",  # Croatian, Slovene, Bosnian
    "çğıöşüâîû",  # Turkish
    "äõöüšž",  # Estonian
    "āčēģīķļņšūž",  # Latvian
    "ąčęėįšųūž",  # Lithuanian
    "çë",  # Albanian
    "αβγδεζηθικλμνξοπρστυφχψωςάέήίόύώϊϋΐΰ",  # Greek
    _CYRILLIC + "ё",  # Russian
    _CYRILLIC + "ґєії",  # Ukrainian
    _CYRILLIC + "ёіў",  # Belarusian
    _CYRILLIC + "ђјљњћџѓќѕ",  # Serbian, Macedonian
))


class NotText(Exception):
    """The bytes are binary or in no encoding we can recognise."""


def decode_bytes(data: bytes, cut: bool = False) -> str:
    """Decode ``data``; NotText for binary. ``cut``: the bytes end at a read limit, so a
    partial character at the very end is dropped (never otherwise)."""
    for bom, codec in _BOM_CODECS:
        if data.startswith(bom):
            return _trim_cut(data[len(bom):].decode(codec, errors="replace"), cut)
    utf8_bom = data.startswith(b"\xef\xbb\xbf")
    if not utf8_bom and b"\x00" in data[:SAMPLE_BYTES]:
        text = _bomless_utf16(data, cut)
        if text is None:
            raise NotText("binary content")
        return text
    body = data[3:] if utf8_bom else data
    text = _strict_utf8(body, cut)
    if text is not None:
        return text
    text = _mostly_utf8(body)
    if text is not None:
        return _trim_cut(text, cut)
    encoding = _guess_encoding(_sample(data))
    if encoding is None:
        raise NotText("binary content or unknown text encoding")
    return _trim_cut(data.decode(encoding, errors="replace"), cut)


def _trim_cut(text: str, cut: bool) -> str:
    return text[:-1] if cut and text.endswith("\ufffd") else text


def _strict_utf8(data: bytes, cut: bool) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if cut and exc.end == len(data) and exc.reason == "unexpected end of data":
            try:  # a character cut at the read limit
                return data[: exc.start].decode("utf-8")
            except UnicodeDecodeError:
                return None
        return None


def _mostly_utf8(data: bytes) -> str | None:
    """UTF-8 with replacement when its valid multi-byte characters outnumber its bad bytes."""
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd") - data.count("\ufffd".encode())
    high_bytes = len(data.translate(None, _ASCII))
    non_ascii = len(text) - (len(data) - high_bytes)  # characters decoded from high bytes
    return text if non_ascii - bad > bad else None


def _bomless_utf16(data: bytes, cut: bool) -> str | None:
    """UTF-16 without a BOM: NULs in the high byte of many characters (every ASCII one) and
    (almost) never in the low byte, and the sample decodes to printable text; None for
    anything else (binary). Text without ASCII characters (e.g. Chinese) is not recognised."""
    sample = data[: SAMPLE_BYTES - SAMPLE_BYTES % 2]
    sample = sample[: len(sample) - len(sample) % 2]
    units = len(sample) // 2
    if units < 2:
        return None
    even_nuls, odd_nuls = sample[0::2].count(0), sample[1::2].count(0)
    for codec, high_nuls, low_nuls in (("utf-16-le", odd_nuls, even_nuls),
                                        ("utf-16-be", even_nuls, odd_nuls)):
        if high_nuls < max(_UTF16_MIN_NULS, units * _UTF16_HIGH_NULS) or (
                low_nuls > units * _UTF16_LOW_NULS):
            continue
        try:  # the last unit may be half of a surrogate pair cut by the sample
            decoded = sample[: len(sample) - 2].decode(codec)
        except UnicodeDecodeError:
            continue
        printable = sum(1 for ch in decoded if ch.isprintable() or ch in "\t\n\r\f")
        if "\x00" not in decoded and printable >= _UTF16_PRINTABLE * len(decoded):
            whole = data[: len(data) - len(data) % 2]
            return _trim_cut(whole.decode(codec, errors="replace"), cut)
    return None


def _sample(data: bytes) -> bytes:
    """Up to 64 KiB for the encoding guess, from the line of the first non-ASCII byte: a guess
    from leading ASCII alone would be applied to bytes it never saw."""
    head = data[:SAMPLE_BYTES]
    if len(data) <= SAMPLE_BYTES or not head.isascii():
        return head
    first = _HIGH_BYTE.search(data)
    start = 0 if first is None else data.rfind(b"\n", 0, first.start()) + 1
    return data[start : start + SAMPLE_BYTES]


def _guess_encoding(sample: bytes) -> str | None:
    """charset-normalizer's candidates, best alphabet fit first, then cp1252 (the most
    widespread legacy code page), then charset-normalizer's own order."""
    from charset_normalizer import from_bytes

    ranked: list[tuple[float, bool, int, str]] = []
    for rank, match in enumerate(from_bytes(sample)):
        if match.encoding is None:
            continue
        western = "cp1252" in match.could_be_from_charset  # decodes exactly as cp1252 does
        fit = _alphabet_fit(str(match))
        ranked.append((-fit, not western, rank, "cp1252" if western else match.encoding))
    return min(ranked)[3] if ranked else None


def _alphabet_fit(text: str) -> float:
    """The share of the Latin, Greek and Cyrillic accented letters in ``text`` that one
    language's alphabet holds (1.0 when there are none: nothing to judge by)."""
    counts: dict[str, int] = {}
    for ch in text:
        code = ord(ch)
        if (0xC0 <= code <= 0x24F or 0x370 <= code <= 0x4FF) and ch.isalpha():
            letter = ch.lower()
            counts[letter] = counts.get(letter, 0) + 1
    total = sum(counts.values())
    if not total:
        return 1.0
    return max(sum(n for c, n in counts.items() if c in abc) for abc in _ALPHABETS) / total


def read_text(path: Path, max_chars: int) -> tuple[str, bool]:
    """The file's text (bounded) and whether it was cut; NotText for binary files."""
    limit = max(4 * max_chars, 16)
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    truncated = len(data) > limit
    text = decode_bytes(data[:limit], cut=truncated)
    if len(text) > max_chars:
        text, truncated = text[:max_chars], True
    return text.replace("\r\n", "\n").replace("\r", "\n"), truncated


def paragraphs(
    lines: list[str],
    first_line: int = 1,
    heading: tuple[str, ...] = (),
    page: int | None = None,
) -> Iterator[Piece]:
    """Blank-line separated blocks of ``lines`` as pieces with 1-based line ranges."""
    start: int | None = None
    for index, line in enumerate([*lines, ""]):
        if line.strip():
            if start is None:
                start = index
        elif start is not None:
            yield Piece(
                "\n".join(lines[start:index]).strip("\n"),
                page=page,
                heading=heading,
                line_start=first_line + start,
                line_end=first_line + index - 1,
            )
            start = None


def extract_text(path: Path, max_chars: int) -> Extraction:
    try:
        text, truncated = read_text(path, max_chars)
    except NotText as exc:
        return skipped(str(exc))
    buffer = PieceBuffer(max_chars)
    buffer.extend(paragraphs(text.split("\n")))
    buffer.truncated = buffer.truncated or truncated
    return buffer.result("no text found")
