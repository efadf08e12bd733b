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

from retrieval.text.blocks import Block, DocumentError
from retrieval.text.markdown import markdown_blocks
from retrieval.text.pdf import pdf_blocks, read_pdf
from retrieval.text.sections import Heading, SectionTracker

#: bump when loading or cleaning changes what text comes out: indexes made by another version are rebuilt
PARSER_VERSION = 16
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
CATALOGUE_FIELDS = ("title", "short_title", "author", "year", "aliases")


def split_names(text: str) -> list[str]:
    """Other names of a document as typed in one line ("Dublin III, Dublin Regulation; 604/2013"):
    split at commas and semicolons, each trimmed, the empty and repeated ones dropped."""
    return list(dict.fromkeys(" ".join(part.split()) for part in re.split(r"[,;]", text) if part.strip()))


class CatalogueError(ValueError):
    """The catalogue cannot be written (it is not valid TOML as it stands); the message is one line."""


def set_catalogue_entry(corpus_dir: Path, name: str, entry: dict[str, str]) -> None:
    """Write one document's description into the corpus catalogue, atomically: the given fields
    replace those of its table (the others, such as the source, stay), or a table is added; a field
    left empty is not written. `aliases`, the other names people use for the document, is typed as
    one line and written as a list (`split_names`). The rest of the file (other tables, comments,
    the way headers are written) is kept as it is, and so are the file's permissions. Written with
    tomlkit, which escapes what TOML strings may not hold (a DEL or another control character in a
    title). Raises CatalogueError, with the file untouched, when the catalogue is not valid
    TOML as it stands."""
    import os
    import tempfile

    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    path = Path(corpus_dir) / CATALOGUE_FILE
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    try:
        tomllib.loads(text)  # the reader the build uses decides what is valid
        doc = tomlkit.parse(text)
    except (tomllib.TOMLDecodeError, TOMLKitError) as exc:
        reason = " ".join(str(exc).split())
        raise CatalogueError(f"{CATALOGUE_FILE} is not valid TOML ({reason}): correct it by hand; the description was not written") from None
    values: dict[str, str | list[str]] = {key: str(value).strip() for key, value in entry.items() if key != "aliases" and str(value).strip()}
    aliases = split_names(str(entry.get("aliases", "")))
    if aliases:
        values["aliases"] = aliases
    table = doc.get(name)
    if not isinstance(table, dict):
        if table is not None:
            raise CatalogueError(f"{CATALOGUE_FILE} gives {name!r} a value that is not a table: correct it by hand; the description was not written")
        table = tomlkit.table()
        doc.append(name, table)
        table = doc[name]
    for key, value in values.items():  # other fields (the source, aliases not typed) stay
        table[key] = value
    out = tomlkit.dumps(doc)
    if out and not out.endswith("\n"):
        out += "\n"
    tomllib.loads(out)  # never write a catalogue the build could not read
    mode = (path.stat().st_mode & 0o7777) if path.exists() else 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(prefix=".catalogue-", dir=corpus_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(out)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)  # mkstemp makes 0600: the file keeps the permissions it had
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """This process's umask, read without changing it (os.umask would, for every thread, a moment)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


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
