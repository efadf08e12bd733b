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

from retrieval.blocks import Block, DocumentError
from retrieval.markdown_text import markdown_blocks
from retrieval.pdf_text import pdf_blocks, read_pdf
from retrieval.sections import Heading, SectionTracker

#: bump when loading or cleaning changes what text comes out: indexes made by another version are rebuilt
PARSER_VERSION = 14
SUPPORTED_SUFFIXES = {".pdf": "pdf", ".md": "markdown", ".markdown": "markdown", ".txt": "text"}
CATALOGUE_FILE = "catalogue.toml"


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


#: what the app lets a maintainer describe when uploading
CATALOGUE_FIELDS = ("title", "short_title", "author", "year")


def set_catalogue_entry(corpus_dir: Path, name: str, entry: dict[str, str]) -> None:
    """Write one document's description into the corpus catalogue, atomically: the given fields
    replace those of its table (the others, such as aliases, stay), or a table is added; the rest
    of the file (other tables, comments) is kept as it is."""
    import json
    import os
    import tempfile

    path = Path(corpus_dir) / CATALOGUE_FILE
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    header = f"[{json.dumps(name, ensure_ascii=False)}]"
    merged = dict(tomllib.loads(text).get(name, {})) if text else {}
    merged.update({key: str(value).strip() for key, value in entry.items() if str(value).strip()})  # kept: aliases, source
    body = "".join(f"{key} = {json.dumps(value if isinstance(value, list) else str(value), ensure_ascii=False)}\n" for key, value in merged.items())
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.strip() == header), None)
    if start is None:
        text = text.rstrip("\n") + ("\n\n" if text.strip() else "") + header + "\n" + body
    else:
        end = next((j for j in range(start + 1, len(lines)) if lines[j].lstrip().startswith("[")), len(lines))
        while end > start + 1 and not lines[end - 1].strip():
            end -= 1
        text = "".join(lines[:start]) + header + "\n" + body + "".join(("\n", *lines[end:])) if end < len(lines) else "".join(lines[:start]) + header + "\n" + body
    tomllib.loads(text)  # never write a catalogue the build could not read
    fd, tmp = tempfile.mkstemp(prefix=".catalogue-", dir=corpus_dir)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


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
        pages, meta_title, notes = read_pdf(data)
        blocks = pdf_blocks(pages, notes)
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
