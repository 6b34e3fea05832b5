"""Which files of a watched folder are indexed: gitignore-syntax rules, defaults, .gitignore files.

Rules are layered like git does it, later layers winning: the built-in defaults, then the
``.gitignore`` files found inside the folder (when ``respect_gitignore`` is on, deeper files
after shallower ones), then the user's global excludes, then the folder's own excludes. A
``!pattern`` in a later layer re-includes what an earlier one excluded, so a person can undo a
default (``!build/``). An excluded directory is pruned whole, as git does.

Pure functions and small immutable objects: safe to call from any thread.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pathspec

from app.core.memory.extract import family_of, supported_extensions

# What a person expects to be left alone: hidden files and folders (.git, .venv, .cache...),
# dependency and build outputs, caches, compiled files, editor and download leftovers.
DEFAULT_EXCLUDES: tuple[str, ...] = (
    ".*",
    "node_modules/",
    "bower_components/",
    "__pycache__/",
    "site-packages/",
    "venv/",
    "build/",
    "dist/",
    "target/",
    "*.egg-info/",
    "*.pyc",
    "*.pyo",
    "*.o",
    "*.obj",
    "*.a",
    "*.so",
    "*.dll",
    "*.dylib",
    "*.exe",
    "*.class",
    "*.jar",
    "*.iso",
    "*.dmg",
    "Thumbs.db",
    "desktop.ini",
    "*~",
    "*.swp",
    "*.swo",
    "*.tmp",
    "*.temp",
    "#*#",
    "*.part",
    "*.crdownload",
    "*.lock",
)

# A directory holding one of these names is a virtualenv or a cache (CACHEDIR.TAG is the
# standard cache marker): pruned whatever its name.
MARKER_FILES: frozenset[str] = frozenset({"pyvenv.cfg", "CACHEDIR.TAG"})

# Formats the extractors read that are binary by nature: never refused by the content sniffer.
BINARY_FAMILIES: frozenset[str] = frozenset({"pdf", "docx", "pptx", "odt", "xlsx", "epub"})

SNIFF_BYTES = 8192


def compile_patterns(patterns: Sequence[str]) -> pathspec.GitIgnoreSpec:
    """Compile gitignore lines; raises ValueError on a pattern git would not accept."""
    try:
        return pathspec.GitIgnoreSpec.from_lines(list(patterns))
    except Exception as exc:  # pathspec raises its own error types
        raise ValueError(f"not a valid gitignore pattern: {exc}") from exc


def check_pattern(pattern: str) -> str:
    """A single exclude pattern as the user typed it, validated; ValueError when unusable."""
    cleaned = pattern.strip()
    if not cleaned or cleaned.startswith("#"):
        raise ValueError(f"empty exclude pattern: {pattern!r}")
    if _unclosed_bracket(cleaned):
        # git's wildmatch treats such a pattern as matching nothing: almost surely a typo.
        raise ValueError(f"unclosed [ in exclude pattern {cleaned!r}; write \\[ for a literal [")
    compile_patterns([cleaned])
    return cleaned


def _unclosed_bracket(pattern: str) -> bool:
    i = 0
    while i < len(pattern):
        if pattern[i] == "\\":
            i += 2
            continue
        if pattern[i] == "[":
            close = pattern.find("]", i + 2 if pattern[i + 1 : i + 2] in ("!", "^") else i + 1)
            if close == -1:
                return True
            i = close
        i += 1
    return False


@dataclass(frozen=True)
class Layer:
    """One gitignore layer: patterns relative to ``base`` ("" = the folder root, else "a/b/")."""

    base: str
    spec: pathspec.GitIgnoreSpec


class Rules:
    """The layered rules of one folder. ``child`` adds a nested .gitignore for a subtree."""

    def __init__(self, head: tuple[Layer, ...], gitignores: tuple[Layer, ...], tail: tuple[Layer, ...],
                 respect_gitignore: bool):
        self._head = head
        self._gitignores = gitignores
        self._tail = tail
        self.respect_gitignore = respect_gitignore

    @classmethod
    def for_folder(cls, global_excludes: Sequence[str], folder_excludes: Sequence[str],
                   respect_gitignore: bool = True, defaults: Sequence[str] = DEFAULT_EXCLUDES) -> Rules:
        head = (Layer("", compile_patterns(defaults)),)
        tail = (Layer("", compile_patterns([*global_excludes, *folder_excludes])),)
        return cls(head, (), tail, respect_gitignore)

    def with_gitignore(self, rel_dir: str, text: str) -> Rules:
        """These rules plus a .gitignore found in ``rel_dir`` ("" or "a/b/")."""
        if not self.respect_gitignore:
            return self
        try:
            spec = compile_patterns(text.splitlines())
        except ValueError:
            return self  # a broken .gitignore is ignored, as git would mostly do
        if not len(spec):
            return self
        return Rules(self._head, (*self._gitignores, Layer(rel_dir, spec)), self._tail,
                     self.respect_gitignore)

    def excluded(self, rel: str, is_dir: bool) -> bool:
        """Is the path ``rel`` (relative to the folder, "/" separators) excluded?"""
        probe = rel + "/" if is_dir else rel
        verdict: bool | None = None
        for layer in (*self._head, *self._gitignores, *self._tail):
            if layer.base:
                if not probe.startswith(layer.base):
                    continue
                local = probe[len(layer.base):]
            else:
                local = probe
            include = layer.spec.check_file(local).include
            if include is not None:
                verdict = include
        return bool(verdict)


def read_gitignore(dir_path: str) -> str | None:
    """The text of ``dir_path/.gitignore``, or None when it cannot be read."""
    try:
        with open(os.path.join(dir_path, ".gitignore"), encoding="utf-8", errors="replace") as fh:
            return fh.read(256 * 1024)
    except OSError:
        return None


def sniff_binary(path: str | os.PathLike[str]) -> bool:
    """True when the file looks binary: a NUL byte in its first 8 KiB (what git and grep do).

    Document formats the extractors read (PDF, Office, EPUB) are never called binary here.
    Raises OSError when the file cannot be read."""
    family = family_of(Path(path))
    if family is None or family.name in BINARY_FAMILIES:
        return False
    with open(path, "rb") as fh:
        head = fh.read(SNIFF_BYTES)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False  # UTF-16 text has NULs by design
    return b"\x00" in head


def indexable_type(name: str) -> bool:
    """Does an extractor read files with this name's extension? Other files are not
    candidates at all (a photo folder does not fill the skipped list)."""
    return os.path.splitext(name)[1].lower() in _SUPPORTED


_SUPPORTED = supported_extensions()
