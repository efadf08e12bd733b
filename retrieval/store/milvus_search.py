"""What an app server reads from a Milvus index (retrieval/store/milvus.py writes and opens it):
dense, BM25 and best-sentence search over its collections, and the chunk table and documents fetched
by row or name when a question needs them, so no app server holds them whole.

`MilvusIndex` is the opened index whose three searches run in Milvus, filtered by the `doc` field;
the other objects read through the connection (retrieval/store/milvus_connection.py). Fusing the
rankings stays in retrieval/ask/search.py.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from retrieval.store import index as index_files
from retrieval.store.index import Index, no_hits
from retrieval.store.lexical import QueryTerms
from retrieval.store.milvus_connection import BATCH, MilvusConnection
from retrieval.text.chunking import Chunk
from retrieval.text.documents import Document

if TYPE_CHECKING:  # a type only: milvus.py opens the index with these classes
    from retrieval.store.milvus import MilvusLocation

#: the BM25 parameters of bm25s, which the files back end uses
BM25_PARAMS = {"bm25_k1": 1.5, "bm25_b": 0.75}
#: search parameters per dense index type (RAG_MILVUS_INDEX)
SEARCH_PARAMS = {"FLAT": {}, "HNSW": {"ef": 200}, "IVF_FLAT": {"nprobe": 64}, "AUTOINDEX": {}}


def doc_filter(docs: Sequence[str]) -> str:
    """A Milvus filter expression keeping these documents (names quoted as JSON strings)."""
    return "doc in [" + ", ".join(json.dumps(d, ensure_ascii=False) for d in docs) + "]"


def joined_records(rows: list[dict]) -> dict[str, object]:
    """Records split in parts ("<key>#00000", ...) joined and parsed: key -> value."""
    parts: dict[str, list[tuple[int, str]]] = {}
    for row in rows:
        key, n = row["key"].rsplit("#", 1)
        parts.setdefault(key, []).append((int(n), row["value"]))
    return {key: json.loads("".join(text for _, text in sorted(pieces))) for key, pieces in parts.items()}


class MilvusChunks(Sequence):
    """The chunk table of a Milvus index, fetched by row when asked for (in one query for many rows
    with `prefetch`) and kept in a bounded cache: an app server does not hold the whole table."""

    CACHE = 20_000

    def __init__(self, location: MilvusConnection, collection: str, size: int) -> None:
        self.location, self.collection, self._size = location, collection, size
        self._cache: OrderedDict[int, Chunk] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self._size

    def prefetch(self, rows) -> None:
        """Read the rows not in the cache, in as few queries as possible."""
        with self._lock:
            missing = sorted({int(r) for r in rows if 0 <= int(r) < self._size and int(r) not in self._cache})
        for start in range(0, len(missing), BATCH):
            found = self._fetch(missing[start : start + BATCH])
            with self._lock:
                self._cache.update(found)
                while len(self._cache) > self.CACHE:
                    self._cache.popitem(last=False)

    def _fetch(self, rows: list[int]) -> dict[int, Chunk]:
        found = self.location.call("read chunks", self.location.client.query, self.collection, filter=f"row in [{', '.join(map(str, rows))}]",
                                    output_fields=["row", "chunk"], limit=len(rows))
        return {int(r["row"]): index_files.chunk_from_json(r["chunk"]) for r in found}

    def __getitem__(self, row):
        if isinstance(row, slice):
            return [self[r] for r in range(*row.indices(self._size))]
        row = int(row)
        if row < 0:
            row += self._size
        if not 0 <= row < self._size:
            raise IndexError(row)
        with self._lock:
            chunk = self._cache.get(row)
            if chunk is not None:
                self._cache.move_to_end(row)
                return chunk
        self.prefetch([row])
        with self._lock:
            chunk = self._cache.get(row)
        if chunk is None:  # pushed out of the cache by a larger prefetch (a document of more chunks than it holds)
            chunk = self._fetch([row]).get(row)
        if chunk is None:
            raise index_files.IndexCorrupt(f"chunk row {row} is missing from {self.collection} in {self.location.describe()}")
        return chunk

    def __iter__(self):
        """Every chunk in row order, page by page (not cached: a build or an evaluation reads them all)."""
        for start in range(0, self._size, BATCH):
            for row in self.location.paged(self.collection, "row", min(BATCH, self._size - start), ["row", "chunk"], start=start):
                yield index_files.chunk_from_json(row["chunk"])


class MilvusDocuments(Mapping):
    """The documents of a Milvus index (cleaned text, pages, sections), read when asked for."""

    CACHE = 8

    def __init__(self, location: MilvusConnection, collection: str, names: list[str]) -> None:
        self.location, self.collection, self._names = location, collection, list(names)
        self._known = set(names)
        self._cache: OrderedDict[str, Document] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._names)

    def __iter__(self):
        return iter(self._names)

    def __contains__(self, name) -> bool:
        return name in self._known

    def __getitem__(self, name: str) -> Document:
        if name not in self._known:
            raise KeyError(name)
        with self._lock:
            if name in self._cache:
                self._cache.move_to_end(name)
                return self._cache[name]
        prefix = f"document:{name}#"
        pattern = json.dumps(prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%", ensure_ascii=False)
        rows = self.location.call("read a document", self.location.client.query, self.collection, filter=f"key like {pattern}", output_fields=["key", "value"], limit=16_384)
        records = joined_records([r for r in rows if r["key"].startswith(prefix) and r["key"][len(prefix):].isdigit()])
        if f"document:{name}" not in records:
            raise index_files.IndexCorrupt(f"document {name} is missing from {self.collection} in {self.location.describe()}")
        document = index_files.document_from_json(records[f"document:{name}"])
        with self._lock:
            self._cache[name] = document
            while len(self._cache) > self.CACHE:
                self._cache.popitem(last=False)
        return document


class ChunkRows(Mapping):
    """chunk id ("<doc>#<n>") -> row, from where each document's rows start."""

    def __init__(self, starts: dict[str, int]) -> None:
        self._starts = starts

    def __getitem__(self, chunk_id: str) -> int:
        doc, _, n = chunk_id.rpartition("#")
        if doc not in self._starts or not n.isdigit():
            raise KeyError(chunk_id)
        return self._starts[doc] + int(n)

    def __iter__(self):
        raise TypeError("chunk rows are computed, not listed")

    def __len__(self) -> int:
        return len(self._starts)


class MilvusVectorStore:
    """A VectorStore over one collection's "vector" field, keyed by its integer primary key."""

    def __init__(self, location: MilvusLocation, collection: str, key: str, dimension: int, size: int) -> None:
        self.location, self.collection, self.key, self.dimension, self._size = location, collection, key, dimension, size

    def __len__(self) -> int:
        return self._size

    def describe(self) -> str:
        return self.location.describe_index()

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None, docs: Sequence[str] | None = None, group_by: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Inner-product scores and keys, best first, shape (n_queries, k), -1 padded. `docs` is a
        document filter (Milvus filters by field, not by row); `group_by` keeps the best hit per value
        of that field and returns the field's values instead of keys."""
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        k = max(1, min(k, 16_384, self._size or 1))
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        keys = np.full((len(queries), k), -1, dtype=np.int64)
        if self._size == 0:
            return scores, keys
        kwargs = {"filter": doc_filter(docs)} if docs else {}
        if group_by:
            kwargs["group_by_field"] = group_by
        field = group_by or self.key
        params = {"metric_type": "IP", "params": SEARCH_PARAMS[self.location.index_type]}
        results = self.location.call("search", self.location.client.search, self.collection, data=queries.tolist(), anns_field="vector", limit=k,
                                      output_fields=[field], search_params=params, **kwargs)
        for q, hits in enumerate(results):
            pairs = sorted(((float(h["distance"]), int(h["entity"][field])) for h in list(hits)[:k]), key=lambda p: (-p[0], p[1]))
            for i, (score, key) in enumerate(pairs):  # equal scores (a sentence two overlapping chunks share) by key, as the files back end
                scores[q, i], keys[q, i] = score, key
        return scores, keys

    def vectors(self, rows: np.ndarray | None = None) -> np.ndarray:
        if rows is None:
            rows = np.arange(self._size)
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        if len(rows) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        found: dict[int, list[float]] = {}
        unique = np.unique(rows)
        if len(unique) == self._size:  # everything: paged by key range, not a filter listing every key
            for row in self.location.paged(self.collection, self.key, self._size, [self.key, "vector"]):
                found[int(row[self.key])] = row["vector"]
        else:
            for start in range(0, len(unique), BATCH):
                part = unique[start : start + BATCH]
                expr = f"{self.key} in [{', '.join(str(int(r)) for r in part)}]"
                for row in self.location.call("read vectors", self.location.client.query, self.collection, filter=expr, output_fields=[self.key, "vector"], limit=len(part)):
                    found[int(row[self.key])] = row["vector"]
        return np.asarray([found[int(r)] for r in rows], dtype=np.float32).reshape(len(rows), self.dimension)


class SentenceVectors:
    """`index.sentence_vectors` for a Milvus index: rows fetched by id when indexed, all of them
    when turned into an array (a build reusing the previous vectors)."""

    def __init__(self, store: MilvusVectorStore) -> None:
        self.store = store

    def __len__(self) -> int:
        return len(self.store)

    def __getitem__(self, rows) -> np.ndarray:
        if isinstance(rows, (int, np.integer)):
            return self.store.vectors(np.asarray([rows]))[0]
        return self.store.vectors(np.asarray(rows))

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        vectors = self.store.vectors()
        return vectors if dtype is None else vectors.astype(dtype)


class MilvusLexical:
    """BM25 in Milvus over the same stemmed tokens the files back end indexes; query terms and
    document frequencies (for the answerer's key terms) are computed here as there."""

    def __init__(self, location: MilvusConnection, collection: str, n_docs: int, frequencies: dict[str, int]) -> None:
        self.location, self.collection, self.n_docs, self._frequencies = location, collection, n_docs, frequencies
        self._terms = QueryTerms()

    def query_terms(self, query: str) -> list[str]:
        return self._terms(query)

    def document_frequency(self, term: str) -> int:
        return int(self._frequencies.get(term, 0))

    def search(self, query: str, k: int, allowed: np.ndarray | None = None, docs: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The k best rows by BM25 (rows, scores), best first."""
        terms = [t for t in self.query_terms(query) if t in self._frequencies]
        if not terms or self.n_docs == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        kwargs = {"filter": doc_filter(docs)} if docs else {}
        results = self.location.call("search BM25", self.location.client.search, self.collection, data=[" ".join(terms)], anns_field="sparse",
                                      limit=max(1, min(k, 16_384)), output_fields=["row"], search_params={"metric_type": "BM25"}, **kwargs)
        hits = list(results[0]) if results else []
        # Milvus servers give BM25 scores, Milvus Lite gives them negated (as distances); both keep
        # the (k1 + 1) factor that bm25s (Lucene's variant) leaves out: divided out, the scores read
        # as the files back end's, and the ranking is the same either way
        scale = 1.0 + BM25_PARAMS["bm25_k1"]
        pairs = [(int(h["entity"]["row"]), abs(float(h["distance"])) / scale) for h in hits]
        pairs = sorted(((r, s) for r, s in pairs if s > 0), key=lambda p: (-p[1], p[0]))
        return np.asarray([r for r, _ in pairs], dtype=np.int64), np.asarray([s for _, s in pairs], dtype=np.float32)


class MilvusIndex(Index):
    """An opened Milvus index: the three searches run in Milvus, filtered by the `doc` field."""

    def __init__(self, *args, sentence_store: MilvusVectorStore, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.sentence_store = sentence_store

    def _none_known(self, docs: Sequence[str] | None) -> bool:
        """A filter that names no document of this index: every search finds nothing (as the files back end's)."""
        return bool(docs) and not any(d in self.rows_by_doc for d in docs)

    def dense(self, query_vector: np.ndarray, k: int, docs: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
        if self._none_known(docs):
            return no_hits()
        scores, rows = self.store.search(query_vector, k, docs=docs)
        keep = rows[0] >= 0
        return rows[0][keep].astype(np.int64), scores[0][keep]

    def lexical_search(self, query: str, k: int, docs: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
        if self._none_known(docs):
            return no_hits()
        return self.lexical.search(query, k, docs=docs)

    def best_sentences(self, query_vector: np.ndarray, k: int, docs: Sequence[str] | None = None, candidates: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The best sentence per chunk by grouping the sentence hits by chunk: the same ranking as the
        files back end's scan."""
        if len(self.sentence_chunk_rows) == 0 or self._none_known(docs):
            return no_hits()
        scores, rows = self.sentence_store.search(query_vector, k, docs=docs, group_by="chunk_row")
        keep = (rows[0] >= 0) & (scores[0] > 0)
        return rows[0][keep], scores[0][keep]
