"""The paraphrase sets in assets/eval: well-formed, judged against notes that exist, and the
tuning sets' notes kept apart from those of the sets that are only read off."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.core.memory import evaluation
from tests.fixtures.shared_data import TIL

EVAL = Path(__file__).resolve().parents[3] / "assets" / "eval"
SETS = sorted(p.name for p in EVAL.iterdir() if (p / "qrels" / "test.tsv").is_file())
CHECK_ONLY = {"til-paraphrase", "til-questions"}
TUNING = {"til-paraphrase-tune", "til-paraphrase-hard", "til-paraphrase-train"}


def relevant(name: str) -> set[str]:
    data = evaluation.load_queries(EVAL / name, "test")
    return {doc for judged in data.qrels.values() for doc, score in judged.items() if score > 0}


def test_every_set_is_listed() -> None:
    assert set(SETS) == CHECK_ONLY | TUNING


@pytest.mark.parametrize("name", SETS)
def test_set_is_well_formed(name: str) -> None:
    lines = (EVAL / name / "queries.jsonl").read_text(encoding="utf-8").splitlines()
    ids = [json.loads(line)["_id"] for line in lines if line.strip()]
    assert len(ids) == len(set(ids))
    data = evaluation.load_queries(EVAL / name, "test")
    assert set(data.queries) == set(ids)  # every question is judged
    for query_id, judged in data.qrels.items():
        assert any(score > 0 for score in judged.values()), query_id
        assert data.queries[query_id].strip()
    assert (EVAL / name / "README.md").is_file()


@pytest.mark.skipif(not TIL.is_dir(), reason=f"the notes corpus is not at {TIL}")
@pytest.mark.parametrize("name", SETS)
def test_judged_notes_exist(name: str) -> None:
    data = evaluation.load_queries(EVAL / name, "test")
    judged = {doc for docs in data.qrels.values() for doc in docs}
    assert judged and all((TIL / doc).is_file() for doc in judged)


def test_tuning_sets_ask_about_other_notes() -> None:
    read_off = set().union(*(relevant(name) for name in CHECK_ONLY))
    seen: set[str] = set()
    for name in sorted(TUNING):
        notes = relevant(name)
        assert not notes & read_off, name
        assert not notes & seen, name
        seen |= notes
