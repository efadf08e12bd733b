"""The index on disk: versioned folders under index/, switched atomically, and loading them back.

Layout::

    index/CURRENT                 name of the live version (replaced atomically when a build ends)
    index/v<time>-<id>/manifest.json   format version, model, chunker settings, documents, counts
                      chunks.jsonl     the chunk table, one chunk a line, in vector-row order
                      documents.jsonl  each document's cleaned text, pages and sections
                      vectors.faiss    the vector store (FaissStore)
                      lexical/         the BM25 index (bm25s: .npy and JSON, no pickles)
    index/.lock                   held by a running build

A build writes a new version folder beside the live one and only then rewrites CURRENT, so a
reader always sees a complete index, and a build that fails or is killed leaves the live one as it was.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import shutil
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from retrieval.store.lexical import LexicalIndex
from retrieval.store.vectors import FaissStore, VectorStore
from retrieval.text.chunking import CHUNKER_VERSION, Chunk
from retrieval.text.documents import PARSER_VERSION, Document, Section

FORMAT_VERSION = 2
CURRENT = "CURRENT"
LOCK = ".lock"
STAGING_PREFIX = ".building-"
SENTENCE_SPANS = "sentences.npy"
SENTENCE_VECTORS = "sentence_vectors.npy"


class IndexLoadError(Exception):
    """An index that cannot be used; the message says what to do."""


class IndexMissing(IndexLoadError):
    pass


class IndexCorrupt(IndexLoadError):
    pass


class IndexMismatch(IndexLoadError):
    pass


class StoreUnavailable(IndexLoadError):
    """The store holding the index cannot be reached or opened (a Milvus server down)."""


class BuildLocked(Exception):
    pass


def rebuild_hint(index_dir: Path, full: bool = False) -> str:
    return f"python -m retrieval build --index {index_dir}{' --full' if full else ''}"


def identity(model: str, dimension: int | None, chunk_tokens: int, overlap_tokens: int, sentence_model: str | None = None,
             sentence_dimension: int | None = None) -> dict:
    """What makes two indexes compatible: vectors and chunks from different settings never mix. The
    sentence vectors may come from another model than the passages' (`sentence_model`)."""
    return {
        "format_version": FORMAT_VERSION,
        "model": model,
        "dimension": dimension,
        "sentence_model": sentence_model or model,
        "sentence_dimension": sentence_dimension or dimension,
        "chunker": {"version": CHUNKER_VERSION, "parser": PARSER_VERSION, "chunk_tokens": chunk_tokens, "overlap_tokens": overlap_tokens},
    }


@dataclass
class Index:
    directory: Path
    version: str
    manifest: dict
    documents: dict[str, Document]
    chunks: list[Chunk]
    store: VectorStore
    lexical: LexicalIndex
    #: the quotable sentences of every chunk: rows of [chunk row, start, end] in chunk order
    sentence_spans: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), dtype=np.int32))
    #: one normalised vector per sentence (memory-mapped when loaded from disk)
    sentence_vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    rows_by_doc: dict[str, np.ndarray] = field(default_factory=dict)
    row_of: dict[str, int] = field(default_factory=dict)
    #: a store that searches the sentence vectors itself (Milvus); None: they are scanned here
    sentence_store: object | None = None

    def __post_init__(self) -> None:
        self._entries = {e["doc"]: e for e in self.manifest.get("documents", [])}  # every hit asks for its title
        # a store that does not hold the chunk table in memory (Milvus) passes both mappings ready made
        if not self.rows_by_doc and not self.row_of:
            by_doc: dict[str, list[int]] = {}
            for row, chunk in enumerate(self.chunks):
                by_doc.setdefault(chunk.doc_id, []).append(row)
            self.rows_by_doc = {doc: np.asarray(rows, dtype=np.int64) for doc, rows in by_doc.items()}
            self.row_of = {chunk.chunk_id: row for row, chunk in enumerate(self.chunks)}
        column = self.sentence_spans[:, 0] if len(self.sentence_spans) else np.zeros(0, dtype=np.int32)
        self._sentence_bounds = np.searchsorted(column, np.arange(len(self.chunks) + 1))
        # chunks with at least one quotable sentence, and where their sentences start: the best
        # sentence of every chunk is then one np.maximum.reduceat over all sentence scores
        counts = np.diff(self._sentence_bounds)
        self.sentence_chunk_rows = np.flatnonzero(counts > 0).astype(np.int64)
        self.sentence_chunk_starts = self._sentence_bounds[:-1][counts > 0].astype(np.int64)

    def chunks_at(self, rows) -> list[Chunk]:
        """The chunks of these rows; a store that fetches chunks on demand gets them in one call."""
        rows = [int(r) for r in rows]
        prefetch = getattr(self.chunks, "prefetch", None)
        if prefetch is not None:
            prefetch(rows)
        return [self.chunks[r] for r in rows]

    def sentences_of(self, row: int) -> range:
        """Indexes into sentence_spans / sentence_vectors of one chunk's quotable sentences."""
        return range(int(self._sentence_bounds[row]), int(self._sentence_bounds[row + 1]))

    def sentence_text(self, i: int) -> str:
        row, start, end = (int(x) for x in self.sentence_spans[i])
        return self.chunks[row].text[start:end]

    @property
    def model(self) -> str:
        return self.manifest["model"]

    def document_entries(self) -> list[dict]:
        return list(self.manifest.get("documents", []))

    def title(self, doc_id: str) -> str:
        """The document's title, from the manifest (a store may fetch whole documents on demand)."""
        entry = self._entries.get(doc_id, {})
        if entry.get("title"):
            return entry["title"]
        doc = self.documents.get(doc_id)
        return doc.title if doc else doc_id

    def short_title(self, doc_id: str) -> str:
        entry = self._entries.get(doc_id, {})
        return entry.get("short_title") or entry.get("title") or doc_id


# --------------------------------------------------------------------------- serialisation


def document_to_json(doc: Document) -> dict:
    data = asdict(doc)
    data["sections"] = [[list(s.path), s.start, s.end] for s in doc.sections]
    data["page_starts"] = [list(p) for p in doc.page_starts]
    data["warnings"] = list(doc.warnings)
    return data


def document_from_json(data: dict) -> Document:
    data = dict(data)
    data["sections"] = tuple(Section(tuple(path), start, end) for path, start, end in data["sections"])
    data["page_starts"] = tuple(tuple(p) for p in data["page_starts"])
    data["warnings"] = tuple(data.get("warnings", ()))
    return Document(**data)


def chunk_to_json(chunk: Chunk) -> dict:
    data = asdict(chunk)
    data["content_hash"] = chunk.content_hash
    return data


def chunk_from_json(data: dict) -> Chunk:
    data = {k: v for k, v in data.items() if k != "content_hash"}
    return Chunk(**data)


def _write_jsonl(path: Path, rows) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False))
            fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())


def _read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def fsync_dir(path: Path) -> None:
    """Make a folder's entries (a rename, a new name) durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- writing


def write_version(
    index_dir: Path,
    manifest: dict,
    documents: list[Document],
    chunks: list[Chunk],
    vectors: np.ndarray,
    lexical: LexicalIndex,
    sentence_spans: np.ndarray | None = None,
    sentence_vectors: np.ndarray | None = None,
    previous_store: FaissStore | None = None,
) -> str:
    """Write a complete index version beside the live one, then make it live. Returns its name.

    `previous_store` (the live index's) lends its trained IVF lists to an index of a similar size."""
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    staging = index_dir / f"{STAGING_PREFIX}{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        store = FaissStore.from_vectors(vectors, manifest["dimension"], previous=previous_store)
        manifest = {**manifest, "store": store.describe()}
        store.save(staging)
        lexical.save(staging)
        spans = np.zeros((0, 3), dtype=np.int32) if sentence_spans is None else np.asarray(sentence_spans, dtype=np.int32)
        svecs = np.zeros((0, sentence_dimension_of(manifest)), dtype=np.float32) if sentence_vectors is None else np.asarray(sentence_vectors, dtype=np.float32)
        np.save(staging / SENTENCE_SPANS, spans, allow_pickle=False)
        np.save(staging / SENTENCE_VECTORS, svecs, allow_pickle=False)
        _write_jsonl(staging / "chunks.jsonl", (chunk_to_json(c) for c in chunks))
        _write_jsonl(staging / "documents.jsonl", (document_to_json(d) for d in documents))
        with (staging / "manifest.json").open("w", encoding="utf-8") as fh:
            json.dump(manifest, fh, ensure_ascii=False, indent=2)
            fh.flush()
            os.fsync(fh.fileno())
        version = f"v{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
        fsync_dir(staging)
        os.rename(staging, index_dir / version)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    try:
        previous = read_current(index_dir)
    except IndexCorrupt:
        previous = None  # a damaged CURRENT is what this build replaces
    pointer = index_dir / f"{CURRENT}.tmp"
    pointer.write_text(version + "\n", encoding="utf-8")
    with pointer.open("rb") as fh:
        os.fsync(fh.fileno())
    os.replace(pointer, index_dir / CURRENT)
    fsync_dir(index_dir)
    remove_stale_versions(index_dir, keep={version, previous})
    return version


#: what a build names a version folder: v<UTC time>-<random hex>
VERSION_NAME = re.compile(r"v\d{8}T\d{6}-[0-9a-f]{6}")


def read_current(index_dir: Path) -> str | None:
    """The live version's folder name, or None when there is no index. CURRENT must name a version
    folder inside index/: a path ("../x", "/etc") or anything else is refused as a damaged index."""
    try:
        name = (Path(index_dir) / CURRENT).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    if name and not VERSION_NAME.fullmatch(name):
        raise IndexCorrupt(f"{Path(index_dir) / CURRENT} does not name a version folder of {index_dir}: rebuild the index with `{rebuild_hint(index_dir, full=True)}`")
    return name or None


def remove_stale_versions(index_dir: Path, keep: set[str | None]) -> None:
    """Drop old versions (the previous one stays for readers that opened it) and leftover staging folders."""
    for path in Path(index_dir).iterdir():
        if not path.is_dir():
            continue
        if path.name.startswith(STAGING_PREFIX) or (path.name.startswith("v") and path.name not in keep):
            shutil.rmtree(path, ignore_errors=True)


def remove_staging(index_dir: Path) -> None:
    """Drop the half-written folders of killed builds (never a version)."""
    for path in Path(index_dir).glob(f"{STAGING_PREFIX}*"):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def build_lock(index_dir: Path):
    """One writer at a time: a second build stops at once with a clear message."""
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / LOCK, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EACCES):
                fh.seek(0)
                holder = fh.read().strip() or "another process"
                raise BuildLocked(f"another build is already running on {index_dir} ({holder}); wait for it to finish") from exc
            raise
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}")
        fh.flush()
        try:
            yield
        finally:
            fh.seek(0)
            fh.truncate()


# --------------------------------------------------------------------------- reading


def read_manifest(index_dir: Path) -> tuple[str, dict]:
    index_dir = Path(index_dir)
    version = read_current(index_dir)
    if version is None:
        raise IndexMissing(f"no index in {index_dir}: build it with `{rebuild_hint(index_dir)}`")
    try:
        manifest = json.loads((index_dir / version / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(f"index in {index_dir} is damaged ({version}/manifest.json unreadable): rebuild it with `{rebuild_hint(index_dir, full=True)}`") from exc
    return version, manifest


def sentence_model_of(manifest: dict) -> str:
    """The model of an index's sentence vectors (an index from before the setting: its one model)."""
    return manifest.get("sentence_model") or manifest.get("model")


def sentence_dimension_of(manifest: dict) -> int:
    return int(manifest.get("sentence_dimension") or manifest["dimension"])


def check_compatible(manifest: dict, expected: dict, index_dir: Path | str, hint: str | None = None) -> None:
    """Stop with one line when the index was made by another format, model or chunker."""
    if manifest.get("format_version") != expected["format_version"]:
        what = f"index format {manifest.get('format_version')} (this version reads {expected['format_version']})"
    elif manifest.get("model") != expected["model"] or (expected.get("dimension") and manifest.get("dimension") != expected["dimension"]):
        what = f"model {manifest.get('model')!r} (the setting is {expected['model']!r})"
    elif sentence_model_of(manifest) != expected.get("sentence_model", expected["model"]):
        what = f"sentence model {sentence_model_of(manifest)!r} (the setting is {expected.get('sentence_model')!r})"
    elif manifest.get("chunker") != expected["chunker"]:
        what = f"chunker settings {manifest.get('chunker')} (the settings are {expected['chunker']})"
    else:
        return
    raise IndexMismatch(f"index in {index_dir} was built with {what}: rebuild it with `{hint or rebuild_hint(index_dir, full=True)}`")


def open_index(index_dir: Path, expected: dict | None = None) -> Index:
    """Load the live index; with `expected` (see identity()), refuse an incompatible one."""
    index_dir = Path(index_dir)
    version, manifest = read_manifest(index_dir)
    if expected is not None:
        check_compatible(manifest, expected, index_dir)
    folder = index_dir / version
    try:
        chunks = [chunk_from_json(row) for row in _read_jsonl(folder / "chunks.jsonl")]
        documents = {d.doc_id: d for d in (document_from_json(row) for row in _read_jsonl(folder / "documents.jsonl"))}
        store = FaissStore.load(folder)
        lexical = LexicalIndex.load(folder, len(chunks))
        sentence_spans = np.load(folder / SENTENCE_SPANS, allow_pickle=False)
        sentence_vectors = np.load(folder / SENTENCE_VECTORS, mmap_mode="r", allow_pickle=False)
    except Exception as exc:  # any unreadable part means the same thing to the user
        raise IndexCorrupt(f"index in {index_dir} is damaged ({type(exc).__name__} reading {version}): rebuild it with `{rebuild_hint(index_dir, full=True)}`") from exc
    if (
        len(store) != len(chunks) or lexical.n_docs != len(chunks) or manifest.get("chunks") != len(chunks)
        or len(sentence_spans) != len(sentence_vectors) or (len(sentence_spans) and sentence_spans[:, 0].max() >= len(chunks))
    ):
        raise IndexCorrupt(f"index in {index_dir} is inconsistent ({len(chunks)} chunks, {len(store)} vectors, {len(sentence_vectors)} sentence vectors): rebuild it with `{rebuild_hint(index_dir, full=True)}`")
    return Index(folder, version, manifest, documents, chunks, store, lexical, sentence_spans, sentence_vectors)
