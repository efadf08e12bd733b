"""Loading source documents (PDF, Markdown, plain text) into clean text with pages and sections.

A `Document` holds one cleaned text; `page_starts` maps character offsets back to the PDF's page
numbers and `sections` gives the section path of every stretch of text, so a chunk cut anywhere in
the text knows its pages and section, and the UI can show the text around it.
"""

from __future__ import annotations

import bisect
import hashlib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from retrieval import cleaning
from retrieval.sections import (
    Heading,
    SectionTracker,
    clean_heading_text,
    fix_small_caps,
    heading_level,
    legal_heading,
    numbered_heading,
)

#: bump when loading or cleaning changes what text comes out: indexes made by another version are rebuilt
PARSER_VERSION = 3
SUPPORTED_SUFFIXES = {".pdf": "pdf", ".md": "markdown", ".markdown": "markdown", ".txt": "text"}
CATALOGUE_FILE = "catalogue.toml"


class DocumentError(Exception):
    """A document that cannot be loaded; the message is one line for the build summary."""


@dataclass(frozen=True)
class Section:
    path: tuple[str, ...]
    start: int
    end: int

    @property
    def label(self) -> str:
        return " > ".join(self.path)


@dataclass(frozen=True)
class Document:
    doc_id: str  # the file name in the corpus folder
    title: str
    text: str
    sections: tuple[Section, ...]
    #: (page number, offset of the page's first character in `text`), ascending; empty when the
    #: source has no pages (Markdown and text files)
    page_starts: tuple[tuple[int, int], ...] = ()
    pages: int = 0
    kind: str = "text"
    sha256: str = ""
    author: str = ""
    year: str = ""
    source: str = ""
    warnings: tuple[str, ...] = ()

    def page_at(self, offset: int) -> int | None:
        if not self.page_starts:
            return None
        starts = [start for _, start in self.page_starts]
        i = max(0, bisect.bisect_right(starts, offset) - 1)
        return self.page_starts[i][0]


@dataclass(frozen=True)
class Block:
    """A heading or a paragraph as the loader found it; pieces keep the page of each stretch."""

    kind: str  # "heading" | "text"
    pieces: tuple[tuple[int | None, str], ...]
    level: int = 1

    @property
    def text(self) -> str:
        return "".join(text for _, text in self.pieces)


# --------------------------------------------------------------------------- catalogue


def load_catalogue(corpus_dir: Path) -> dict[str, dict]:
    """The corpus catalogue: `[ "file.pdf" ]` tables with title, author, year, source."""
    path = Path(corpus_dir) / CATALOGUE_FILE
    if not path.exists():
        return {}
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise DocumentError(f"{path}: invalid TOML: {exc}") from exc
    return {name: dict(entry) for name, entry in data.items() if isinstance(entry, dict)}


def sniff_kind(path: Path, head: bytes) -> str:
    """The document type by content first (a PDF is a PDF whatever its name), then by suffix."""
    if head.startswith(b"%PDF-"):
        return "pdf"
    kind = SUPPORTED_SUFFIXES.get(path.suffix.lower())
    if kind == "pdf":
        raise DocumentError("not a PDF: the file does not start with a PDF header (corrupt or mislabelled)")
    if kind is None:
        raise DocumentError(f"unsupported file type {path.suffix or '(no suffix)'!r}: use PDF, Markdown or text")
    if b"\x00" in head:
        raise DocumentError("binary content in a text file")
    return kind


def load_document(path: Path, catalogue: dict[str, dict] | None = None, data: bytes | None = None) -> Document:
    """Load, clean and sectionise one file. Raises DocumentError with a one-line reason."""
    path = Path(path)
    if data is None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise DocumentError(f"cannot read file: {exc.strerror or exc}") from exc
    if not data.strip():
        raise DocumentError("empty file")
    kind = sniff_kind(path, data[:1024])
    warnings: list[str] = []
    meta_title = ""
    if kind == "pdf":
        pages, meta_title = read_pdf(data)
        blocks = pdf_blocks(pages)
        n_pages = len(pages)
    else:
        text = decode_text(data, warnings)
        blocks = markdown_blocks(text) if kind == "markdown" else markdown_blocks(text, markdown=False)
        n_pages = 0
    text, page_starts, sections = assemble(blocks)
    if len(re.sub(r"\s", "", text)) < 20:
        if kind == "pdf":
            raise DocumentError("no extractable text: a scanned PDF? OCR would be needed")
        raise DocumentError("no text content")
    entry = (catalogue or {}).get(path.name, {})
    title = entry.get("title") or meta_title or first_heading(blocks) or path.stem.replace("-", " ").replace("_", " ")
    return Document(
        doc_id=path.name,
        title=str(title),
        text=text,
        sections=sections,
        page_starts=page_starts,
        pages=n_pages,
        kind=kind,
        sha256=hashlib.sha256(data).hexdigest(),
        author=str(entry.get("author", "")),
        year=str(entry.get("year", "")),
        source=str(entry.get("source", "")),
        warnings=tuple(warnings),
    )


def decode_text(data: bytes, warnings: list[str]) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        warnings.append("not UTF-8: decoded as Windows-1252, some characters may be wrong")
        return data.decode("cp1252", errors="replace")


def first_heading(blocks: list[Block]) -> str:
    for block in blocks:
        if block.kind == "heading":
            return block.text
    return ""


# --------------------------------------------------------------------------- assembly


def assemble(blocks: list[Block]) -> tuple[str, tuple[tuple[int, int], ...], tuple[Section, ...]]:
    """Join blocks into one text, recording page starts and the section of every stretch."""
    parts: list[str] = []
    pos = 0
    page_starts: list[tuple[int, int]] = []
    sections: list[Section] = []
    tracker = SectionTracker()
    path: tuple[str, ...] = ()
    body_start = 0

    def close(end: int) -> None:
        if end > body_start:
            sections.append(Section(path, body_start, end))

    for block in blocks:
        if parts:
            parts.append("\n\n")
            pos += 2
        if block.kind == "heading":
            close(pos - 2 if parts[:-1] else pos)
            path = tracker.push(Heading(block.text, block.level))
        for page, piece in block.pieces:
            if page is not None and (not page_starts or page_starts[-1][0] != page):
                page_starts.append((page, pos))
            parts.append(piece)
            pos += len(piece)
        if block.kind == "heading":
            body_start = pos + 2
    close(pos)
    return "".join(parts), tuple(page_starts), tuple(s for s in sections if s.end > s.start)


# --------------------------------------------------------------------------- PDF


def read_pdf(data: bytes) -> tuple[list[str], str]:
    """The text of each page and the PDF's own title, through pypdf."""
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
        pages = [page.extract_text() or "" for page in reader.pages]
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
    return pages, title.strip()


def _median(values: list[int]) -> int:
    values = sorted(values)
    return values[len(values) // 2] if values else 0


def pdf_blocks(pages: list[str]) -> list[Block]:
    """Blocks from the text of each page: furniture removed, hyphenation repaired, paragraphs rejoined."""
    page_lines = [
        [line.rstrip() for line in cleaning.normalise_characters(text).split("\n") if line.strip()]
        for text in pages
    ]
    furniture = cleaning.find_furniture(page_lines)
    vocabulary = cleaning.document_vocabulary(pages)
    lines: list[tuple[int, str]] = []
    for number, plines in enumerate(page_lines, start=1):
        for line in cleaning.strip_furniture(plines, furniture):
            if not cleaning.is_toc_line(line):
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

    def flush() -> None:
        if pieces:
            blocks.append(Block("text", tuple(pieces)))
            pieces.clear()

    i = 0
    in_article = False  # inside a legal act's Article, "2. Where ..." opens a numbered paragraph, never a heading
    while i < len(lines):
        page, line = lines[i]
        nxt = lines[i + 1][1] if i + 1 < len(lines) else None
        legal = legal_heading(line)
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
            if numbered:
                heading = Block("heading", ((page, numbered.text),), numbered.level)
                i += used - 1
        if heading is not None:
            flush()
            blocks.append(heading)
            i += 1
            continue
        if not pieces:
            pieces.append((page, line))
        else:
            prev = pieces[-1][1]
            if prev.rstrip().endswith(("-", cleaning.SOFT_HYPHEN)) and not prev.rstrip().endswith(" -"):
                joined, _ = cleaning.join_hyphenated(prev, line, vocabulary)
                # keep the joined text on the page where it started; the tail goes with it
                pieces[-1] = (pieces[-1][0], joined)
            elif _starts_paragraph(prev, line, typical):
                flush()
                pieces.append((page, line))
            else:
                pieces.append((page, " " + line))
        i += 1
    flush()
    return blocks


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
        heading = numbered_heading(text, after, max_chars=100 if extra == 0 else 200)
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


def _starts_paragraph(prev: str, line: str, typical: int) -> bool:
    if prev.rstrip().endswith("\u2022"):
        return False  # a bullet extracted on its own line belongs to the next line
    if not cleaning.ends_sentence(prev):
        return line.startswith("\u2022")  # a new bullet item, even after an item with no full stop
    if _ITEM_START.match(line):
        return True
    return len(prev) < 0.75 * typical and line[:1].isupper()


# --------------------------------------------------------------------------- Markdown and text

_MD_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_MD_AUTOLINK = re.compile(r"<(https?://[^>\s]+|mailto:[^>\s]+)>")
_SUP = re.compile(r"<sup>\s*([^<]*?)\s*</sup>")
_SUPERSCRIPT_DIGITS = "\u00b9\u00b2\u00b3\u2070\u2074\u2075\u2076\u2077\u2078\u2079"
_FOOTNOTE_START = re.compile(r"^(<sup>\s*\d+\s*</sup>|[" + _SUPERSCRIPT_DIGITS + r"]+)")


def _clean_markdown_inline(text: str) -> str:
    text = _MD_IMAGE.sub("", text)
    text = _MD_LINK.sub(r"\1", text)
    text = _MD_AUTOLINK.sub(r"\1", text)
    text = _SUP.sub("", text)
    text = re.sub(r"(?<=[\w.,;)\u2019\"])[" + _SUPERSCRIPT_DIGITS + r"]+", "", text)
    text = re.sub(r"\*{1,3}|(?<!\w)_{1,2}|_{1,2}(?!\w)", "", text)
    text = re.sub(r"\\([\\`*_{}\[\]()#+\-.!|>])", r"\1", text)
    text = re.sub(r"[ \t]*\n[ \t]*", " ", text)
    return re.sub(r" {2,}", " ", text).strip()


def _is_plain_heading(text: str) -> bool:
    """A one-line paragraph that reads as a heading: short, capitalised, no closing punctuation."""
    return (
        len(text) <= 90
        and "\n" not in text.strip()
        and text[:1].isupper()
        and not cleaning.ends_sentence(text)
        and ":" not in text
        and not text.endswith(",")
        and not cleaning.ends_with_stopword(text)
        and len(re.findall(r"[A-Za-z]", text)) >= 3
        and not re.match(r"^[-*+\u2022]\s", text)
        and not re.search(r"[,\u2022\d]", text)
    )


def markdown_blocks(text: str, markdown: bool = True) -> list[Block]:
    """Blocks from Markdown (or plain text): headings by '#', numbering or a heading-like line.

    Footnotes and page furniture that interrupt a paragraph (the paragraph stops mid-sentence and
    resumes in lower case a few blocks later) are moved after the rejoined paragraph.
    """
    text = cleaning.normalise_characters(text.replace("\r\n", "\n").replace("\r", "\n"))
    raw = [p.strip("\n") for p in re.split(r"\n\s*\n", text) if p.strip()]
    items: list[tuple[str, str, int]] = []  # (kind, text, level); kind: heading, text, aside
    # a numbered list of plain-line headings ("1. Financial support") under a plain-line heading
    # ("Main trends of reintegration policies") nests below it; '#' headings carry no such context
    plain_parent_level = 0
    for para in raw:
        stripped = para.strip()
        if re.fullmatch(r"[-*_=\s]{3,}", stripped):
            continue  # a horizontal rule
        if cleaning.is_toc_line(stripped) or all(cleaning.is_toc_line(l) for l in stripped.splitlines()):
            continue
        md_heading = markdown and re.match(r"^(#{1,6})\s+(.*)$", stripped, re.DOTALL)
        if md_heading:
            title = clean_heading_text(_clean_markdown_inline(md_heading.group(2)))
            if title:
                items.append(("heading", title, heading_level(title)))
                plain_parent_level = 0
            continue
        is_aside = bool(_FOOTNOTE_START.match(stripped))
        body = _clean_markdown_inline(stripped) if markdown else re.sub(r"\s*\n\s*", " ", stripped)
        if is_aside:
            body = _SUP.sub(r"\1", stripped) if markdown else body
            body = _clean_markdown_inline(body) if markdown else body
            items.append(("aside", body, 0))
            continue
        if not body:
            continue
        numbered = numbered_heading(body)
        if numbered and len(body) <= 90:
            items.append(("heading", numbered.text, numbered.level + plain_parent_level))
        elif _is_plain_heading(body):
            items.append(("heading", body, heading_level(body)))
            plain_parent_level = heading_level(body)
        else:
            items.append(("text", body, 0))
    items = _rejoin_interrupted(items)
    return [Block(kind if kind == "heading" else "text", ((None, body),), level) for kind, body, level in items]


def _rejoin_interrupted(items: list[tuple[str, str, int]], lookahead: int = 6) -> list[tuple[str, str, int]]:
    items = list(items)
    out: list[tuple[str, str, int]] = []
    i = 0
    while i < len(items):
        kind, body, level = items[i]
        if kind == "text" and cleaning.ends_mid_sentence(body):
            # look past footnotes and short furniture for the paragraph's lower-case continuation
            between: list[tuple[str, str, int]] = []
            j = i + 1
            while j < len(items) and j <= i + lookahead:
                next_kind, next_body, _ = items[j]
                if next_kind == "text" and next_body[:1].islower():
                    break
                if next_kind != "aside" and len(next_body) > 60:
                    j = len(items)
                    break
                between.append(items[j])
                j += 1
            if j < len(items) and j <= i + lookahead and items[j][0] == "text" and items[j][1][:1].islower():
                merged = ("text", body + " " + items[j][1], 0)
                # footnotes follow the rejoined paragraph; short furniture (logos, running titles) goes
                footnotes = [item for item in between if item[0] == "aside"]
                items[i : j + 1] = [merged, *footnotes]
                continue
        out.append(("text" if kind == "aside" else kind, body, level))
        i += 1
    return out
