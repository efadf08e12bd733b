"""Section headings: recognising them in extracted text and nesting them by what their numbering shows.

Heading levels in converted documents are unreliable (Markdown levels jump, some headings are plain
lines), so the level comes from the numbering where there is one: "4" > "4.2" > "4.2.1";
CHAPTER > SECTION > Article for legal texts; "SK3." for guidance with lettered sections.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from retrieval.text.cleaning import ends_with_stopword

_LEGAL_RANK = {"part": 0, "title": 0, "chapter": 1, "section": 2, "article": 3, "annex": 1}
_LEGAL = re.compile(r"^(PART|TITLE|CHAPTER|SECTION|ANNEX|Article)\s+([IVXLC]+|\d+[a-z]?)\b\.?\s*(.*)$", re.IGNORECASE)
_NUMBERED = re.compile(r"^(\d{1,2}(?:\.\d{1,2}){0,4})\.?\s+(\S.*)$")
_LETTERED = re.compile(r"^([A-Z]{1,3}\d{1,2})\.\s+(\S.*)$")
_MAX_HEADING_CHARS = 100


@dataclass(frozen=True)
class Heading:
    text: str
    #: nesting depth: 1 is the top; 0 for parts/titles above chapters
    level: int


def legal_heading(line: str) -> tuple[str, str] | None:
    """("Article 30", rest) for a line that opens a chapter, section, article or annex."""
    m = _LEGAL.match(line.strip())
    if not m:
        return None
    word = m.group(1)
    # Articles are written "Article 3"; chapters and sections in capitals in the Official Journal.
    if word.lower() != "article" and not word.isupper():
        return None
    if word.lower() == "article" and word != "Article":
        return None
    rest = m.group(3).strip()
    # "Article 11 of Regulation ...", "Article 12 ;" and correlation-table rows are references
    if rest and (not rest[:1].isupper() or rest.endswith((".", ",", ";", ":")) or "Article" in rest):
        return None
    return f"{word} {m.group(2)}", rest


#: a report's back matter, in title case and unnumbered: its list of the works it cites, its annexes
#: ("References", "Bibliography", "Annex 1: Standard Operating Procedures Reviewed", "Appendix B")
_CITED_WORKS = re.compile(r"^(?:\d{1,2}\.?\s+)?(References|Bibliography|Reference list|Works cited|Literature cited|Sources cited)\s*:?$", re.IGNORECASE)
_ANNEX = re.compile(r"^(Annex|Appendix)\s+([IVXLC]+|\d{1,2}|[A-Z])\b\s*(?:[:.\u2013\u2014-]\s*(\S.*))?$")


def heads_cited_works(heading: str) -> bool:
    """Whether a heading is that of a list of the works a document cites ("References", "7. Bibliography")."""
    return bool(_CITED_WORKS.match(re.sub(r"\s+", " ", heading.strip())))


def back_matter_heading(line: str) -> Heading | None:
    """A heading of a report's back matter: "References", "Annex 1: ..." (a legal act's ANNEX in
    capitals is `legal_heading`'s). "Annex 2 of the Regulation sets out ..." goes on as a sentence."""
    line = re.sub(r"\s+", " ", line.strip())
    if heads_cited_works(line):
        return Heading(line.rstrip(": "), 1)
    m = _ANNEX.match(line)
    if m and len(line) <= _MAX_HEADING_CHARS and not line.endswith((".", ",", ";")) and not ends_with_stopword(line):
        return Heading(line, 1)
    return None


def fix_small_caps(text: str) -> str:
    """Small capitals extracted with stray capitals inside words ("general oBligations")."""
    return re.sub(r"\b([a-z]+[A-Z][a-zA-Z]*)\b", lambda m: m.group(1).lower(), text)


def numbered_heading(line: str, next_line: str | None = None, max_chars: int = _MAX_HEADING_CHARS) -> Heading | None:
    """A line like "4.2 Pre-departure role" or "SK3. Immigration requirements", not a numbered sentence."""
    line = re.sub(r"\s+", " ", line.strip())
    if len(line) > max_chars or line.endswith((".", ",", ";", ":")) or ends_with_stopword(line):
        return None
    if re.search(r"[.;] ", re.sub(r"^\S+\s", "", line)):
        return None  # holds a sentence break: a numbered paragraph, not a heading
    if next_line is not None and next_line.strip()[:1].islower() and not re.match(r"^[a-z]{1,3}\)\s", next_line.strip()):
        return None  # the line is the start of a wrapped sentence
    m = _NUMBERED.match(line)
    if m:
        number, title = m.groups()
        if not title[:1].isupper() or int(number.split(".")[0]) == 0:
            return None
        if re.search(r"\d{4}|/", title[:12]):
            return None  # "2013/32/EU ..." or a date, not a heading
        return Heading(line, number.count(".") + 1)
    m = _LETTERED.match(line)
    if m and m.group(2)[:1].isupper():
        return Heading(f"{m.group(1)}. {m.group(2)}", 1)
    return None


def heading_level(text: str) -> int:
    """The nesting level of a heading's text, from its numbering or legal rank."""
    legal = legal_heading(text)
    if legal:
        return _LEGAL_RANK[legal[0].split()[0].lower()]
    numbered = numbered_heading(text)
    if numbered:
        return numbered.level
    return 1


def heading_number(text: str) -> tuple[int, ...] | None:
    """The numbering of a numbered heading as integers: "4.2 Pre-departure role" -> (4, 2)."""
    m = _NUMBERED.match(text.strip())
    return tuple(int(part) for part in m.group(1).split(".")) if m else None


class SectionTracker:
    """Keeps the current section path while headings arrive in document order."""

    def __init__(self) -> None:
        self._stack: list[Heading] = []

    def push(self, heading: Heading) -> tuple[str, ...]:
        number = heading_number(heading.text)
        while self._stack and (self._stack[-1].level >= heading.level or not _may_contain(self._stack[-1], number)):
            self._stack.pop()
        self._stack.append(heading)
        return self.path

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(h.text for h in self._stack)


def _may_contain(parent: Heading, number: tuple[int, ...] | None) -> bool:
    """A numbered heading nests only under a numbered one whose number is a prefix of its own ("4." > "4.2")."""
    parent_number = heading_number(parent.text)
    if number is None or parent_number is None:
        return True
    return len(parent_number) < len(number) and number[: len(parent_number)] == parent_number


def clean_heading_text(text: str) -> str:
    text = re.sub(r"[*_#`]+", "", text)
    return re.sub(r"\s+", " ", text).strip()
