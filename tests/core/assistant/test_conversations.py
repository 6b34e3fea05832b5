from __future__ import annotations

from pathlib import Path

import pytest

from app.core.assistant.conversations import Citation, Conversations, NotFound
from app.core.profile.vault import UnlockedProfile, Vault
from tests.fixtures.canary import scan, text_patterns
from tests.fixtures.profiles import PASSPHRASE

CANARY = "okapi-canary-51d2 lighthouse"


def _chat(conversations: Conversations) -> int:
    cid = conversations.create().id
    conversations.add_message(cid, "user", f"What about {CANARY}?")
    conversations.add_message(
        cid, "assistant", f"It is about {CANARY} [1].", citations=[
            Citation(1, "file", "/home/me/notes/light.md", "Lights > North", "a **lighthouse**", 7),
            Citation(2, "memory", None, "memory", "likes lighthouses", None, cited=False),
        ])
    return cid


def test_create_list_rename_delete(unlocked: UnlockedProfile) -> None:
    c = Conversations(unlocked.store)
    a = c.create()
    b = c.create("Named")
    c.add_message(a.id, "user", "hello")  # a becomes the most recent
    assert [x.id for x in c.list()] == [a.id, b.id]
    c.rename(a.id, "  Renamed  ")
    assert c.get(a.id).title == "Renamed"
    c.set_auto_title(a.id, "auto")  # the user's title wins
    assert c.get(a.id).title == "Renamed"
    c.delete(a.id)
    assert [x.id for x in c.list()] == [b.id]
    assert c.messages(a.id) == []
    with pytest.raises(NotFound):
        c.rename(a.id, "x")


def test_search_and_export(unlocked: UnlockedProfile) -> None:
    c = Conversations(unlocked.store)
    cid = _chat(c)
    other = c.create("other").id
    c.add_message(other, "user", "unrelated words")
    hits = c.search("lighthouses")  # stemmed match
    assert [conv.id for conv, _ in hits] == [cid]
    assert "**" in hits[0][1]
    assert c.search("") == [] and c.search('"(*') == []
    md = c.export_markdown(cid)
    assert md.startswith("# Conversation") and "**You:**" in md and "**Familiar:**" in md
    assert "- [1] /home/me/notes/light.md, Lights > North" in md
    assert "memory" not in md.split("Sources:")[1]  # uncited sources are not listed


def test_feedback_is_stored(unlocked: UnlockedProfile) -> None:
    c = Conversations(unlocked.store)
    cid = _chat(c)
    answer = c.messages(cid)[1]
    c.set_feedback(answer.id, 1)
    c.mark_source(answer.id, 7, relevant=False, path="/home/me/notes/light.md")
    c.record_open(answer.id, 7)
    assert c.message(answer.id).feedback == 1
    kinds = [r[0] for r in unlocked.store.conn.execute(
        "SELECT kind FROM source_feedback ORDER BY id")]
    assert kinds == ["not_relevant", "opened"]
    with pytest.raises(ValueError):
        c.set_feedback(answer.id, 5)


def test_persists_across_lock_and_unlock_with_nothing_readable_on_disk(
    unlocked: UnlockedProfile,
) -> None:
    c = Conversations(unlocked.store)
    cid = _chat(c)
    before = c.messages(cid)
    home: Path = unlocked.home
    patterns = text_patterns(CANARY) + text_patterns("/home/me/notes/light.md")
    assert scan(home, patterns) == []
    unlocked.lock()
    assert scan(home, patterns) == []
    again = Vault.load(home).unlock_passphrase(PASSPHRASE)
    try:
        assert Conversations(again.store).messages(cid) == before
    finally:
        again.lock()
