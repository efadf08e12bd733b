"""Conversations kept on the server, so that a reload, a crash of the tab or the next morning
brings them back.

One SQLite file under the data folder (`RAG_DATA_DIR`, never inside index/). A conversation is
addressed by an unguessable id (128 random bits, URL-safe) that the app puts in the page's URL
(`?c=...`); whoever has the id can read it, as with a shared link, but only the browser that started
it (its browser id) may add to it: anyone else who asks there continues in a copy of their own. Each turn is stored whole: the
question, the answer's sentences and citations with their passages, the ranked passages behind it
(for the trainer view) and the index version it came from. A random browser id, kept in a cookie,
lists a browser's recent conversations. Nothing else about a person is stored: no name, no address,
no IP.

A connection per call (SQLite opens in well under a millisecond) keeps the store safe to use from
every session's thread; WAL mode lets readers go on while a turn is written.
"""

from __future__ import annotations

import dataclasses
import json
import re
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from retrieval.ask.cited_answer import Answer, AnswerSentence, Citation
from retrieval.ask.search import Hit
from retrieval.serve.turn import Turn
from retrieval.text.chunking import Chunk

CONVERSATIONS_FILE = "conversations.sqlite3"
#: what a conversation or browser id looks like (secrets.token_urlsafe(16)); anything else is ignored
ID = re.compile(r"[A-Za-z0-9_-]{22}")
#: turns stored per conversation at most (the oldest stay; a longer one starts a new conversation)
MAX_TURNS = 200
#: conversations kept per browser at most: starting one more deletes that browser's least recently used
MAX_PER_BROWSER = 50

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    browser TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS conversations_by_browser ON conversations (browser, updated_at);
CREATE TABLE IF NOT EXISTS turns (
    conversation TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    version TEXT NOT NULL,
    turn TEXT NOT NULL,
    PRIMARY KEY (conversation, position)
);
"""


def new_id() -> str:
    return secrets.token_urlsafe(16)


def valid_id(value: object) -> str | None:
    """The id if it looks like one this module makes, else None (URL and cookie values are untrusted)."""
    return value if isinstance(value, str) and ID.fullmatch(value) else None


@dataclass(frozen=True)
class Summary:
    """A conversation as the sidebar lists it."""

    id: str
    title: str  # its first question
    updated_at: str
    turns: int


class ConversationStore:
    def __init__(self, data_dir: Path | str, keep_days: int = 90) -> None:
        """The store under a data folder; conversations not used for `keep_days` days are deleted
        when it opens (the app opens it once per process; 0 keeps them for ever)."""
        self.path = Path(data_dir) / CONVERSATIONS_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(self.path, timeout=10) as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
        if keep_days > 0:
            self.delete_unused_since(datetime.now(UTC) - timedelta(days=keep_days))

    def delete_unused_since(self, cutoff: datetime) -> int:
        """Delete the conversations last used before `cutoff`, with their turns; returns how many."""
        with self._connect() as db:
            return db.execute("DELETE FROM conversations WHERE updated_at < ?", (cutoff.isoformat(timespec="microseconds"),)).rowcount

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """One transaction, taking the write lock at once (BEGIN IMMEDIATE: two turns appended to
        one conversation at the same moment get positions one after the other); committed on
        success, rolled back on an exception."""
        db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        try:
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        finally:
            db.close()

    def create(self, browser: str, copy_of: str | None = None) -> str:
        """A new conversation of a browser, empty or holding a copy of the turns of `copy_of`; returns
        its id. A browser keeps MAX_PER_BROWSER conversations at most: its least recently used ones
        beyond that are deleted."""
        conversation, now = new_id(), _now()
        with self._connect() as db:
            db.execute("INSERT INTO conversations (id, browser, created_at, updated_at, title) VALUES (?, ?, ?, ?, "
                       "COALESCE((SELECT title FROM conversations WHERE id = ?), ''))", (conversation, browser, now, now, copy_of))
            if copy_of is not None:
                db.execute("INSERT INTO turns SELECT ?, position, version, turn FROM turns WHERE conversation = ?", (conversation, copy_of))
            db.execute(
                "DELETE FROM conversations WHERE id IN (SELECT id FROM conversations WHERE browser = ? "
                "ORDER BY updated_at DESC, rowid DESC LIMIT -1 OFFSET ?)", (browser, MAX_PER_BROWSER))
        return conversation

    def owner(self, conversation: str) -> str | None:
        """The browser id that started a conversation (the only one that may add to it); None when unknown."""
        with self._connect() as db:
            row = db.execute("SELECT browser FROM conversations WHERE id = ?", (conversation,)).fetchone()
        return row[0] if row else None

    def append(self, conversation: str, turn: Turn) -> bool:
        """Add a turn at the end; False when the conversation is unknown or full."""
        with self._connect() as db:
            row = db.execute("SELECT COUNT(t.position) FROM conversations c LEFT JOIN turns t ON t.conversation = c.id WHERE c.id = ? GROUP BY c.id", (conversation,)).fetchone()
            if row is None or row[0] >= MAX_TURNS:
                return False
            db.execute("INSERT INTO turns VALUES (?, ?, ?, ?)", (conversation, row[0], turn.version, json.dumps(turn_to_dict(turn), default=_plain)))
            db.execute(
                "UPDATE conversations SET updated_at = ?, title = CASE WHEN title = '' THEN ? ELSE title END WHERE id = ?",
                (_now(), " ".join(turn.answer.question.split())[:200], conversation),
            )
        return True

    def turns(self, conversation: str) -> list[Turn] | None:
        """The turns of a conversation, oldest first; None when there is no such conversation."""
        with self._connect() as db:
            if db.execute("SELECT 1 FROM conversations WHERE id = ?", (conversation,)).fetchone() is None:
                return None
            rows = db.execute("SELECT turn FROM turns WHERE conversation = ? ORDER BY position", (conversation,)).fetchall()
        return [turn_from_dict(json.loads(row[0])) for row in rows]

    def recent(self, browser: str, limit: int = 10) -> list[Summary]:
        """A browser's conversations that have at least one turn, the most recently used first."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT c.id, c.title, c.updated_at, COUNT(t.position) FROM conversations c JOIN turns t ON t.conversation = c.id "
                "WHERE c.browser = ? GROUP BY c.id ORDER BY c.updated_at DESC, c.rowid DESC LIMIT ?",
                (browser, limit),
            ).fetchall()
        return [Summary(*row) for row in rows]


def _plain(value):
    """NumPy scalars (scores, ranks) as the Python numbers JSON writes."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


# --------------------------------------------------------------------------- turns as JSON


def turn_to_dict(turn: Turn) -> dict:
    return dataclasses.asdict(turn)


def _citation(d: dict) -> Citation:
    return Citation(**{**d, "quoted": tuple(tuple(span) for span in d.get("quoted", ()))})


def _hit(d: dict) -> Hit:
    return Hit(**{**d, "chunk": Chunk(**d["chunk"])})


def turn_from_dict(d: dict) -> Turn:
    a = d["answer"]
    answer = Answer(
        **{
            **a,
            "sentences": tuple(AnswerSentence(**s) for s in a.get("sentences", ())),
            "citations": tuple(_citation(c) for c in a.get("citations", ())),
            "related": tuple(_citation(c) for c in a.get("related", ())),
            "hits": tuple(_hit(h) for h in a.get("hits", ())),
        }
    )
    return Turn(**{**d, "answer": answer, "docs": tuple(d.get("docs", ()))})
