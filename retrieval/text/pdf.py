"""PDF text through pypdf: each page's text, page furniture removed, hyphenation and drop caps
repaired, paragraphs rejoined, headings recognised, and footnotes kept out of the sentences they
interrupt."""

from __future__ import annotations

import re

from retrieval.text import cleaning
from retrieval.text.blocks import Block, DocumentError
from retrieval.text.sections import (
    Heading,
    back_matter_heading,
    fix_small_caps,
    heading_level,
    heading_number,
    legal_heading,
    numbered_heading,
)


def read_pdf(data: bytes) -> tuple[list[str], str, list[set[str]]]:
    """The text of each page, the PDF's own title, and each page's footnote lines (normalised, see
    `footnote_lines`), through pypdf; the footnotes come from the same pass, from font sizes."""
    import io
    import logging

    import pypdf
    from pypdf.errors import PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except Exception as exc:  # pypdf raises several types for unsupported crypto
                raise DocumentError(f"encrypted PDF: {exc}") from exc
            if not ok:
                raise DocumentError("encrypted PDF: a password is needed to read it")
        pages, runs = [], []
        for page in reader.pages:
            collect = _TextRuns()
            pages.append(fix_small_caps_residue(page.extract_text(visitor_text=collect) or "", collect.small_caps))
            runs.append(collect.runs)
        title = ""
        try:
            title = (reader.metadata.title or "") if reader.metadata else ""
        except Exception:
            title = ""
    except DocumentError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError) as exc:
        raise DocumentError(f"unreadable PDF (corrupt or truncated): {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc
    if not pages:
        raise DocumentError("PDF has no pages")
    return pages, title.strip(), footnote_lines(runs)


#: a small-capitals font by its name ("Wessex-RomanTitling-SC700", "Minion-SmallCaps", "...-SmCp")
_SMALL_CAPS_FONT = re.compile(r"(?:^|[-_+,])(?:SC\d*|SmallCaps?|SmCp)(?:$|[-_,])")
_LETTERS = re.compile(r"[A-Za-z]{2,}")


class _TextRuns:
    """pypdf's text visitor: every run of text with its rendered font size and baseline height, and
    the words a small-capitals font gave in mixed case (see `fix_small_caps_residue`)."""

    def __init__(self) -> None:
        self.runs: list[tuple[float, float, str]] = []
        self.small_caps: set[str] = set()

    def __call__(self, text, cm, tm, font_dict, font_size) -> None:
        if not text or not text.strip() or not tm or not cm:
            return
        font = str(font_dict.get("/BaseFont", "")) if font_dict else ""
        if _SMALL_CAPS_FONT.search(font):
            self.small_caps.update(w for w in _LETTERS.findall(text) if not (w.islower() or w.isupper() or w.istitle()))
        scale = abs(tm[3] * cm[3]) or abs(tm[0] * cm[0]) or 1.0
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        self.runs.append((float(font_size) * scale, y, text))


def fix_small_caps_residue(text: str, words: set[str]) -> str:
    """A page's text with the words a small-capitals font gave in mixed case written plainly: such a
    font maps its small capitals to lower-case letters and some of its glyphs to capitals, so "The
    Conference" comes out "The ConferenCe" and "the States Parties" "the StAteS pArtieS". Each such
    word keeps its first letter's case and the rest goes to lower case ("Conference", "parties")."""
    if not words:
        return text
    return re.sub(r"[A-Za-z]+", lambda m: m.group(0)[0] + m.group(0)[1:].lower() if m.group(0) in words else m.group(0), text)  # one pass: linear


#: a page on which at least this share of the lines are table-of-contents entries is a contents page
CONTENTS_PAGE_SHARE = 0.6
_CONTENTS = re.compile(r"^(table of )?contents\s*$|^list of (figures|tables|abbreviations)\s*$", re.IGNORECASE)
#: a footnote's number, set apart from its text in the PDF (a separate, smaller run)
_NOTE_NUMBER = re.compile(r"^\s*(\(\d{1,3}\)|\d{1,3})\s*")
#: the number a footnote line opens with, before a space or its first word ("96 Mid Term Review", "(3)See")
_NOTE_NUMBER_ONLY = re.compile(r"^\s*\(?(\d{1,3})\)?(?=\s|[A-Z])")


#: a line set in type this much smaller than the body text, below every body line of its page,
#: is a footnote (the body size is the size most of the document's characters are set in)
FOOTNOTE_SIZE_RATIO = 0.88


def footnote_lines(runs: list[list[tuple[float, float, str]]]) -> list[set[str]]:
    """Per page, the footnote lines (normalised: lower case, letters and digits): lines set in
    small type that sit below every line of body text, as footnotes do. Tables and captions in
    small type between body paragraphs are not footnotes and stay."""
    sizes: dict[float, int] = {}
    for page in runs:
        for size, _, text in page:
            sizes[round(size, 1)] = sizes.get(round(size, 1), 0) + len(text.strip())
    if not sizes:
        return [set() for _ in runs]
    body = max(sizes, key=sizes.get)
    notes: list[set[str]] = []
    for page in runs:
        lines: dict[int, list[tuple[float, str]]] = {}
        for size, y, text in page:
            lines.setdefault(round(y), []).append((size, text))
        # a page number set in body type below the footnotes ("14") is not body text
        body_ys = [
            y for y, parts in lines.items()
            if any(size >= FOOTNOTE_SIZE_RATIO * body and len(text.strip()) > 1 for size, text in parts)
            and not cleaning.is_page_number("".join(text for _, text in parts))
        ]
        lowest_body = min(body_ys) if body_ys else None
        found = set()
        for y, parts in lines.items():
            if lowest_body is not None and y < lowest_body:
                key = cleaning.letters_and_digits("".join(text for _, text in parts))
                if len(key) >= 8:
                    found.add(key)
        notes.append(found)
    return notes


def _median(values: list[int]) -> int:
    values = sorted(values)
    return values[len(values) // 2] if values else 0


def pdf_blocks(pages: list[str], notes: list[set[str]] | None = None) -> list[Block]:
    """Blocks from the text of each page: furniture removed, hyphenation repaired, paragraphs
    rejoined. Footnote lines (`notes`, per page) never enter a paragraph: each footnote becomes a
    block of its own, placed where no sentence runs across it (see `place_notes`)."""
    page_lines = [
        [line.rstrip() for line in cleaning.normalise_characters(text).split("\n") if line.strip()]
        for text in pages
    ]
    page_lines = cleaning.strip_section_heads(page_lines)
    furniture = cleaning.find_furniture(page_lines)
    vocabulary = cleaning.document_vocabulary(pages)
    lines: list[tuple[int, str]] = []
    page_notes: dict[int, list[str]] = {}  # page -> its footnote lines, in order
    for number, plines in enumerate(page_lines, start=1):
        on_page = notes[number - 1] if notes and number <= len(notes) else set()
        in_contents = False  # the previous line was a table-of-contents entry (or its heading)
        wrapped = False  # the last line kept came right after one: maybe the first line of a wrapped entry
        kept = cleaning.strip_furniture(plines, furniture)
        if kept and sum(map(cleaning.is_toc_line, kept)) >= CONTENTS_PAGE_SHARE * len(kept):
            # a contents page: entries whose dot leaders extraction lost, or that wrap, are entries
            # too; only what comes before its "Contents" heading (a title block) stays
            heading = next((j for j, line in enumerate(kept) if _CONTENTS.match(line.strip())), 0)
            kept = [line for line in kept[:heading] if not cleaning.is_toc_line(line)]
        is_note = [bool(on_page) and (cleaning.letters_and_digits(line) in on_page or cleaning.letters_and_digits(_NOTE_NUMBER.sub("", line, count=1)) in on_page) for line in kept]
        # the numbers the page's footnotes open with: glued to a word in the body text, they are references
        note_numbers = {int(m.group(1)) for line, note in zip(kept, is_note) if note and (m := _NOTE_NUMBER_ONLY.match(line))}
        for line, note in zip(kept, is_note):
            if note:
                page_notes.setdefault(number, []).append(line.strip())
                continue
            line = cleaning.strip_note_markers(line, note_numbers)
            if cleaning.is_toc_line(line) or _CONTENTS.match(line.strip()):
                # an entry wrapped over two lines ("3. How do employers benefit from the ... for" /
                # "skilled workers? ....... 5"): its first line goes too
                if wrapped and lines and lines[-1][0] == number and not cleaning.ends_sentence(lines[-1][1]):
                    lines.pop()
                in_contents, wrapped = True, False
                continue
            wrapped, in_contents = in_contents, False
            line = line.strip()
            if lines and lines[-1][0] == number:
                joined = cleaning.join_drop_cap(lines[-1][1], line, vocabulary)
                if joined is not None:  # "(1) H" / "as been considered": the initial on a line of its own
                    lines[-1] = (number, joined)
                    continue
            lines.append((number, cleaning.repair_drop_cap(line, vocabulary)))
    typical = _median([len(line) for _, line in lines]) or 80

    blocks: list[Block] = []
    pieces: list[tuple[int | None, str]] = []

    deferred: list[str] = []  # footnotes waiting for the paragraph they interrupt to end

    def flush() -> None:
        if pieces:
            blocks.append(Block("text", tuple(pieces)))
            last_page = pieces[-1][0]
            pieces.clear()
            blocks.extend(Block("text", ((last_page, note),)) for note in deferred)
            deferred.clear()

    def place_notes(upto: int) -> None:
        """The footnotes of pages before `upto`, as blocks of their own, where no sentence runs across
        them and pages stay in order: before the paragraph still open when it began on their page
        (it runs on over the page break), else after it (it began on an earlier page)."""
        for number in sorted(n for n in page_notes if n < upto):
            notes_here = _footnotes(page_notes.pop(number))
            if not pieces or pieces[0][0] == number:
                blocks.extend(Block("text", ((number, note),)) for note in notes_here)
            else:
                deferred.extend(notes_here)

    i = 0
    in_article = False  # inside a legal act's Article, "2. Where ..." opens a numbered paragraph, never a heading
    while i < len(lines):
        page, line = lines[i]
        if page_notes:
            place_notes(page)
        nxt = lines[i + 1][1] if i + 1 < len(lines) else None
        # a line that goes on with a sentence the previous line left open on a lower-case word ("... or
        # based directly on" / "Article 21 TFEU, as a matter of law ...") is that sentence's, not a heading
        legal = None if pieces and re.search(r"\b[a-z]+\s*$", pieces[-1][1]) else legal_heading(line)
        heading = None
        if legal:
            name, rest = legal
            if not rest and nxt is not None and _is_title_line(nxt):
                rest = nxt
                i += 1
                # a title wrapped onto a second line: "... an application for" / "international protection"
                after = lines[i + 1] if i + 1 < len(lines) else None
                if after and after[0] == page and _is_title_continuation(rest, after[1]):
                    rest = f"{rest} {after[1]}"
                    i += 1
            text = f"{name} {fix_small_caps(rest)}".strip() if rest and len(rest) <= 200 else name
            heading = Block("heading", ((page, text),), heading_level(name))
            in_article = name.startswith("Article")
        elif not (in_article and re.match(r"^\d{1,3}\.\s", line)):
            numbered, used = _numbered_heading_at(lines, i)
            if numbered and ((i + used < len(lines) and _next_sibling(numbered.text, lines[i + used][1])) or _follows_in_list(pieces, line)):
                numbered = None  # "1. Enhance ..." straight before "2. Strengthen ...", or "7. Build ..." after "6. ...": a numbered list
            if numbered:
                heading = Block("heading", ((page, numbered.text),), numbered.level)
                i += used - 1
        if heading is None and (not pieces or cleaning.ends_sentence(pieces[-1][1])):
            back = back_matter_heading(line)  # "References", "Annex 1: ...": a report's back matter
            if back is not None:
                heading, in_article = Block("heading", ((page, back.text),), back.level), False
        if heading is not None:
            flush()
            blocks.append(heading)
            i += 1
            continue
        if not pieces:
            pieces.append((page, line))
        else:
            prev = pieces[-1][1]
            spaced = bool(_SPACED_HYPHEN_BREAK.search(prev)) and line[:1].islower()
            if spaced or (prev.rstrip().endswith(("-", cleaning.SOFT_HYPHEN)) and not prev.rstrip().endswith(" -")):
                # "coun -" / "tries": some typesetting puts a space before the line-end hyphen
                head = prev.rstrip()[:-2] + "-" if spaced else prev
                joined, _ = cleaning.join_hyphenated(head, line, vocabulary)
                # keep the joined text on the page where it started; the tail goes with it
                pieces[-1] = (pieces[-1][0], joined)
            elif _starts_paragraph(prev, line, typical) or _follows_in_list(pieces, line):  # "6. ..." after "5. ..." with no full stop
                flush()
                pieces.append((page, line))
            else:
                pieces.append((page, " " + line))
        i += 1
    flush()
    place_notes(len(pages) + 1)
    return blocks


#: a line ending in a word's first letters, a space and a hyphen ("demo -"): a word broken over the
#: line end when the next line goes on in lower case ("graphic change"); a dash when it does not
_SPACED_HYPHEN_BREAK = re.compile(r"[a-z\u00df-\u00ff] -\s*$")
_NOTE_START = re.compile(r"^(\(\d{1,3}\)|\d{1,3}|\*+)\s*\S")


def _footnotes(lines: list[str]) -> list[str]:
    """Footnote lines grouped into footnotes: a new one starts at its number ("65 Multiple ...",
    "(32) See ..."); a line without one goes on the footnote before it."""
    notes: list[str] = []
    for line in lines:
        if notes and not _NOTE_START.match(line):
            notes[-1] = f"{notes[-1][:-1]}{line}" if notes[-1].endswith("-") else f"{notes[-1]} {line}"
        else:
            notes.append(line)
    return notes


def _numbered_heading_at(lines: list[tuple[int, str]], i: int, max_lines: int = 3) -> tuple[Heading | None, int]:
    """A numbered heading starting at line i, possibly wrapped over up to `max_lines` lines of one page."""
    page = lines[i][0]
    if not re.match(r"^\S+\s+\S", lines[i][1]):
        return None, 0  # a bare number on its own line: a table cell or a page number
    parts: list[str] = []
    for extra in range(max_lines):
        j = i + extra
        if j >= len(lines) or lines[j][0] != page:
            break
        parts.append(lines[j][1])
        text = " ".join(parts)
        after = lines[j + 1][1] if j + 1 < len(lines) else None
        heading = numbered_heading(text, after, max_chars=(100, 200, 260)[extra])
        if heading:
            # a last word or two wrapped onto the next line ("... for Skilled" / "Workers")
            if after and j + 1 < len(lines) and lines[j + 1][0] == page and len(after.split()) <= 2 and after[:1].isupper():
                longer = numbered_heading(f"{text} {after}", lines[j + 2][1] if j + 2 < len(lines) else None, 200)
                if longer and not re.search(r"[.;:,]\s*$", after):
                    return longer, extra + 2
            return heading, extra + 1
        if re.search(r"[.;!?]\s*$", text):
            break
    return None, 0


#: how a list item or a heading is numbered: "3. ", "3) ", "4.2 ", "4.2. "
_LIST_NUMBER = re.compile(r"^\d{1,2}(?:[.)]|(?:\.\d{1,2})+\.?)\s")


def _next_sibling(heading: str, line: str) -> bool:
    """Whether a line opens with the number that comes right after a heading's at its level ("2."
    after "1. ...", "4.3" after "4.2 ..."): a heading is followed by its text, a list item by the next."""
    if not (_LIST_NUMBER.match(heading) and _LIST_NUMBER.match(line)):
        return False  # "2 August 2031" / "3 August 2026": numbers, not a list's
    number, following = heading_number(heading), heading_number(line)
    return bool(number and following) and following == (*number[:-1], number[-1] + 1)


def _follows_in_list(pieces: list[tuple[int | None, str]], line: str) -> bool:
    """Whether a line opens the next item of a numbered list that one of the paragraph's lines opened."""
    return bool(_LIST_NUMBER.match(line)) and any(_next_sibling(piece.strip(), line) for _, piece in pieces)


def _is_title_line(line: str) -> bool:
    return (
        len(line) <= 100
        and not line.endswith((".", ",", ";"))
        and not re.match(r"^(\d+\.|\(\w+\))\s", line)
        and legal_heading(line) is None
    )


def _is_title_continuation(title: str, line: str) -> bool:
    """The second line of a wrapped legal title: goes on in lower case, or in capitals after a title in capitals."""
    if not _is_title_line(line) or len(title) + len(line) > 200:
        return False
    return line[:1].islower() or (title.isupper() and line.isupper())


_ITEM_START = re.compile(r"^(\u2022|-|\u2013|\u2014|\(\w{1,4}\)|\d{1,3}\.\s|[A-Z]{1,3}\d+(\.\d+)*\.\s)")


#: a row of a table of figures: a label of a word or two, then at least three numbers and nothing else
_NUMBER_ROW = re.compile(r"^\s*(?:[A-Za-z][\w/()-]*\s+){0,2}(?:\d[\d.,%]*\s+){2,}\d[\d.,%]*\s*$")


def _starts_paragraph(prev: str, line: str, typical: int) -> bool:
    if prev.rstrip().endswith("\u2022"):
        return False  # a bullet extracted on its own line belongs to the next line
    if _NUMBER_ROW.match(prev) and line[:1].isupper() and not _NUMBER_ROW.match(line):
        return True  # a table's last row of figures ("Total 19 25 26 ... 154"), then the text goes on
    if not cleaning.ends_sentence(prev):
        return line.startswith("\u2022")  # a new bullet item, even after an item with no full stop
    if _ITEM_START.match(line):
        return True
    return len(prev) < 0.75 * typical and line[:1].isupper()

