"""Compound questions: two questions joined by "and" ("Why does reintegration matter for return,
and when can it be called sustainable?"). Each half is usually answered by another passage, often
in another document, and a search for the whole finds the passages of the half it leans on most.
`search.Retriever` searches each half as well and gives each one's best passages a place near the top.
"""

from __future__ import annotations

import re

#: ", and how long ...", " and what ...": the second question starts at its question word
_JOIN = re.compile(r",?\s+and\s+(?=(why|what|when|how|which|who|where|whether|is|are|does|do|did|can|could|must|should)\b)", re.IGNORECASE)
#: each half needs this many words to be searched on its own
MIN_WORDS = 3


def compound_parts(question: str) -> list[str]:
    """The two questions of a compound question, or [] for one that asks one thing.

    >>> compound_parts("Why does reintegration matter, and when is it sustainable?")
    ['Why does reintegration matter', 'when is it sustainable?']
    >>> compound_parts("What do integration and reintegration policies share?")
    []
    """
    match = _JOIN.search(question)
    if match is None:
        return []
    first, second = question[: match.start()].strip(), question[match.end() :].strip()
    if len(first.split()) < MIN_WORDS or len(second.split()) < MIN_WORDS:
        return []
    return [first, second]
