"""Structure-aware chunking: whole sentences packed up to a token budget, never across sections.

A chunk's text is an exact slice of its document's text (`text[start:end]`), so offsets lead back to
the surrounding context and every sentence quoted from a chunk is a substring of the document.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from retrieval.text.documents import Document, Section

#: word pieces the model adds around every input ([CLS] ... [SEP])
SPECIAL_TOKENS = 2
CHUNKER_VERSION = 2
#: the section prefix of an embedding input is cut to this many characters (about 40 word pieces)
MAX_PREFIX_CHARS = 160

TokenCounter = Callable[[Sequence[str]], list[int]]

_ABBREVIATIONS = frozenset(
    "e.g i.e etc no nos art arts p pp para paras dr mr mrs ms st cf vs vol ch ed eds al inc ltd co "
    "jan feb mar apr jun jul aug sep sept oct nov dec fig op ibid approx resp".split()
)
_BOUNDARY = re.compile(r"(?<=[.!?])[\"'\u201d\u2019)\]]*\s+(?=[\"'\u201c\u2018(\[\u2022\d]|[A-Z\u00c0-\u00de])")


@dataclass(frozen=True)
class Chunk:
    chunk_id: str
    doc_id: str
    section: str
    start: int
    end: int
    page_start: int | None
    page_end: int | None
    text: str
    #: word pieces of `embed_text`, special tokens included
    n_tokens: int

    @property
    def embed_text(self) -> str:
        return embedding_input(self.section, self.text)

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.embed_text.encode("utf-8")).hexdigest()[:32]

    @property
    def pages_label(self) -> str:
        if self.page_start is None:
            return ""
        if self.page_end is None or self.page_end == self.page_start:
            return f"p. {self.page_start}"
        return f"pp. {self.page_start}\u2013{self.page_end}"


def section_prefix(section: str) -> str:
    """The last two levels of a section path: context for the embedding, short enough to spare tokens."""
    if not section:
        return ""
    parts = section.split(" > ")
    prefix = " > ".join(parts[-2:])
    if len(prefix) > MAX_PREFIX_CHARS:
        prefix = parts[-1]
    if len(prefix) > MAX_PREFIX_CHARS:
        prefix = prefix[:MAX_PREFIX_CHARS].rsplit(" ", 1)[0]
    return prefix


def embedding_input(section: str, text: str) -> str:
    prefix = section_prefix(section)
    return f"{prefix}\n{text}" if prefix else text


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentence spans (absolute offsets) inside text[start:end]; paragraph breaks always split."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    for para in re.finditer(r"[^\n]+(?:\n(?!\n)[^\n]+)*", text[start:end]):
        p_start = start + para.start()
        p_text = para.group(0)
        cut = 0
        pieces: list[tuple[int, int]] = []
        for m in _BOUNDARY.finditer(p_text):
            before = p_text[cut : m.start()]
            last_word = re.search(r"([A-Za-z.]{1,20})\.$", before[-24:])  # the tail only: linear in the text
            if last_word:
                word = last_word.group(1).lower().rstrip(".")
                if word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
                    continue  # "Art. 3", "e.g. the", initials "K. Strauss"
            pieces.append((cut, m.start()))
            cut = m.end()
        pieces.append((cut, len(p_text)))
        merged: list[tuple[int, int]] = []
        carry: int | None = None
        for s, e in pieces:
            if carry is not None:
                s = carry
                carry = None
            if len(p_text[s:e].split()) <= 2 and (s, e) != pieces[-1]:
                carry = s  # "SK1.8." or "1." before its sentence: keep them together
                continue
            merged.append((s, e))
        if carry is not None:
            if merged:
                merged[-1] = (merged[-1][0], len(p_text))
            else:
                merged.append((carry, len(p_text)))
        spans.extend((p_start + s, p_start + e) for s, e in merged if p_text[s:e].strip())
    return [(s, e) for s, e in (_strip_span(text, s, e) for s, e in spans) if e > s]


#: sentences shorter than this never stand alone in an answer (headings, list labels, fragments)
MIN_ANSWER_WORDS = 5


def answer_sentences(text: str) -> list[tuple[int, int]]:
    """Spans of the sentences of a passage that may be quoted as an answer."""
    return [(s, e) for s, e in split_sentences(text) if len(text[s:e].split()) >= MIN_ANSWER_WORDS]


def _strip_span(text: str, s: int, e: int) -> tuple[int, int]:
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    return s, e


def _split_long(text: str, span: tuple[int, int], count: TokenCounter, budget: int) -> list[tuple[int, int, int]]:
    """Cut a sentence longer than the budget at word boundaries into pieces within it."""
    words = [(m.start() + span[0], m.end() + span[0]) for m in re.finditer(r"\S+", text[span[0] : span[1]])]
    counts = count([text[s:e] for s, e in words])
    pieces: list[tuple[int, int, int]] = []
    cur_start, cur_tokens, cur_end = None, 0, None
    for (s, e), n in zip(words, counts):
        if cur_start is not None and cur_tokens + n > budget:
            pieces.append((cur_start, cur_end, cur_tokens))
            cur_start, cur_tokens = None, 0
        if cur_start is None:
            cur_start = s
        cur_tokens += n
        cur_end = e
    if cur_start is not None:
        pieces.append((cur_start, cur_end, cur_tokens))
    return pieces


_LIST_ITEM = re.compile(r"^(\d{1,2}[.)]|\(?[a-z]{1,4}\)|[-\u2022\u2013\u2014*])\s")


def keep_lists_whole(text: str, units: list[tuple[int, int, int]], budget: int) -> list[tuple[int, int, int]]:
    """A list and the sentence that introduces it ("... the following conditions:") as one unit when
    they fit the budget together, so a chunk never ends inside a list that could have stayed whole:
    its last items alone in the next chunk would be found by nobody asking for the list."""
    out: list[tuple[int, int, int]] = []
    i = 0
    while i < len(units):
        s, e, n = units[i]
        if text[s:e].rstrip().endswith(":"):
            j = i + 1
            total = n
            while j < len(units) and _LIST_ITEM.match(text[units[j][0] : units[j][1]]) and total + units[j][2] <= budget:
                total += units[j][2]
                j += 1
            ends_list = j >= len(units) or not _LIST_ITEM.match(text[units[j][0] : units[j][1]])
            if j > i + 1 and ends_list:
                out.append((s, units[j - 1][1], total))
                i = j
                continue
        out.append((s, e, n))
        i += 1
    return out


def chunk_section(
    doc: Document, section: Section, count: TokenCounter, max_tokens: int, overlap_tokens: int
) -> list[tuple[int, int, int]]:
    """(start, end, tokens) of each chunk of one section."""
    label = section.label
    prefix = section_prefix(label)
    prefix_tokens = (count([prefix])[0] + 1) if prefix else 0  # +1: the newline is free, keep a margin
    budget = max_tokens - SPECIAL_TOKENS - prefix_tokens
    if budget < max_tokens // 2:
        raise ValueError(f"section prefix too long for the chunk budget: {prefix!r}")
    spans = split_sentences(doc.text, section.start, section.end)
    if not spans:
        return []
    counts = count([doc.text[s:e] for s, e in spans])
    units: list[tuple[int, int, int]] = []
    for (s, e), n in zip(spans, counts):
        if n > budget:
            units.extend(_split_long(doc.text, (s, e), count, budget))
        else:
            units.append((s, e, n))
    units = keep_lists_whole(doc.text, units, budget)

    chunks: list[tuple[int, int, int]] = []
    current: list[tuple[int, int, int]] = []
    total = 0
    for unit in units:
        if current and total + unit[2] > budget:
            chunks.append((current[0][0], current[-1][1], total + SPECIAL_TOKENS + prefix_tokens))
            # carry the last sentences (up to overlap_tokens) into the next chunk
            overlap: list[tuple[int, int, int]] = []
            carried = 0
            for prev in reversed(current):
                if carried + prev[2] > overlap_tokens or len(overlap) + 1 >= len(current):
                    break
                overlap.insert(0, prev)
                carried += prev[2]
            if carried + unit[2] > budget:
                overlap, carried = [], 0
            current, total = overlap, carried
        current.append(unit)
        total += unit[2]
    if current:
        chunks.append((current[0][0], current[-1][1], total + SPECIAL_TOKENS + prefix_tokens))
    return chunks


def chunk_document(doc: Document, count: TokenCounter, max_tokens: int = 200, overlap_tokens: int = 40) -> list[Chunk]:
    chunks: list[Chunk] = []
    for section in doc.sections:
        for start, end, n_tokens in chunk_section(doc, section, count, max_tokens, overlap_tokens):
            chunks.append(
                Chunk(
                    chunk_id=f"{doc.doc_id}#{len(chunks)}",
                    doc_id=doc.doc_id,
                    section=section.label,
                    start=start,
                    end=end,
                    page_start=doc.page_at(start),
                    page_end=doc.page_at(max(start, end - 1)),
                    text=doc.text[start:end],
                    n_tokens=n_tokens,
                )
            )
    return chunks
