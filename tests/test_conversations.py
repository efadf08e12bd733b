"""Conversations kept server-side (issue 12, item 2): a turn comes back exactly as it was asked,
ids are unguessable and checked, a browser lists only its own conversations."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from retrieval import ConversationStore, Settings
from retrieval.serve.conversations import MAX_TURNS, valid_id
from retrieval.serve.turn import Turn


@pytest.fixture(scope="module")
def answers(module_corpus_index, module_embedder):
    from retrieval import Answerer, Retriever

    answerer = Answerer(Retriever.open(Settings.from_env(index_dir=module_corpus_index), embedder=module_embedder))
    return [
        answerer.ask("What are the three dimensions of integration policies?"),
        answerer.ask("How do you cook a traditional Hungarian goulash?"),
    ]


def test_a_turn_comes_back_as_it_was(tmp_path, answers):
    store = ConversationStore(tmp_path / "data")
    conversation = store.create("browser-a")
    turns = [Turn(answers[0], ("doc.md",), "v20261201T000000-abcdef", note="a note"), Turn(answers[1], (), "v20261201T000000-abcdef", after="earlier?")]
    for turn in turns:
        assert store.append(conversation, turn)
    restored = store.turns(conversation)
    assert restored == turns  # the answer, its citations and passages, the hits behind it, the version
    assert restored[0].answer.hits and restored[0].answer.citations[0].quoted == turns[0].answer.citations[0].quoted
    assert (tmp_path / "data" / "conversations.sqlite3").exists()


def test_ids_are_unguessable_and_untrusted_values_are_refused(tmp_path):
    store = ConversationStore(tmp_path)
    ids = {store.create("b") for _ in range(50)}
    assert len(ids) == 50 and all(valid_id(i) for i in ids)
    for bad in ("", "1", "../../etc/passwd", "x" * 23, "' OR 1=1 --aaaaaaaaaaa", None, 42):
        assert valid_id(bad) is None
    assert store.turns("A" * 22) is None  # well-formed but unknown


def test_a_browser_lists_only_its_own_conversations_with_turns(tmp_path, answers):
    store = ConversationStore(tmp_path)
    mine, empty, theirs = store.create("mine"), store.create("mine"), store.create("theirs")
    store.append(mine, Turn(answers[0]))
    store.append(theirs, Turn(answers[1]))
    listed = store.recent("mine")
    assert [s.id for s in listed] == [mine] and empty not in [s.id for s in listed]
    assert listed[0].title == answers[0].question and listed[0].turns == 1
    later = store.create("mine")
    store.append(later, Turn(answers[1]))
    assert [s.id for s in store.recent("mine")] == [later, mine]  # the most recently used first


def test_turns_appended_from_many_threads_are_all_kept_in_order_per_conversation(tmp_path, answers):
    store = ConversationStore(tmp_path)
    conversations = [store.create("b") for _ in range(4)]

    def add(conversation):
        for _ in range(5):
            assert store.append(conversation, Turn(answers[1]))

    threads = [threading.Thread(target=add, args=(c,)) for c in conversations + conversations[:1]]  # two on the first
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert [len(store.turns(c)) for c in conversations] == [10, 5, 5, 5]


def test_a_conversation_holds_at_most_max_turns(tmp_path, answers, monkeypatch):
    from retrieval.serve import conversations

    monkeypatch.setattr(conversations, "MAX_TURNS", 3)
    store = ConversationStore(tmp_path)
    c = store.create("b")
    assert [store.append(c, Turn(answers[1])) for _ in range(4)] == [True, True, True, False]
    assert MAX_TURNS > 3 and len(store.turns(c)) == 3


def test_nothing_but_turns_and_ids_is_stored(tmp_path, answers):
    store = ConversationStore(tmp_path)
    store.append(store.create("browser-id"), Turn(answers[0]))
    with sqlite3.connect(tmp_path / "conversations.sqlite3") as db:
        columns = {table: [r[1] for r in db.execute(f"PRAGMA table_info({table})")] for table in ("conversations", "turns")}
    assert columns == {"conversations": ["id", "browser", "created_at", "updated_at", "title"], "turns": ["conversation", "position", "version", "turn"]}


def test_conversations_unused_for_the_kept_days_are_deleted_with_their_turns(tmp_path, answers):
    from datetime import UTC, datetime, timedelta

    store = ConversationStore(tmp_path)
    old, recent = store.create("b"), store.create("b")
    store.append(old, Turn(answers[0]))
    store.append(recent, Turn(answers[1]))
    with sqlite3.connect(tmp_path / "conversations.sqlite3") as db:
        long_ago = (datetime.now(UTC) - timedelta(days=100)).isoformat(timespec="microseconds")
        db.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (long_ago, old))
    reopened = ConversationStore(tmp_path, keep_days=90)  # as the app opens it at start
    assert reopened.turns(old) is None and len(reopened.turns(recent)) == 1
    with sqlite3.connect(tmp_path / "conversations.sqlite3") as db:
        assert db.execute("SELECT COUNT(*) FROM turns WHERE conversation = ?", (old,)).fetchone() == (0,)
    ConversationStore(tmp_path, keep_days=0)  # 0 keeps everything
    assert len(reopened.turns(recent)) == 1


def test_only_the_browser_that_started_a_conversation_owns_it_and_a_copy_starts_from_it(tmp_path, answers):
    """Issue 29, item 4 (the store's part; the app's in test_browser)."""
    store = ConversationStore(tmp_path / "data")
    original = store.create("browser-a")
    store.append(original, Turn(answers[0], (), "v1"))
    assert store.owner(original) == "browser-a" and store.owner("B" * 22) is None
    copy = store.create("browser-b", copy_of=original)
    assert copy != original and store.owner(copy) == "browser-b"
    assert store.turns(copy) == store.turns(original)
    store.append(copy, Turn(answers[1], (), "v1"))
    assert len(store.turns(original)) == 1 and len(store.turns(copy)) == 2
    assert [s.id for s in store.recent("browser-b")] == [copy] and store.recent("browser-b")[0].title == store.recent("browser-a")[0].title


def test_a_browser_keeps_a_bounded_number_of_conversations(tmp_path, answers):
    """Issue 29, item 9: a quota per browser; its least recently used conversations go first."""
    from retrieval.serve.conversations import MAX_PER_BROWSER

    store = ConversationStore(tmp_path / "data")
    other = store.create("browser-b")
    ids = [store.create("browser-a") for _ in range(MAX_PER_BROWSER)]
    store.append(ids[0], Turn(answers[0], (), "v1"))  # the first made, but used since: not the least recently used
    ids += [store.create("browser-a") for _ in range(6)]
    with sqlite3.connect(tmp_path / "data" / "conversations.sqlite3") as db:
        assert db.execute("SELECT COUNT(*) FROM conversations WHERE browser = 'browser-a'").fetchone()[0] == MAX_PER_BROWSER
    assert store.turns(ids[0]) is not None and store.turns(ids[1]) is None and store.turns(ids[-1]) == []
    assert store.turns(other) == []
