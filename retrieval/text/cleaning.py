"""Repairs for what text extraction leaves behind: page furniture, hyphenation, broken paragraphs.

Pure functions on strings and lists of lines, so each repair is testable on its own.
"""

from __future__ import annotations

import re
from collections import Counter

SOFT_HYPHEN = "\u00ad"
_LIGATURES = {"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl", "\ufb05": "st", "\ufb06": "st"}
_BULLETS = "\uf0b7\u2022\u25aa\u25cf\u2023\u2043\u25e6"
_PAGE_NUMBER = re.compile(r"^(page\s+)?\d{1,4}(\s*(/|of)\s*\d{1,4})?$", re.IGNORECASE)
_TOC_LINE = re.compile(r"(\.\s?){4,}\s*\d{1,4}\s*$|\u2026{2,}\s*\d{1,4}\s*$")
_HEADINGISH = re.compile(r"^(article|chapter|section|annex|part|title)\s+[#ivxlc]+(?![a-z])", re.IGNORECASE)  # keys have "#" for digits
_WORD = re.compile(r"[A-Za-z\u00c0-\u024f]+(?:-[A-Za-z\u00c0-\u024f]+)*")
_STOPWORDS = frozenset(
    "a an and or of the to for in on at by with from as that which who whose than its their his her "
    "is are was were be been shall should may must not nor".split()
)


_NOT_LETTER_OR_DIGIT = re.compile(r"[^a-z0-9]+")


def letters_and_digits(text: str) -> str:
    """A text reduced to its lower-case ASCII letters and digits, so that line breaks, hyphenation,
    spacing and punctuation do not matter when two texts are compared (a quote and a page, a
    footnote line and the runs it was set in)."""
    return _NOT_LETTER_OR_DIGIT.sub("", text.lower())


def normalise_characters(text: str) -> str:
    """Ligatures, private-use bullets, non-breaking spaces and stray control characters."""
    for lig, plain in _LIGATURES.items():
        text = text.replace(lig, plain)
    for bullet in _BULLETS:
        text = text.replace(bullet, "\u2022")
    text = text.replace("\u00a0", " ").replace("\u2009", " ").replace("\t", " ")
    text = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffd]", "", text)
    # a ligature glyph with no Unicode mapping comes out under its glyph name: "of/f_icial", "quali/f_ied"
    text = re.sub(r"/f_(?=[a-z])", "f", text)
    return text


#: what may stand before a paragraph's first word: "2.", "(1)", "(a)", "A.", "III."
_PARAGRAPH_NUMBER = r"(?:\(?\d{1,3}[.)]|\([a-z]{1,4}\)|[A-Z]\.|[IVX]{2,5}\.)"
_DROP_CAP = re.compile(r"^(" + _PARAGRAPH_NUMBER + r"\s+)?([A-Z]) ([a-z]+)\b")


def repair_drop_cap(line: str, vocabulary: set[str]) -> str:
    """Rejoin a paragraph's first word split after its large initial: "2. T he Contracting States"
    becomes "2. The Contracting States", "(1) H as been" "(1) Has been". Only at the start of a line
    (or after its paragraph number), and only into a word the document uses elsewhere; "A" and "I"
    stay apart when what follows is a word of its own ("A letter")."""
    m = _DROP_CAP.match(line)
    if not m:
        return line
    initial, rest = m.group(2), m.group(3)
    if not _joins(initial, rest, vocabulary, numbered=bool(m.group(1))):
        return line
    return line[: m.start(2)] + initial + rest + line[m.end(3) :]


def join_drop_cap(previous: str, line: str, vocabulary: set[str]) -> str | None:
    """A large initial extracted on a line of its own ("(1) H" then "as been considered"): the two
    lines joined into one word, or None when `previous` does not end in such an initial."""
    m = re.search(r"(?:^|\s)([A-Z])$", previous)
    first = re.match(r"[a-z]+", line)
    if not m or not first:
        return None
    if not re.fullmatch(_PARAGRAPH_NUMBER + r"?\s*[A-Z]", previous.strip()):
        return None  # only a paragraph's opening initial, not a capital ending a line of text
    if not _joins(m.group(1), first.group(0), vocabulary):
        return None
    return previous + line


#: words a paragraph opens with after a large "A" or "I" ("A fter", "A ny", "I n"); the fragments
#: themselves ("fter", "ny") are in such a document's vocabulary, so the vocabulary cannot decide
_A_I_OPENERS = _STOPWORDS | frozenset("after any all also although at if in it into as an".split())


def _joins(initial: str, rest: str, vocabulary: set[str], numbered: bool = False) -> bool:
    """Whether a paragraph's large initial and the fragment after it are one word: the joined word
    is one the document uses, or, after a paragraph number, the fragment is none ("(1) E nsuring":
    "ensuring" occurs only there; a running header's "L series" stays)."""
    joined = (initial + rest).lower()
    if initial in "AI":
        return joined in _A_I_OPENERS  # "A letter" stays, "A ny" joins
    return joined in vocabulary or (numbered and len(rest) >= 3 and rest.lower() not in vocabulary)


def furniture_key(line: str) -> str:
    """A line reduced to what repeats across pages: digits, case and spacing removed."""
    return re.sub(r"\s+", " ", re.sub(r"\d+", "#", line.lower())).strip()


def find_furniture(pages: list[list[str]], edge: int = 4, min_share: float = 0.4) -> set[str]:
    """Keys of lines that sit near the top or bottom of at least `min_share` of the pages.

    Running headers and footers ("Official Journal of the European Union", "Page 3 of 73 ...",
    "ELI: http://... 11/81") repeat on most pages with at most their digits changed. Lines that look
    like structure ("Article 12") are never furniture, however often they open a page. Extraction
    often puts a footer above the page's footnotes, away from the edge: a long line that repeats on
    enough pages counts when at least half of its pages have it at the edge (repeated table labels,
    which never sit there, stay).
    """
    if len(pages) < 3:
        return set()
    at_edge: Counter[str] = Counter()
    anywhere: Counter[str] = Counter()
    for lines in pages:
        window = lines[:edge] + lines[-edge:] if len(lines) > 2 * edge else lines
        at_edge.update({furniture_key(line) for line in window if line.strip()})
        anywhere.update({key for key in map(furniture_key, lines) if _long_key(key)})
    threshold = max(3, min_share * len(pages))
    found = {key for key, n in at_edge.items() if n >= threshold}
    found |= {key for key, n in anywhere.items() if n >= threshold and 2 * at_edge[key] >= n}
    return {key for key in found if not _HEADINGISH.match(key) and len(key) < 120}


def _long_key(key: str) -> bool:
    """Long enough that a body line with the same key would be a coincidence."""
    return len(key) >= 12 and " " in key


def strip_furniture(lines: list[str], furniture: set[str], edge: int = 4) -> list[str]:
    """Drop running headers/footers and bare page numbers from the top and bottom of one page.

    A long running header ("EN L 180/34 Official Journal of the European Union 29.6.2013") goes
    wherever it sits: extraction often puts it above a page's footnotes, far from the edge.
    """
    keep = list(lines)
    n = len(keep)
    for i, line in enumerate(lines):
        near_edge = i < edge or i >= n - edge
        key = furniture_key(line)
        if not near_edge:
            if key in furniture and _long_key(key):
                keep[i] = None  # type: ignore[call-overload]
            continue
        if key in furniture or is_page_number(line):
            keep[i] = None  # type: ignore[call-overload]
    return [line for line in keep if line is not None]


#: a page number and a numbered section title in capitals, or the other way round: "10 6.  WHAT DO
#: EMPLOYERS HAVE TO DO UNDER ...?" as a running head over a section's continuation pages
_SECTION_HEAD = re.compile(r"^\s*(?:\d{1,4}\s+(?P<a>\d{1,2}(?:\.\d{1,2})*\.?\s+[^a-z]+?)|(?P<b>\d{1,2}(?:\.\d{1,2})*\.?\s+[^a-z]+?)\s+\d{1,4})\s*$")


_NUMBER_START = re.compile(r"^\s*(\d{1,2}(?:\.\d{1,2})*)\.?\s")
#: lines opening with one section number that are compared with a running head (a bound: linear)
_HEADING_CANDIDATES = 50


def strip_section_heads(pages: list[list[str]], edge: int = 2) -> list[list[str]]:
    """Pages without the running heads that repeat a section's title in capitals beside the page
    number ("10 6.  WHAT DO EMPLOYERS HAVE TO DO UNDER THE FAST-TRACK PROCEDURE ...?"). Each is on
    one page only, so `find_furniture` cannot see it repeat; it is known by its shape (at a page's
    top or bottom, a page number beside a numbered title with no lower-case letter, three words at
    least) and by the section's own heading elsewhere in the document: a line opening with the same
    number whose words, in any case and over up to six lines, are the head's. A numbered heading in
    capitals that no other line repeats stays."""
    starts: dict[str, list[tuple[int, int]]] = {}
    for p, lines in enumerate(pages):
        for j, line in enumerate(lines):
            m = _NUMBER_START.match(line)
            if m and len(found := starts.setdefault(m.group(1), [])) < _HEADING_CANDIDATES:
                found.append((p, j))
    out = []
    for p, lines in enumerate(pages):
        drop = set()
        for i in [*range(min(edge, len(lines))), *range(max(edge, len(lines) - edge), len(lines))]:
            m = len(lines[i]) <= 300 and _SECTION_HEAD.match(lines[i])  # a running head is short; the pattern is linear only on short lines
            title = m and (m.group("a") or m.group("b"))
            if not title or len(_WORD.findall(title)) < 3:
                continue
            key = letters_and_digits(title)
            number = _NUMBER_START.match(title)
            if len(key) >= 12 and number and any(
                (q, j) != (p, i) and letters_and_digits(" ".join(pages[q][j : j + 6])).startswith(key) for q, j in starts.get(number.group(1), ())
            ):
                drop.add(i)
        out.append([line for i, line in enumerate(lines) if i not in drop])
    return out


#: dot leaders and a page number are looked for in this many last characters of a line
TOC_TAIL = 160


def is_page_number(line: str) -> bool:
    """ "14", "Page 3", "5 of 12", "55/81": a page's number, alone on its line."""
    return bool(_PAGE_NUMBER.match(line.strip()))


def is_toc_line(line: str) -> bool:
    """A table-of-contents entry with dot leaders and a page number."""
    return bool(_TOC_LINE.search(line[-TOC_TAIL:]))  # the tail only: linear however long the line


def document_vocabulary(texts: list[str]) -> set[str]:
    """Lower-cased words (hyphenated compounds kept whole) seen anywhere in a document, less the
    fragments that only ever follow a lone capital: "nsuring" of a drop cap's "E nsuring"."""
    vocab: set[str] = set()
    for text in texts:
        text = text.replace(SOFT_HYPHEN, "")
        for m in _WORD.finditer(text):
            word = m.group(0)
            if not (word[0].islower() and re.search(r"(?:^|[\s(])[A-Z][ \t]+$", text[max(0, m.start() - 4) : m.start()])):
                vocab.add(word.lower())
    return vocab


def join_hyphenated(left: str, right: str, vocabulary: set[str]) -> tuple[str, bool]:
    """Decide how a line ending in a hyphen joins the next line.

    Returns the joined text and whether the hyphen was dropped. A soft hyphen is always dropped.
    A hard hyphen is kept when the document spells the compound with a hyphen elsewhere
    ("third-country") and dropped when it spells the word whole ("identification") or the next line
    starts in lower case (typographic hyphenation, the common case in justified text).
    """
    stripped = left.rstrip()
    if stripped.endswith(SOFT_HYPHEN):
        return stripped[:-1].rstrip() + right.lstrip(), True
    head = stripped[:-1]
    tail = right.lstrip()
    first = re.match(r"[A-Za-z\u00c0-\u024f]+", tail)
    last = re.search(r"[A-Za-z\u00c0-\u024f]+$", head)
    if not first or not last:
        return stripped + tail, False
    a, b = last.group(0).lower(), first.group(0).lower()
    if f"{a}-{b}" in vocabulary and (a + b) not in vocabulary:
        return stripped + tail, False
    if (a + b) in vocabulary or tail[:1].islower():
        return head + tail, True
    return stripped + tail, False


def ends_sentence(text: str) -> bool:
    return bool(re.search(r"[.!?:;)\]\"\u201d\u2019]\s*$", text))


def ends_mid_sentence(text: str) -> bool:
    """True when a paragraph visibly stops mid-sentence: it has text but no closing punctuation."""
    stripped = text.rstrip()
    return bool(stripped) and not ends_sentence(stripped)


def ends_with_stopword(text: str) -> bool:
    words = re.findall(r"[A-Za-z]+", text[-30:])
    return bool(words) and words[-1].lower() in _STOPWORDS


#: a footnote's number set as a superscript and extracted glued to the word or the punctuation before
#: it ("climate change96.", "Obock,350 and"). A code or a figure ("SK3", "G20", "COVID-19", "1,350",
#: a link's "tmzbdl701") has capitals after its first letter, a single letter, digits or a link's
#: characters before the number; a number that none of the page's footnotes opens with is left alone
_NOTE_MARKER = re.compile(r"(?<=[a-z\u00df-\u00ff.,;:)\]\"'\u2019\u201d])(\d{1,3})(?=[\s.,;:)\]]|$)")
_NOT_A_MARKER = re.compile(r"^.+[A-Z]|^[A-Za-z]?[^A-Za-z]*$|[0-9/=_@#&]|www|http")
_BEFORE_A_NUMBER = frozenset({"p.", "pp.", "para.", "paras.", "no.", "nos.", "art.", "fn.", "n."})


def strip_note_markers(line: str, numbers: set[int]) -> str:
    """A body line with the page's footnote reference numbers taken off the words they were glued
    to: "lacked emphasis on climate change96." -> "lacked emphasis on climate change."."""
    if not numbers:
        return line

    def drop(m: re.Match) -> str:
        before = line[: m.start()].split()
        token = before[-1] if before else ""
        if int(m.group(1)) not in numbers or _NOT_A_MARKER.search(token) or token.lower() in _BEFORE_A_NUMBER:
            return m.group(0)  # another number; a code, a figure or a link; "p.12"
        return ""

    return _NOTE_MARKER.sub(drop, line)
