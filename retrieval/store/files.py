"""The files back end: the index as versioned folders under index/, switched atomically.

Layout::

    index/CURRENT                 name of the live version (replaced atomically when a build ends)
    index/v<time>-<id>/manifest.json   format version, model, chunker settings, documents, counts
                      chunks.jsonl     the chunk table, one chunk a line, in vector-row order
                      documents.jsonl  each document's cleaned text, pages and sections
                      vectors.faiss    the vector store (FaissStore)
                      lexical/         the BM25 index (bm25s: .npy and JSON, no pickles)
                      sentences.npy, sentence_vectors.npy   the quotable sentences and their vectors
    index/.lock                   held by a running build

A build writes a new version folder beside the live one and only then rewrites CURRENT, so a
reader always sees a complete index, and a build that fails or is killed leaves the live one as it was.
`FileStore` is this back end behind the `IndexStore` seam (retrieval/store/index.py).
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
from pathlib import Path

import numpy as np

from retrieval.store import vectors as vector_store
from retrieval.store.index import (
    BuildLocked,
    BuiltIndex,
    Index,
    IndexCorrupt,
    IndexMissing,
    check_compatible,
    chunk_from_json,
    chunk_to_json,
    document_from_json,
    document_to_json,
    sentence_dimension_of,
)
from retrieval.store.lexical import LexicalIndex
from retrieval.store.vectors import FaissStore
from retrieval.text.chunking import Chunk
from retrieval.text.documents import Document

CURRENT = "CURRENT"
LOCK = ".lock"
STAGING_PREFIX = ".building-"
SENTENCE_SPANS = "sentences.npy"
SENTENCE_VECTORS = "sentence_vectors.npy"


class FileStore:
    """The index in a folder (FAISS + bm25s + JSON Lines), behind the IndexStore seam."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def describe(self) -> str:
        return str(self.folder)

    def rebuild_hint(self, full: bool = False) -> str:
        return rebuild_hint(self.folder, full)

    def live_version(self) -> str | None:
        return read_current(self.folder)

    def open(self, expected: dict | None = None) -> Index:
        return open_index(self.folder, expected)

    def check_compatible(self, manifest: dict, expected: dict) -> None:
        check_compatible(manifest, expected, self.folder, rebuild_hint(self.folder, full=True))

    def build_lock(self):
        return build_lock(self.folder)

    def planned_store(self, n_chunks: int) -> str:
        return "approximate" if n_chunks >= vector_store.APPROXIMATE_FROM else "exact"

    def write_version(self, built: BuiltIndex, previous: Index | None = None) -> str:
        # the live index's FAISS store lends its trained IVF lists to an index of a similar size
        previous_store = previous.store if isinstance(previous, Index) and isinstance(previous.store, FaissStore) else None
        return write_version(self.folder, built.manifest, built.documents, built.chunks, built.vectors, LexicalIndex.build(built.lexical_texts),
                             built.sentence_spans, built.sentence_vectors, previous_store=previous_store)

    def clear_leftovers(self, live: str) -> None:
        remove_staging(self.folder)


def rebuild_hint(index_dir: Path, full: bool = False) -> str:
    return f"python -m retrieval build --index {index_dir}{' --full' if full else ''}"


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


def open_index(index_dir: Path, expected: dict | None = None) -> Index:
    """Load the live index; with `expected` (see identity()), refuse an incompatible one."""
    index_dir = Path(index_dir)
    version, manifest = read_manifest(index_dir)
    if expected is not None:
        check_compatible(manifest, expected, index_dir, rebuild_hint(index_dir, full=True))
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
