"""Rules and defaults: what a person expects to be left out, gitignore layering, sniffing."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.indexing.library import Folder
from app.core.indexing.reconcile import RuleTree, walk
from app.core.indexing.rules import Rules, check_pattern, sniff_binary
from tests.fixtures.indexing import write


def folder_at(path: Path, excludes: tuple[str, ...] = ()) -> Folder:
    return Folder(1, path, excludes, 0.0, "ok", None)


def walked(root: Path, rules: Rules) -> set[str]:
    tree = RuleTree(folder_at(root), rules)
    return {s.path.relative_to(root).as_posix() for s in walk(tree, root)}


@pytest.mark.parametrize("rel", [
    ".git/config.md", ".venv/lib/x.md", ".cache/a.md", ".hidden.md", "node_modules/p/readme.md",
    "build/out.md", "dist/x.txt", "pkg/__pycache__/m.txt", "a/b/target/x.md", "notes.md~",
    ".#notes.md", "x.swp", "proj.egg-info/PKG-INFO.txt",
])
def test_defaults_leave_out_what_a_person_expects(rel: str) -> None:
    rules = Rules.for_folder([], [])
    parts = rel.split("/")
    excluded = any(rules.excluded("/".join(parts[: i + 1]), is_dir=True) for i in range(len(parts) - 1))
    assert excluded or rules.excluded(rel, is_dir=False)


@pytest.mark.parametrize("rel", ["notes.md", "a/b/c.txt", "Builder.md", "docs/readme.rst"])
def test_defaults_keep_ordinary_files(rel: str) -> None:
    assert not Rules.for_folder([], []).excluded(rel, is_dir=False)


def test_user_patterns_win_and_can_reinclude(tmp_path: Path) -> None:
    root = tmp_path / "r"
    for rel in ["a.md", "b.log.md", "build/keep.md", "drafts/x.md", "sub/drafts/y.md"]:
        write(root / rel, "text")
    rules = Rules.for_folder(["drafts/"], ["*.log.md", "!build/"])
    assert walked(root, rules) == {"a.md", "build/keep.md"}


def test_nested_gitignore_files_apply_below_their_folder(tmp_path: Path) -> None:
    root = tmp_path / "r"
    write(root / ".gitignore", "secret*.md\n")
    write(root / "sub" / ".gitignore", "/local.md\n!secret-ok.md\n")
    for rel in ["a.md", "secret1.md", "sub/local.md", "sub/secret-ok.md", "sub/deeper/local.md",
                "other/local.md"]:
        write(root / rel, "text")
    assert walked(root, Rules.for_folder([], [])) == {
        "a.md", "sub/secret-ok.md", "sub/deeper/local.md", "other/local.md"}
    off = Rules.for_folder([], [], respect_gitignore=False)
    assert "secret1.md" in walked(root, off) and "sub/local.md" in walked(root, off)


def test_virtualenvs_and_caches_are_found_by_their_marker(tmp_path: Path) -> None:
    root = tmp_path / "r"
    write(root / "myenv" / "pyvenv.cfg", "home = /usr")
    write(root / "myenv" / "lib" / "doc.md", "text")
    write(root / "thumbs" / "CACHEDIR.TAG", "Signature: 8a477f597d28d172789f06886806bc55")
    write(root / "thumbs" / "x.txt", "text")
    write(root / "keep.md", "text")
    assert walked(root, Rules.for_folder([], [])) == {"keep.md"}
    tree = RuleTree(folder_at(root), Rules.for_folder([], []))
    assert tree.file_excluded(root / "myenv" / "lib" / "doc.md")
    assert not tree.file_excluded(root / "keep.md")


def test_only_formats_an_extractor_reads_are_candidates(tmp_path: Path) -> None:
    root = tmp_path / "r"
    for rel in ["photo.jpg", "song.mp3", "a.md", "b.txt", "c.pdf", "d.docx"]:
        write(root / rel, "x")
    assert walked(root, Rules.for_folder([], [])) == {"a.md", "b.txt", "c.pdf", "d.docx"}


def test_binary_sniffing(tmp_path: Path) -> None:
    assert sniff_binary(write(tmp_path / "bin.txt", "a\x00b"))
    assert not sniff_binary(write(tmp_path / "ok.txt", "plain text é"))
    utf16 = tmp_path / "u16.txt"
    utf16.write_bytes("hello".encode("utf-16"))
    assert not sniff_binary(utf16)
    pdf = tmp_path / "doc.pdf"
    pdf.write_bytes(b"%PDF-1.4\x00\x01binary")
    assert not sniff_binary(pdf)


def test_bad_patterns_are_refused() -> None:
    assert check_pattern("  *.log ") == "*.log"
    with pytest.raises(ValueError):
        check_pattern("   ")
    with pytest.raises(ValueError):
        check_pattern("# a comment")


def test_symlink_loops_end_and_each_folder_is_walked_once(tmp_path: Path) -> None:
    root = tmp_path / "r"
    write(root / "a" / "x.md", "text")
    (root / "a" / "loop").symlink_to(root, target_is_directory=True)
    (root / "again").symlink_to(root / "a", target_is_directory=True)
    (root / "dangling.md").symlink_to(root / "nowhere.md")
    found = walked(root, Rules.for_folder([], []))
    assert len(found) == 1 and found <= {"a/x.md", "again/x.md"}


def test_unclosed_bracket_is_refused_with_a_hint() -> None:
    import pytest

    from app.core.indexing.rules import check_pattern

    with pytest.raises(ValueError, match="unclosed"):
        check_pattern("[unclosed")
    assert check_pattern("*.[ch]") == "*.[ch]"
    assert check_pattern("\\[literal") == "\\[literal"
    assert check_pattern("a[!x]b") == "a[!x]b"
