"""The index as every back end opens it, and the seam between the back ends and everything else.

`Index` is an opened index: its chunk table, documents, sentence spans and manifest, and the three
searches a question runs (dense over the passage vectors, BM25, and passages ranked by their best
sentence), each restricted by document name. The files back end (retrieval/store/files.py) uses this
class as it is; the Milvus back end (retrieval/store/milvus_search.py) overrides the three searches to
run them in Milvus. `IndexStore` is where an index lives (a folder, a Milvus collection prefix): its live
version, opening it, the build lock and writing a new version; retrieval/store/backend.py chooses one.
Also here: the identity two indexes must share to mix, the errors, and the JSON codecs of documents and
chunks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from retrieval.store.lexical import LexicalIndex
from retrieval.store.scores import top_k
from retrieval.store.vectors import VectorStore
from retrieval.text.chunking import CHUNKER_VERSION, Chunk
from retrieval.text.documents import PARSER_VERSION, Document, Section

FORMAT_VERSION = 2
#: up to this many stored sentences, every one is searched for each question (a scan of 50,000
#: costs about 4 ms here); above it only the other rankings' candidates are re-scored by their
#: sentences, so search time does not grow with the sentence table (docs/benchmarks.md)
SENTENCE_SCAN_LIMIT = 50_000


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
    """An opened index version: its manifest, documents, chunk table (row = vector row), passage vectors,
    BM25 index and quotable sentences, and the three searches over them. The Milvus back end's
    `MilvusIndex` fetches chunks and documents on demand and runs the searches in Milvus."""

    directory: Path
    version: str
    manifest: dict
    documents: Mapping[str, Document]
    chunks: Sequence[Chunk]
    store: VectorStore
    lexical: LexicalIndex
    #: the quotable sentences of every chunk: rows of [chunk row, start, end] in chunk order
    sentence_spans: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), dtype=np.int32))
    #: one normalised vector per sentence (memory-mapped when loaded from disk)
    sentence_vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    rows_by_doc: dict[str, np.ndarray] = field(default_factory=dict)
    row_of: Mapping[str, int] = field(default_factory=dict)

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

    # ------------------------------------------------------------------- the three searches
    # Each returns (rows, scores), best first, among the chunks of `docs` when given (document names).

    def rows_of(self, docs: Sequence[str] | None) -> np.ndarray | None:
        """The chunk rows of these documents (None: no filter; an unknown name has none)."""
        if not docs:
            return None
        parts = [self.rows_by_doc[d] for d in docs if d in self.rows_by_doc]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def dense(self, query_vector: np.ndarray, k: int, docs: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Passages by the similarity of their vector to the question's."""
        allowed = self.rows_of(docs)
        if allowed is not None and len(allowed) == 0:
            return no_hits()
        scores, rows = self.store.search(query_vector, k, allowed)
        keep = rows[0] >= 0
        return rows[0][keep].astype(np.int64), scores[0][keep]

    def lexical_search(self, query: str, k: int, docs: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Passages by BM25."""
        allowed = self.rows_of(docs)
        if allowed is not None and len(allowed) == 0:
            return no_hits()
        return self.lexical.search(query, k, allowed)

    def best_sentences(self, query_vector: np.ndarray, k: int, docs: Sequence[str] | None = None, candidates: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Passages ranked by their best-matching sentence.

        A passage is often relevant because of one sentence that the whole-chunk vector dilutes, and
        a passage that neither the chunk vectors nor BM25 find can still hold the sentence that
        answers: up to SENTENCE_SCAN_LIMIT sentences every one is searched. Above it (where a scan
        would cost more than the rest of search) only the `candidates`, the other rankings' chunks,
        are re-scored by their sentences."""
        allowed = self.rows_of(docs)
        if len(self.sentence_chunk_rows) == 0 or (allowed is not None and len(allowed) == 0):
            return no_hits()
        if len(self.sentence_spans) > SENTENCE_SCAN_LIMIT and candidates is not None:
            return self._rescore(query_vector, candidates)
        sims = np.asarray(self.sentence_vectors, dtype=np.float32) @ query_vector
        best = np.full(len(self.chunks), -np.inf, dtype=np.float32)
        best[self.sentence_chunk_rows] = np.maximum.reduceat(sims, self.sentence_chunk_starts)
        if allowed is not None:
            return top_k(best, k, allowed[np.isfinite(best[allowed])])
        return top_k(best, k)

    def best_sentence_scores(self, query_vector: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Each of these chunks' best sentence similarity, in the order given (-inf for a chunk without one)."""
        ranked, scores = self._rescore(query_vector, np.asarray(rows, dtype=np.int64))
        by_row = dict(zip(ranked.tolist(), scores.tolist()))
        return np.array([by_row.get(int(r), -np.inf) for r in rows], dtype=np.float32)

    def _rescore(self, query_vector: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The candidate chunks re-scored by their best sentence, best first."""
        ranges = [self.sentences_of(int(r)) for r in rows]
        keep = np.array([len(r) > 0 for r in ranges], dtype=bool)
        rows, ranges = rows[keep], [r for r, k in zip(ranges, keep) if k]
        if len(rows) == 0:
            return rows, np.zeros(0, dtype=np.float32)
        members = np.concatenate([np.arange(r.start, r.stop) for r in ranges])
        starts = np.cumsum([0] + [len(r) for r in ranges[:-1]])
        best = np.maximum.reduceat(np.asarray(self.sentence_vectors[members], dtype=np.float32) @ query_vector, starts)
        order = np.argsort(-best, kind="stable")
        return rows[order], best[order]

    # ------------------------------------------------------------------- reading

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


def no_hits() -> tuple[np.ndarray, np.ndarray]:
    """Empty (rows, scores): what a search returns for a filter that leaves no passage."""
    return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)


# --------------------------------------------------------------------------- the seam


@dataclass(frozen=True)
class BuiltIndex:
    """What a build hands a store to write as a new version."""

    manifest: dict
    documents: list[Document]
    chunks: list[Chunk]
    #: one normalised vector per chunk, in chunk order
    vectors: np.ndarray
    #: the text BM25 reads for each chunk (its document's short title, section path and text)
    lexical_texts: list[str]
    #: the quotable sentences: rows of [chunk row, start, end], and one vector each
    sentence_spans: np.ndarray
    sentence_vectors: np.ndarray


class IndexStore(Protocol):
    """Where an index lives: the files back end (retrieval/store/files.py) or Milvus (milvus.py)."""

    #: the index folder of the files back end; None for a store that is not a folder
    folder: Path | None

    def describe(self) -> str:
        """Where the index is, for messages: its folder, or the Milvus URI and collection."""

    def rebuild_hint(self, full: bool = False) -> str:
        """The command that rebuilds this index."""

    def live_version(self) -> str | None:
        """The live version's name, or None when there is no index."""

    def open(self, expected: dict | None = None) -> Index:
        """The live index; with `expected` (identity()), one made with other settings is refused."""

    def check_compatible(self, manifest: dict, expected: dict) -> None:
        """Stop with one line (IndexMismatch) when `manifest` was made with other settings."""

    def build_lock(self) -> AbstractContextManager[None]:
        """One build at a time; raises BuildLocked."""

    def planned_store(self, n_chunks: int) -> str:
        """How a version of `n_chunks` would be searched (the start of its manifest's "store"): a build
        that changes nothing else still writes a version when this changes."""

    def write_version(self, built: BuiltIndex, previous: Index | None = None) -> str:
        """Write a complete new version and make it live; returns its name."""

    def clear_leftovers(self, live: str) -> None:
        """What a killed build left beside the live version; called under the build lock."""


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


def sentence_model_of(manifest: dict) -> str:
    """The model of an index's sentence vectors (an index from before the setting: its one model)."""
    return manifest.get("sentence_model") or manifest.get("model")


def sentence_dimension_of(manifest: dict) -> int:
    return int(manifest.get("sentence_dimension") or manifest["dimension"])


def check_compatible(manifest: dict, expected: dict, where: Path | str, hint: str) -> None:
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
    raise IndexMismatch(f"index in {where} was built with {what}: rebuild it with `{hint}`")


