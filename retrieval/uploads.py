"""Documents added through the app: checked by content and size, stored under a safe name.

The browser's file name and type are only hints. The content decides the type (a PDF starts with
"%PDF-" and pypdf can open it; Markdown and text decode as UTF-8 with no binary bytes), the name is
reduced to a plain ASCII base name with the suffix of the detected type, and the file is written
atomically into the corpus folder, never outside it and never over another document.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

#: binary formats people upload by mistake, named so the message can say what the file is
_MAGIC = {
    b"PK\x03\x04": "a ZIP archive or an Office document (save it as PDF)",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"\xd0\xcf\x11\xe0": "an old Office document (save it as PDF)",
    b"{\\rtf": "an RTF document (save it as PDF)",
    b"\x7fELF": "a program",
    b"MZ": "a Windows program",
}
SUFFIXES = {"pdf": ".pdf", "markdown": ".md", "text": ".txt"}
_TEXT_SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".txt": "text"}
MAX_NAME = 100


class UploadError(ValueError):
    """An upload that is refused; the message says why, in plain words."""


@dataclass(frozen=True)
class Upload:
    name: str  # the safe name it is stored under
    kind: str  # "pdf" | "markdown" | "text"
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


def safe_name(name: str, kind: str | None = None) -> str:
    """A plain file name: the base name only (no folders), accents folded to ASCII, anything but
    letters, digits, '.', '_' and '-' turned into '-', no leading dot, at most MAX_NAME characters,
    ending in the suffix of `kind` when given."""
    base = re.split(r"[\\/]", str(name))[-1]
    base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode("ascii")
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", stem)
    stem = re.sub(r"-{2,}", "-", stem).strip("-._")
    suffix = re.sub(r"[^A-Za-z0-9]+", "", suffix).lower()
    if kind is not None:
        wanted = SUFFIXES[kind]
        if not (f".{suffix}" == wanted or (kind == "markdown" and suffix == "markdown")):
            suffix = wanted.lstrip(".")
    stem = (stem or "document")[: MAX_NAME - len(suffix) - 1].rstrip("-._") or "document"
    return f"{stem}.{suffix}" if suffix else stem


def detect_kind(name: str, data: bytes) -> str:
    """The document type by content: 'pdf', 'markdown' or 'text'. Raises UploadError otherwise."""
    suffix = Path(str(name)).suffix.lower()
    head = data[:1024]
    if head.startswith(b"%PDF-"):  # the same test the build applies (documents.sniff_kind)
        return "pdf"
    for magic, what in _MAGIC.items():
        if head.startswith(magic):
            raise UploadError(f"this file is {what}, not a PDF, Markdown or text document")
    if suffix == ".pdf":
        raise UploadError("not a PDF: the file is named .pdf but its content does not start with a PDF header")
    if b"\x00" in data:
        raise UploadError("binary content: upload a PDF, Markdown (.md) or text (.txt) document")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UploadError(f"not UTF-8 text (byte {exc.start}): save the document as UTF-8, or as PDF") from exc
    controls = sum(1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f")
    if controls > max(3, len(text) // 1000):
        raise UploadError("binary content: upload a PDF, Markdown (.md) or text (.txt) document")
    if suffix not in _TEXT_SUFFIXES and suffix not in ("",):
        raise UploadError(f"unsupported file type {suffix!r}: upload a PDF, Markdown (.md) or text (.txt) document")
    return _TEXT_SUFFIXES.get(suffix, "text")


def _check_pdf(data: bytes) -> None:
    import logging

    import pypdf

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise UploadError("encrypted PDF: a password is needed to read it")
        if len(reader.pages) == 0:
            raise UploadError("the PDF has no pages")
    except UploadError:
        raise
    except Exception as exc:  # pypdf raises many types for damaged files
        raise UploadError(f"unreadable PDF (corrupt or truncated): {type(exc).__name__}") from exc


def validate_upload(name: str, data: bytes, max_bytes: int) -> Upload:
    """Check an uploaded file; returns what to store or raises UploadError with the reason."""
    if len(data) > max_bytes:
        raise UploadError(f"file too large: {len(data) / 1e6:.1f} MB, the limit is {max_bytes / 1e6:g} MB")
    if not data.strip():
        raise UploadError("the file is empty")
    kind = detect_kind(name, data)
    if kind == "pdf":
        _check_pdf(data)
    return Upload(safe_name(name, kind), kind, data)


def store_upload(corpus_dir: Path, upload: Upload, replace: bool = False) -> Path:
    """Write the upload into the corpus folder atomically; refuses to overwrite unless `replace`."""
    corpus_dir = Path(corpus_dir).resolve()
    corpus_dir.mkdir(parents=True, exist_ok=True)
    target = (corpus_dir / upload.name).resolve()
    if target.parent != corpus_dir or upload.name != safe_name(upload.name):
        raise UploadError(f"unsafe file name {upload.name!r}")
    if target.exists() and not replace:
        if target.is_file() and target.read_bytes() == upload.data:
            raise UploadError(f"{upload.name} is already in the corpus with the same content")
        raise UploadError(f"a document named {upload.name} already exists: rename the file, or choose to replace it")
    fd, tmp = tempfile.mkstemp(prefix=".upload-", dir=corpus_dir)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(upload.data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
