"""Documents added through the app: checked by content and size, stored under a safe name.

The browser's file name and type are only hints. The content decides the type (a PDF starts with
"%PDF-" and pypdf can open it; Markdown and text decode as UTF-8 with no binary bytes), the name is
reduced to a plain ASCII base name with the suffix of the detected type, and the file is written
atomically into the corpus folder, never outside it, never through a link, and never over another
document unless asked to; a replaced or removed document is kept (`.kept/` in the corpus folder,
named by its sha256) and can be restored.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from retrieval.store.files import fsync_dir
from retrieval.text.workers import LimitExceeded, call_limited

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


def validate_upload(name: str, data: bytes, max_bytes: int, timeout_s: float = 60.0, memory_mb: int = 2048) -> Upload:
    """Check an uploaded file; returns what to store or raises UploadError with the reason. A PDF is
    opened in a child process under the parse limits (`timeout_s`, `memory_mb`): a crafted file cannot
    stall or swell the app's process."""
    if len(data) > max_bytes:
        raise UploadError(f"file too large: {len(data) / 1e6:.1f} MB, the limit is {max_bytes / 1e6:g} MB")
    if not data.strip():
        raise UploadError("the file is empty")
    kind = detect_kind(name, data)
    if kind == "pdf":

        try:
            call_limited(lambda: _check_pdf(data), timeout_s=timeout_s, memory_mb=memory_mb)
        except LimitExceeded as exc:
            raise UploadError(f"the PDF could not be checked: opening it {exc}") from None
    return Upload(safe_name(name, kind), kind, data)


#: where replaced and removed documents are kept, inside the corpus folder (hidden: never indexed)
KEPT_DIR = ".kept"
#: the lock file in the kept folder that orders changes to the corpus folder (`corpus_lock`)
LOCK_FILE = ".lock"
#: versions of each document kept by default (RAG_KEPT_VERSIONS)
KEPT_VERSIONS = 10


def _target(corpus_dir: Path, name: str) -> Path:
    """The path of a document name in the corpus folder; refuses names that leave it, and links."""
    corpus_dir = Path(corpus_dir).resolve()
    target = corpus_dir / name
    if name != safe_name(name) or target.parent != corpus_dir:
        raise UploadError(f"unsafe file name {name!r}")
    if target.is_symlink():
        raise UploadError(f"{name} is a link in the corpus folder: it is not written through")
    return target


@contextlib.contextmanager
def corpus_lock(corpus_dir: Path):
    """One change to the corpus folder at a time, across threads and processes (an advisory lock on
    `.kept/.lock`): a replace keeps the current version and then puts the new one in its place, and
    two replaces of one name must not interleave, or the first one's file would be in neither
    corpus/ nor .kept/."""
    kept = Path(corpus_dir) / KEPT_DIR
    kept.mkdir(parents=True, exist_ok=True)
    fd = os.open(kept / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def store_upload(corpus_dir: Path, upload: Upload, replace: bool = False, keep_versions: int = KEPT_VERSIONS) -> Path:
    """Write the upload into the corpus folder atomically, never over another document unless
    `replace`; a replaced document is kept first (see `keep`), so no upload destroys a file.

    No check-then-write: the new file is written to a hidden temporary name and then linked to its
    name with os.link, which fails if the name exists, so of two uploads of one new name at the
    same moment exactly one is stored and the other is told the name is taken. A replace (keep the
    current version, then put the new one in its place) runs under `corpus_lock`, so two replaces
    of one name at once both end up somewhere: the later in the corpus, the earlier kept."""
    corpus_dir = Path(corpus_dir).resolve()
    corpus_dir.mkdir(parents=True, exist_ok=True)
    target = _target(corpus_dir, upload.name)
    fd, tmp = tempfile.mkstemp(prefix=".upload-", dir=corpus_dir)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(upload.data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        with corpus_lock(corpus_dir):
            try:
                os.link(tmp, target)
            except FileExistsError:
                if target.is_file() and not target.is_symlink() and target.read_bytes() == upload.data:
                    raise UploadError(f"{upload.name} is already in the corpus with the same content") from None
                if not replace:
                    raise UploadError(f"a document named {upload.name} already exists: rename the file, or choose to replace it") from None
                keep(corpus_dir, upload.name, keep_versions)
                _target(corpus_dir, upload.name)  # still not a link
                os.replace(tmp, target)
                tmp = None
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
    fsync_dir(corpus_dir)
    return target


def keep(corpus_dir: Path, name: str, keep_versions: int = KEPT_VERSIONS) -> Path:
    """Copy a document into the kept folder under `<sha256 prefix>-<name>` before it is replaced;
    only the `keep_versions` most recently kept versions of each name stay (0: all of them). Call
    it under `corpus_lock`."""
    corpus_dir = Path(corpus_dir).resolve()
    source = _target(corpus_dir, name)
    data = source.read_bytes()
    kept = corpus_dir / KEPT_DIR
    kept.mkdir(exist_ok=True)
    path = kept / f"{hashlib.sha256(data).hexdigest()[:16]}-{name}"
    if not path.exists():
        fd, tmp = tempfile.mkstemp(prefix=".kept-", dir=kept)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    else:
        os.utime(path)  # kept again: it counts as the newest
    if keep_versions > 0:
        versions = sorted((r for r in kept_documents(corpus_dir) if r["document"] == name), key=lambda r: -r["mtime"])
        for row in versions[keep_versions:]:
            if row["kept"] != path.name:
                (kept / row["kept"]).unlink(missing_ok=True)
    fsync_dir(kept)
    return path


def remove_document(corpus_dir: Path, name: str, keep_versions: int = KEPT_VERSIONS) -> Path:
    """Take a document out of the corpus folder into the kept folder (restorable); returns where."""
    corpus_dir = Path(corpus_dir).resolve()
    source = _target(corpus_dir, name)
    with corpus_lock(corpus_dir):
        if not source.is_file():
            raise UploadError(f"no document named {name} in the corpus folder")
        path = keep(corpus_dir, name, keep_versions)
        source.unlink()
    fsync_dir(corpus_dir)
    return path


def kept_documents(corpus_dir: Path) -> list[dict]:
    """The kept (replaced or removed) documents, newest first: file, name, sha256 prefix, size, time."""
    kept = Path(corpus_dir) / KEPT_DIR
    rows = []
    for path in kept.glob("*-*") if kept.is_dir() else []:
        if path.is_file() and not path.is_symlink() and not path.name.startswith("."):
            digest, _, name = path.name.partition("-")
            stat = path.stat()
            rows.append({"kept": path.name, "document": name, "sha256": digest, "bytes": stat.st_size, "mtime": stat.st_mtime})
    return sorted(rows, key=lambda r: -r["mtime"])


def restore_document(corpus_dir: Path, kept_name: str, replace: bool = False, keep_versions: int = KEPT_VERSIONS) -> Path:
    """Put a kept document back under its name (the current one, if any, is kept first when `replace`)."""
    corpus_dir = Path(corpus_dir).resolve()
    path = corpus_dir / KEPT_DIR / kept_name
    if kept_name != Path(kept_name).name or not path.is_file() or path.is_symlink():
        raise UploadError(f"no kept document {kept_name!r}")
    name = kept_name.partition("-")[2]
    data = path.read_bytes()
    return store_upload(corpus_dir, Upload(name, detect_kind(name, data), data), replace=replace, keep_versions=keep_versions)
