"""The chroma indexes: rotated persistent index (same neighbours, rotated bytes), in-memory
collections that are independent and rebuilt from rows."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from app.core.memory.vectors import EphemeralVectors, VectorIndex


def unit_rows(count: int, dim: int, seed: int) -> np.ndarray:
    rows = np.random.default_rng(seed).normal(size=(count, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_rotation_keeps_neighbours_and_similarities(tmp_path: Path) -> None:
    rows = unit_rows(200, 48, 1)
    ids = [f"id{i}" for i in range(200)]
    index = VectorIndex(tmp_path / "vectors", os.urandom(32))
    try:
        index.add(ids, rows)
        query = rows[17] + 0.05 * unit_rows(1, 48, 2)[0]
        found = index.query(query, 5)
        exact = np.argsort(-(rows @ query))[:5]
        assert [i for i, _ in found] == [ids[j] for j in exact]
        norm = float(np.linalg.norm(query))
        assert abs(found[0][1] - float(rows[exact[0]] @ query) / norm) < 1e-4
        assert index.ids() == set(ids) and index.count() == 200
        index.delete(ids[:50])
        assert index.count() == 150
    finally:
        index.close()


def test_reopen_keeps_entries_and_reset_empties(tmp_path: Path) -> None:
    key = os.urandom(32)
    index = VectorIndex(tmp_path / "vectors", key)
    index.add(["a", "b"], unit_rows(2, 16, 3))
    assert index.open().created is True
    index.close()
    again = VectorIndex(tmp_path / "vectors", key)
    try:
        assert again.count() == 2 and again.created is False
        again.reset()
        assert again.count() == 0 and again.query(unit_rows(1, 16, 4)[0], 3) == []
    finally:
        again.close()


def test_ephemeral_collections_are_independent_and_rebuilt() -> None:
    rows = unit_rows(30, 24, 5)
    first = EphemeralVectors("conversations")
    second = EphemeralVectors("memories")
    try:
        assert first.rebuild((f"m{i}", rows[i]) for i in range(30)) == 30
        assert second.count() == 0
        assert first.query(rows[4], 1)[0][0] == "m4"
        assert first.rebuild([("only", rows[0])]) == 1
        assert first.ids() == {"only"}
    finally:
        first.close()
        second.close()


def test_query_asks_for_more_than_the_index_holds(tmp_path: Path) -> None:
    index = VectorIndex(tmp_path / "vectors", b"k" * 32)
    try:
        assert index.query(np.ones(8, dtype=np.float32), 5) == []
        rows = np.eye(3, 8, dtype=np.float32)
        index.add(["a", "b", "c"], rows)
        found = index.query(rows[1], 10)
        assert [i for i, _ in found][0] == "b" and len(found) == 3
        assert index.query(rows[1], 0) == []
    finally:
        index.close()


def damage(folder: Path) -> None:
    """Overwrite the head of chroma's database with random bytes ("file is not a database")."""
    with (folder / "chroma.sqlite3").open("r+b") as handle:
        handle.write(os.urandom(8192))


def test_a_damaged_folder_can_be_wiped_and_reopened_in_the_same_process(tmp_path: Path) -> None:
    # chromadb caches a system per folder, even one whose start failed: the reopen after
    # the wipe got that dead system ("'RustBindingsAPI' object has no attribute 'bindings'").
    key = os.urandom(32)
    index = VectorIndex(tmp_path / "vectors", key)
    index.add(["a", "b"], unit_rows(2, 16, 6))
    index.close()
    damage(tmp_path / "vectors")
    damaged = VectorIndex(tmp_path / "vectors", key)
    try:
        with pytest.raises(Exception, match="not a database"):
            damaged.count()
        damaged.wipe()
        assert damaged.count() == 0 and damaged.created is True
        damaged.add(["c"], unit_rows(1, 16, 7))
        assert damaged.ids() == {"c"}
    finally:
        damaged.close()
    again = VectorIndex(tmp_path / "vectors", key)
    try:
        assert again.ids() == {"c"}
    finally:
        again.close()
