"""An answer as officials get it: the sentences quoted from the documents, each numbered by the
citation it comes from (document, section, page, the passage and the spans it quotes), or what the
answer says when the documents do not cover the question (answer.py makes them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from retrieval.ask.search import Hit
from retrieval.ask.sentence_signals import KIND_NAMES

NOT_COVERED = "The documents do not cover this question."
NOT_ENGLISH = ("This question seems to be in {language}. The assistant reads English only, and the documents are in "
               "English: please ask it in English.")


@dataclass(frozen=True)
class Citation:
    n: int
    doc: str
    title: str
    section: str
    page: str  # "p. 12", "pp. 12–13", or "" where the source has no pages
    page_start: int | None
    page_end: int | None
    text: str  # the passage (the chunk's text)
    chunk_id: str
    start: int  # offsets of the passage in the document's text
    end: int
    #: (start, end) spans inside `text` of the sentences the answer quotes
    quoted: tuple[tuple[int, int], ...] = ()
    score: float = 0.0


@dataclass(frozen=True)
class AnswerSentence:
    text: str
    n: int  # the citation it comes from


@dataclass(frozen=True)
class Answer:
    question: str
    query: str  # what was searched: the question, or it joined to the previous turn
    answerable: bool
    confidence: float
    sentences: tuple[AnswerSentence, ...] = ()
    citations: tuple[Citation, ...] = ()
    related: tuple[Citation, ...] = ()
    hits: tuple[Hit, ...] = field(default=(), repr=False)
    #: the question was cut to MAX_QUESTION_CHARS before it was asked
    shortened: bool = False
    #: the language a question was written in when it is not English (then nothing is searched)
    language: str = ""
    #: the kind of answer the question asks for ("amount", "duration", "date", "share", "count",
    #: "countries", "names"; `sentence_signals.expected_kind`) when no quoted sentence gives one: the closest the documents come
    lacks: str = ""
    @property
    def lacks_note(self) -> str:
        """Said with an answer whose sentences do not give the figure or date asked for."""
        if not self.lacks:
            return ""
        return (f"No quoted sentence of the answering document gives {KIND_NAMES.get(self.lacks, self.lacks)}, which the question asks for: "
                "these are the closest the documents come.")

    @property
    def text(self) -> str:
        if self.language:
            return NOT_ENGLISH.format(language=self.language)
        if not self.answerable:
            return NOT_COVERED
        return " ".join(f"{s.text} [{s.n}]" for s in self.sentences)


def not_covered(question: str, query: str, confidence: float, hits: Sequence[Hit], top: Sequence[Hit]) -> Answer:
    """The answer to a question the documents do not cover, with the three closest passages as related reading."""
    return Answer(question, query, False, confidence, related=tuple(citation_for(h, i + 1) for i, h in enumerate(top[:3])), hits=tuple(hits))


def citation_for(hit: Hit, n: int, quoted: Sequence[tuple[int, int]] = ()) -> Citation:
    c = hit.chunk
    return Citation(
        n=n, doc=c.doc_id, title=hit.title, section=c.section, page=c.pages_label, page_start=c.page_start,
        page_end=c.page_end, text=c.text, chunk_id=c.chunk_id, start=c.start, end=c.end,
        quoted=tuple(sorted(quoted)), score=hit.score,
    )
