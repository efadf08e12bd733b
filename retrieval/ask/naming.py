"""Documents a question names: "Under Dublin III ...", "According to the INTERACT report ...".

A question that names a document is asking about that document, and the name itself only pulls in
passages that repeat it (title pages, references, preambles). `DocumentNames` finds the names in a
question, says which documents they stand for, and gives the question with the names taken out,
so search can look inside the named documents for what the question asks.

A document's names are its catalogue `aliases` (corpus/catalogue.toml, or the "other names" of the
app's upload form), its short title, and the common names a title gives in parentheses ("...
(Dublin III)", "(Qualification Regulation)") or as an act number ("2024/1347"). A name is matched
as a run of whole words, ignoring case, punctuation and a leading "the"; the longest name wins
where two overlap, and a name shared by two documents names neither.

People also describe a document in words of their own: "the German fast-track brochure", "the
JI-HoA evaluation", "the Budapest note", "the UK skilled worker guidance". Such a description is a
kind of document ("brochure", "evaluation", "note") after words that each belong to the words of a
document's names, title and author, and together to one document's only (`described`): an
uploaded report with no aliases is found by the words of its title too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_TOKEN = re.compile(r"[a-z0-9]+(?:/[a-z0-9]+)*")
#: words that never make a name on their own (a one-word name must be rarer than these)
_GENERIC = frozenset(
    "the a an of and for on in to eu european union regulation directive convention report study guidance "
    "notice note evaluation document protocol final brief survey process no act law".split()
)
#: words that never make a name however combined
_FUNCTION_WORDS = frozenset("the a an of and for on in to eu european union regulation directive convention no act law".split())
#: a parenthesised common name or act number inside a title
_PAREN = re.compile(r"\(([^()]{3,60})\)")
_ACT_NUMBER = re.compile(r"\b(?:No\s+)?(\d{2,4}/\d{2,4})\b")
#: words that may follow a document's name and belong to it: "the INTERACT report", "the Dublin III Regulation"
_TRAILING = frozenset("report regulation convention study guidance notice note brief matrix document survey".split())


#: words that end a description read backwards from its kind ("the German fast-track brochure" starts after "the")
_BEFORE_A_DESCRIPTION = frozenset("the a an of and for on in to".split())
#: the kinds of document a description ends with ("the German fast-track brochure")
_DOCUMENT_KINDS = frozenset(
    "report brochure note guidance evaluation study survey notice brief leaflet handbook guideline paper "
    "regulation directive convention protocol".split()
)


def _word_form(word: str) -> str:
    """One form for a word's singular and plural ("workers" / "worker", "guidelines" / "guideline")."""
    return word[:-1] if len(word) > 4 and word.endswith("s") and not word.endswith("ss") else word


def tokens(text: str) -> list[tuple[str, int, int]]:
    """Lower-case word tokens with their character offsets."""
    return [(m.group(0), m.start(), m.end()) for m in _TOKEN.finditer(text.lower())]


@dataclass(frozen=True)
class NamedQuestion:
    docs: tuple[str, ...]  # the documents named, in the order they are named
    query: str  # the question with the names (and a "the"/"of" before them) taken out
    names: tuple[str, ...]  # the names as written in the question


def describing_words_from_entry(entry: dict) -> set[str]:
    """The words a description of one document may use: those of its names, titles and author."""
    texts = [*names_from_entry(entry)] + [str(entry.get(key) or "") for key in ("title", "short_title", "catalogue_title", "author", "catalogue_author")]
    return {_word_form(t) for text in texts for t, _, _ in tokens(text)}


def names_from_entry(entry: dict) -> list[str]:
    """The names of one document from its manifest entry."""
    names = [str(a) for a in entry.get("aliases") or [] if str(a).strip()]
    short = str(entry.get("catalogue_short_title") or "")
    if short:
        names.append(re.sub(r"\s*\((?:\d{4}|\d{2}/\d{2})\)\s*$", "", short))  # "INTERACT Expert Survey Report (2015)"
    title = str(entry.get("catalogue_title") or "")
    for m in _PAREN.finditer(title):
        inner = m.group(1).strip()
        if not re.fullmatch(r"\d{4}|EU|EC|version.*", inner, re.IGNORECASE):
            names.append(inner)
    names += _ACT_NUMBER.findall(title)
    return names


class DocumentNames:
    def __init__(self, names_by_doc: dict[str, Iterable[str]], words_by_doc: dict[str, Iterable[str]] | None = None) -> None:
        owners: dict[tuple[str, ...], set[str]] = {}
        for doc, names in names_by_doc.items():
            for name in names:
                key = self._key(name)
                if key:
                    owners.setdefault(key, set()).add(doc)
        #: name (as a token tuple) -> the one document it names
        self.names = {key: next(iter(docs)) for key, docs in owners.items() if len(docs) == 1}
        self._longest = max((len(k) for k in self.names), default=0)
        #: a describing word (`_word_form`) -> the documents whose names, titles or author use it
        self.owners: dict[str, set[str]] = {}
        for doc, words in (words_by_doc or {}).items():
            for word in words:
                self.owners.setdefault(_word_form(word), set()).add(doc)

    @classmethod
    def from_entries(cls, entries: Iterable[dict]) -> DocumentNames:
        entries = list(entries)
        return cls({e["doc"]: names_from_entry(e) for e in entries}, {e["doc"]: describing_words_from_entry(e) for e in entries})

    def described(self, words: list[str], taken: set[int]) -> list[tuple[int, int, str]]:
        """(first token, end token, doc) of each description of one document among `words` that no
        name took: a kind of document that document's words use, after one or more words that only
        its words share ("german fast track brochure"). A word too common to name anything ("EU",
        "European") neither counts nor stops it; "the", a word of no document's, or one that leaves
        no document, stops it."""
        found = []
        taken = set(taken)
        for end in reversed(range(len(words))):
            kind = words[end]
            if kind not in _DOCUMENT_KINDS or end in taken or (end + 1 < len(words) and words[end + 1] in _DOCUMENT_KINDS):
                continue  # "the JI-HoA evaluation brief" is a brief: the last kind word says what it is
            candidates = set(self.owners.get(_word_form(kind), ()))
            first, doc = None, None
            i = end - 1
            while i >= 0 and i not in taken and candidates:
                word = words[i]
                if word in _BEFORE_A_DESCRIPTION:
                    break
                if word in _FUNCTION_WORDS:
                    i -= 1
                    continue
                candidates &= self.owners.get(_word_form(word), set())
                if len(candidates) == 1:
                    first, doc = i, next(iter(candidates))
                i -= 1
            if doc is not None:
                found.append((first, end + 1, doc))
                taken.update(range(first, end + 1))
        return sorted(found)

    @staticmethod
    def _key(name: str) -> tuple[str, ...]:
        words = [t for t, _, _ in tokens(name)]
        while words and words[0] in ("the", "a", "an"):
            words.pop(0)
        if not words or (len(words) == 1 and (words[0] in _GENERIC or len(words[0]) < 4)):
            return ()
        if all(w in _FUNCTION_WORDS for w in words):
            return ()  # "the Regulation", "EU Directive": too common to name one document
        return tuple(words)

    def find(self, question: str) -> NamedQuestion:
        toks = tokens(question)
        words = [t for t, _, _ in toks]
        found: list[tuple[int, int, str]] = []  # (first token, end token, doc)
        i = 0
        while i < len(words):
            match = None
            for n in range(min(self._longest, len(words) - i), 0, -1):
                doc = self.names.get(tuple(words[i : i + n]))
                if doc:
                    match = (i, i + n, doc)
                    break
            if match:
                found.append(match)
                i = match[1]
            else:
                i += 1
        taken = {j for first, end, _ in found for j in range(first, end)}
        found = sorted(found + self.described(words, taken))
        if not found:
            return NamedQuestion((), question, ())
        cuts: list[tuple[int, int]] = []
        for first, end, _ in found:
            while end < len(words) and words[end] in _TRAILING:
                end += 1  # "the INTERACT report": the report goes with the name
            while first > 0 and words[first - 1] in ("the", "of", "in", "under", "by", "to"):
                first -= 1  # "according to the", "under the", "in the"
            if first > 0 and words[first - 1] == "according":
                first -= 1
            cuts.append((toks[first][1], toks[end - 1][2]))
        query, last = [], 0
        for start, stop in cuts:
            query.append(question[last:start])
            last = stop
        query.append(question[last:])
        stripped = " ".join("".join(query).split()).strip(" ,;:")
        docs = tuple(dict.fromkeys(doc for _, _, doc in found))
        names = tuple(question[toks[f][1] : toks[e - 1][2]] for f, e, _ in found)
        return NamedQuestion(docs, stripped if re.search(r"\w", stripped) else question, names)
