"""`familiar search` and `familiar bench retrieval` end to end (in-process through
``app.cli.main`` to load the model once; one real subprocess for the error contract)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

from app.cli import main
from app.core.profile.vault import Vault
from app.runtime import Runtime

PASSPHRASE = "memory cli test"


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    code = main([*argv, "--json"])
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1, out
    return code, json.loads(out[0])


@pytest.fixture
def indexed(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    return index_notes(home, tmp_path / "notes", tmp_path / "notes", monkeypatch)


def index_notes(home: Path, real: Path, watched: Path,
                monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Notes written in ``real``, watched (and indexed) through ``watched``: the same folder,
    or a symlink to it."""
    monkeypatch.setenv("FAMILIAR_PASSPHRASE", PASSPHRASE)
    profile, _ = Vault.create(home, passphrase=PASSPHRASE)
    (real / "travel").mkdir(parents=True)
    files = {
        "visa": watched / "travel" / "visa.md",
        "pasta": watched / "pasta.txt",
        "old": watched / "old.md",
    }
    files["visa"].write_text("# Japan trip\n\n## Paperwork\n\nApply for the visa six weeks "
                             "before the flight to Tokyo.\n", encoding="utf-8")
    files["pasta"].write_text("Boil the pasta in salted water for nine minutes.\n",
                              encoding="utf-8")
    files["old"].write_text("# Archive\n\nAn old note about the visa office hours.\n",
                            encoding="utf-8")
    os.utime(files["old"], (1_500_000_000, 1_500_000_000))
    runtime = Runtime.start(profile)
    try:
        runtime.indexer.library.add(watched)  # --folder must lie in a watched folder
        outcomes = runtime.lanes.index.run(
            lambda state: runtime.memory.ingestor.ingest([(p, None) for p in files.values()],
                                                         state))
        assert all(o.status == "indexed" for o in outcomes)
    finally:
        runtime.close()
    return files


def test_search_json_hits_and_filters(indexed: dict[str, Path],
                                      capsys: pytest.CaptureFixture[str]) -> None:
    code, payload = run_json(capsys, "search", "when should I apply for the visa", "-k", "2")
    assert code == 0
    first = payload["hits"][0]
    assert first["path"] == str(indexed["visa"])
    assert first["heading"] == "Japan trip > Paperwork"
    assert "**visa**" in first["snippet"]
    assert len(payload["hits"]) == 2
    code, payload = run_json(capsys, "search", "visa", "--type", "txt")
    assert [h["path"] for h in payload["hits"]] == [str(indexed["pasta"])] or payload["hits"] == []
    code, payload = run_json(capsys, "search", "visa", "--since", "2020-01-01")
    assert str(indexed["old"]) not in {h["path"] for h in payload["hits"]}
    code, payload = run_json(capsys, "search", "visa", "--folder",
                             str(indexed["visa"].parent))
    assert {h["path"] for h in payload["hits"]} == {str(indexed["visa"])}


def test_search_filter_values_are_checked(indexed: dict[str, Path], tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    code, payload = run_json(capsys, "search", "visa", "--type", "zzz")
    assert code == 2 and "--type 'zzz'" in payload["error"]
    assert " md," in payload["error"] and " pdf," in payload["error"]
    code, payload = run_json(capsys, "search", "visa", "--type", ".")
    assert code == 2 and "--type '.'" in payload["error"]
    code, payload = run_json(capsys, "search", "visa", "--folder", "/does/not/exist")
    assert code == 2 and payload["error"] == "--folder /does/not/exist: no such folder"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code, payload = run_json(capsys, "search", "visa", "--folder", str(elsewhere))
    assert code == 2 and "not inside a watched folder" in payload["error"]
    code, payload = run_json(capsys, "search", "visa", "--folder", str(indexed["pasta"]))
    assert code == 2 and "not a folder" in payload["error"]
    # A supported type, or a watched folder, with nothing in it is still an empty success.
    code, payload = run_json(capsys, "search", "visa", "--type", "pdf")
    assert code == 0 and payload["hits"] == []
    empty = indexed["pasta"].parent / "empty"
    empty.mkdir()
    code, payload = run_json(capsys, "search", "visa", "--folder", str(empty))
    assert code == 0 and payload["hits"] == []
    # A folder holding the watched one narrows nothing away; types are case-blind.
    code, payload = run_json(capsys, "search", "visa", "--folder", str(tmp_path), "--type", ".MD")
    assert code == 0
    assert {h["path"] for h in payload["hits"]} == {str(indexed["visa"]), str(indexed["old"])}


def test_search_folder_of_an_unmounted_library_keeps_its_index(
        indexed: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    notes = indexed["pasta"].parent
    notes.rename(notes.with_name("unplugged"))  # as a drive that is not mounted
    code, payload = run_json(capsys, "search", "visa", "--folder", str(notes / "travel"))
    assert code == 0, payload
    assert {h["path"] for h in payload["hits"]} == {str(indexed["visa"])}


def test_search_folder_named_through_a_symlink_or_its_real_path(
        home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The index names files through the watched folder as it was added (here a link): the
    real path, or another link to the same place, selects the same files."""
    real = tmp_path / "disk" / "notes"
    link = tmp_path / "notes"
    real.parent.mkdir()
    real.mkdir()
    link.symlink_to(real, target_is_directory=True)
    files = index_notes(home, real, link, monkeypatch)
    shortcut = tmp_path / "trip"
    shortcut.symlink_to(real / "travel", target_is_directory=True)
    for given in (link / "travel", real / "travel", shortcut):
        code, payload = run_json(capsys, "search", "visa", "--folder", str(given))
        assert code == 0, payload
        assert {h["path"] for h in payload["hits"]} == {str(files["visa"])}, given
    # The real folder holding the watched one: everything, named through the link.
    code, payload = run_json(capsys, "search", "visa", "--folder", str(real.parent),
                             "--type", "md")
    assert code == 0
    assert {h["path"] for h in payload["hits"]} == {str(files["visa"]), str(files["old"])}


def test_search_folder_holding_several_watched_folders_through_links(
        home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A real folder that holds two watched folders, each watched through its own link:
    --folder gives the files of both, named through their links."""
    monkeypatch.setenv("FAMILIAR_PASSPHRASE", PASSPHRASE)
    profile, _ = Vault.create(home, passphrase=PASSPHRASE)
    disk = tmp_path / "disk"
    files = []
    for name, text in (("work", "The visa interview is on Monday."),
                       ("home", "Renew the visa photo at the pharmacy.")):
        (disk / name).mkdir(parents=True)
        (disk / name / "note.md").write_text(f"# {name}\n\n{text}\n", encoding="utf-8")
        link = tmp_path / f"{name}-link"
        link.symlink_to(disk / name, target_is_directory=True)
        files.append(link / "note.md")
    outside = tmp_path / "other"
    outside.mkdir()
    files.append(outside / "note.md")
    files[-1].write_text("# other\n\nThe visa office is closed.\n", encoding="utf-8")
    runtime = Runtime.start(profile)
    try:
        for folder in (tmp_path / "work-link", tmp_path / "home-link", outside):
            runtime.indexer.library.add(folder)
        outcomes = runtime.lanes.index.run(
            lambda state: runtime.memory.ingestor.ingest([(p, None) for p in files], state))
        assert all(o.status == "indexed" for o in outcomes)
    finally:
        runtime.close()
    code, payload = run_json(capsys, "search", "visa", "--folder", str(disk))
    assert code == 0, payload
    assert {h["path"] for h in payload["hits"]} == {str(files[0]), str(files[1])}
    code, payload = run_json(capsys, "search", "visa", "--folder", str(disk / "home"))
    assert code == 0, payload
    assert {h["path"] for h in payload["hits"]} == {str(files[1])}


def test_search_text_output(indexed: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "pasta water"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(" 1. " + str(indexed["pasta"]))


def test_search_bad_input(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, payload = run_json(capsys, "search", "x", "--since", "last tuesday")
    assert code != 0 and "--since" in payload["error"]
    code, payload = run_json(capsys, "search", "x", "-k", "0")
    assert code != 0 and "-k" in payload["error"]


def test_search_error_is_one_line_in_a_subprocess(home: Path) -> None:
    from tests.integration.cli import run

    done = run(home, "search", "  ", "--json", timeout=120)
    assert done.returncode != 0, done.stderr[-500:]
    assert json.loads(done.stdout.strip())["error"] == "the query is empty"
    assert done.stderr.strip().count("\n") == 0


def write_beir(folder: Path) -> Path:
    docs = [
        ("d1", "Volcanoes", "Magma rises through the crust and erupts as lava."),
        ("d2", "Glaciers", "Slow rivers of ice carve valleys over millennia."),
        ("d3", "Coral reefs", "Reefs are built by colonies of tiny animals in warm seas."),
        ("d4", "Deserts", "Little rain falls; dunes move with the wind."),
        ("d5", "Rainforests", "Dense canopies shelter most of the world's species."),
    ]
    folder.mkdir()
    with (folder / "corpus.jsonl").open("w") as handle:
        for doc_id, title, text in docs:
            handle.write(json.dumps({"_id": doc_id, "title": title, "text": text}) + "\n")
    queries = [("q1", "molten rock erupting"), ("q2", "ice carving valleys"),
               ("q3", "where do most species live")]
    with (folder / "queries.jsonl").open("w") as handle:
        for qid, text in queries:
            handle.write(json.dumps({"_id": qid, "text": text}) + "\n")
    (folder / "qrels").mkdir()
    (folder / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\nq3\td5\t1\n")
    return folder


def test_bench_retrieval_on_a_tiny_beir_folder(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    dataset = write_beir(tmp_path / "tiny")
    code, payload = run_json(capsys, "bench", "retrieval", "--dataset", str(dataset),
                             "--pad-to", "40")
    assert code == 0
    assert payload["padded"]["chunks"] == 40 and payload["padded"]["ann"] == 40
    assert payload["padded"][payload["fusion"]]["p95_ms"] > 0
    for app_timing in (payload["app"], payload["padded"]["app"]):
        assert app_timing["k"] == 10 and app_timing["p95_ms"] >= app_timing["p50_ms"] > 0
    for key in ("ndcg@10", "recall@100", "p50_ms", "p95_ms"):
        assert key in payload and key in payload["dense"] and key in payload["bm25"]
    assert payload["docs"] == 5 and payload["queries"] == 3
    assert payload["files"] == {"indexed": 5}
    assert payload["ndcg@10"] > 0.8 and payload["recall@100"] == 1.0
    assert payload["p95_ms"] >= payload["p50_ms"] > 0


def test_bench_retrieval_keeps_the_workdir_and_leaves_no_temporary_folder(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    dataset = write_beir(tmp_path / "tiny")
    temp_root = tmp_path / "tmp"
    temp_root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp_root))
    workdir = tmp_path / "work"
    argv = ("bench", "retrieval", "--dataset", str(dataset), "--workdir", str(workdir))
    code, first = run_json(capsys, *argv)
    assert code == 0 and first["files"] == {"indexed": 5}
    code, again = run_json(capsys, *argv)
    assert code == 0 and again["files"] == {"unchanged": 5}  # the kept profile is reused
    assert again["ndcg@10"] == first["ndcg@10"]
    assert list(temp_root.iterdir()) == []
    code, _ = run_json(capsys, "bench", "retrieval", "--dataset", str(dataset))
    assert code == 0 and list(temp_root.iterdir()) == []


def test_bench_retrieval_bad_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, payload = run_json(capsys, "bench", "retrieval", "--dataset", str(tmp_path))
    assert code != 0 and "BEIR" in payload["error"]
