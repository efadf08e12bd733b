"""One question and its answer as the app keeps it: in the session, in a stored conversation, in the
Markdown export; with the link that reproduces it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from retrieval.serve.links import Snapshot


@dataclass
class Turn:
    """One question and its answer as the app keeps it in the session."""

    answer: object  # retrieval.ask.cited_answer.Answer
    docs: tuple[str, ...] = ()
    version: str = ""
    after: str = ""
    #: a remark shown with the answer, e.g. that a snapshot link's index version has changed
    note: str = ""
    asked_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def snapshot(self) -> Snapshot:
        return Snapshot(self.answer.question, self.docs, self.version, self.after)
