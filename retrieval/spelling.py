"""Misspelt question words, corrected against the index's own vocabulary (SymSpell).

A question word is left alone when it is an English word (symspellpy's frequency list of 82,765
words) or a word of the documents; only a word that is neither is corrected, to the most frequent
word of the documents within one edit (two for words of seven letters or more). "Convnetion" becomes
"convention" and "asylym" "asylum", while an everyday word the documents never use ("resettle",
"kids") stays as the official typed it. A misspelt word the documents do not hold either stays too:
correcting it to a general English word (a SymSpell dictionary of 82,765 words) took 7 s to build
and could only help a search that has nothing to find with it.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources

_WORD = re.compile(r"[A-Za-z]+")  # a possessive's s is a word of its own, too short to correct
#: shorter words are never corrected: at three letters nearly every edit is another real word
MIN_LETTERS = 4
#: a document word must occur this often to be a correction (a typo in a document is not one)
MIN_COUNT = 2


@dataclass(frozen=True)
class Correction:
    original: str
    corrected: str


def _english_words() -> dict[str, int]:
    text = resources.files("symspellpy").joinpath("frequency_dictionary_en_82_765.txt").read_text(encoding="utf-8")
    out = {}
    for line in text.splitlines():
        word, _, count = line.partition(" ")
        if word and count.isdigit():
            out[word] = int(count)
    return out


_ENGLISH: dict[str, int] | None = None
_ENGLISH_LOCK = threading.Lock()


def english_words() -> dict[str, int]:
    """The English frequency list, read once per process."""
    global _ENGLISH
    with _ENGLISH_LOCK:
        if _ENGLISH is None:
            _ENGLISH = _english_words()
    return _ENGLISH


def _symspell(counts: dict[str, int]):
    from symspellpy import SymSpell

    speller = SymSpell(max_dictionary_edit_distance=2, prefix_length=7)
    for word, count in counts.items():
        speller.create_dictionary_entry(word, count)
    return speller


class Speller:
    """Corrects the words of a question that neither English nor the documents know."""

    def __init__(self, document_counts: dict[str, int]) -> None:
        self.document_counts = {w: c for w, c in document_counts.items() if c >= MIN_COUNT and len(w) >= MIN_LETTERS}
        self._known = set(document_counts)
        self._documents = _symspell(self.document_counts)

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> "Speller":
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update(w.lower() for w in _WORD.findall(text))
        return cls(dict(counts))

    def known(self, word: str) -> bool:
        lower = word.lower()
        return lower in self._known or lower in english_words()

    def _suggest(self, word: str) -> str | None:
        from symspellpy import Verbosity

        distance = 2 if len(word) >= 7 else 1
        found = self._documents.lookup(word, Verbosity.CLOSEST, max_edit_distance=distance)
        return found[0].term if found else None

    def correct(self, question: str) -> tuple[str, list[Correction]]:
        """The question with its misspelt words replaced, and the corrections made."""
        corrections: list[Correction] = []

        def fix(match: re.Match) -> str:
            word = match.group(0)
            if len(word) < MIN_LETTERS or word.isupper() or self.known(word):
                return word
            suggestion = self._suggest(word.lower())
            if not suggestion or suggestion == word.lower():
                return word
            corrected = suggestion.capitalize() if word[0].isupper() else suggestion
            corrections.append(Correction(word, corrected))
            return corrected

        return _WORD.sub(fix, question), corrections
