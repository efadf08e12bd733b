"""The sentences a chosen answer sentence brings along: the items of a list it introduces, what it
announces ("Three main trends ...", "... as follows:"), the sentence after a short best one that says
why or how. Each is read from the passage, so the answer stays a set of verbatim spans.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from retrieval.ask.search import Hit
from retrieval.ask.sentence_signals import list_marker, opens_quotation
from retrieval.text.chunking import split_sentences

_ANNOUNCES = re.compile(r"(:\s*$|\b(as follows|the following|(two|three|four|five|six|seven|several) (main |key |major )?(trends|ways|steps|dimensions|conditions|criteria|elements|factors|areas|reasons|pillars|priorities|types|levels|stages))\b)", re.IGNORECASE)
#: a best sentence of at most this many words brings the next sentence of its passage: a short
#: sentence states a point the next one explains (blind dev answers holding a gold quote 0.566 ->
#: 0.575, test unchanged, the team's set 0.514 -> 0.533; one word more per answer)
SHORT_SENTENCE_WORDS = 12


@dataclass(frozen=True)
class Candidate:
    """A sentence of a retrieved passage that may join the answer: its passage (index into the hits) and offsets."""

    hit_index: int
    start: int
    end: int
    text: str


def list_items(candidates: list[Candidate], chosen: list[int], top: Sequence[Hit], limit: int = 8) -> list[int]:
    """The items of a list that a chosen sentence introduces ("... take due account of the
    following factors:"), read from its passage: short items ("(a) family reunification
    possibilities;") are no stored sentence, so those are added to `candidates`."""
    at = {(c.hit_index, c.start): j for j, c in enumerate(candidates)}
    extra: list[int] = []
    for i in list(chosen):
        lead = candidates[i]
        if not lead.text.rstrip().endswith(":"):
            continue
        text = top[lead.hit_index].chunk.text
        kind = None
        for start, end in split_sentences(text, lead.end):
            marker = list_marker(text[start:end])
            if marker is None or (kind and marker != kind) or len(extra) >= limit:
                break
            kind = marker
            j = at.get((lead.hit_index, start))
            if j is None:
                j = at[(lead.hit_index, start)] = len(candidates)
                candidates.append(Candidate(lead.hit_index, start, end, text[start:end]))
            if j not in chosen and j not in extra:
                extra.append(j)
    return extra


def what_follows(candidates: list[Candidate], chosen: list[int], quotable: list[bool]) -> list[int]:
    """The sentences after a chosen one that announces what follows ("Three main trends can be
    identified ...", "... as follows:") or opens a quotation that goes on, when the list items
    rule did not already bring them."""
    extra: list[int] = []
    for i in list(chosen):
        if not (_ANNOUNCES.search(candidates[i].text) or opens_quotation(candidates[i].text)):
            continue
        for j in range(i + 1, min(i + 3, len(candidates))):
            if candidates[j].hit_index != candidates[i].hit_index or j in chosen or j in extra or not quotable[j]:
                break
            extra.append(j)
    return extra


def after_a_short_best(candidates: list[Candidate], chosen: list[int], quotable: list[bool], top: Sequence[Hit]) -> list[int]:
    """The sentence right after the best one when the best is short ("The stability of
    immigration policy is very very important.") and the next one of its passage says why or how."""
    best, after = chosen[0], chosen[0] + 1
    if len(candidates[best].text.split()) > SHORT_SENTENCE_WORDS or after >= len(candidates) or after in chosen:
        return []
    lead, cand = candidates[best], candidates[after]
    if cand.hit_index != lead.hit_index or not quotable[after] or top[lead.hit_index].chunk.text[lead.end : cand.start].strip():
        return []  # another passage's, never quoted, or not the very next sentence
    return [after]
