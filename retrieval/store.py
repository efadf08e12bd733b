"""The vector store behind a small interface, so another engine can stand in for FAISS.

`search` and the UI only use `VectorStore`; `FaissStore` is the embedded default. A distributed
store (Milvus or Milvus Lite, which speak the same client API) would implement the same four
methods and be chosen when the index is opened.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np


class VectorStore(Protocol):
    dimension: int

    def __len__(self) -> int: ...

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Inner-product scores and row ids, best first, shape (n_queries, k); -1 pads missing rows."""

    def vectors(self, rows: np.ndarray | None = None) -> np.ndarray:
        """Stored vectors by row (all rows when None)."""

    def save(self, directory: Path) -> None: ...


class FaissStore:
    """Exact inner-product search over normalised vectors (cosine similarity)."""

    FILE = "vectors.faiss"

    def __init__(self, index) -> None:
        self._index = index
        self.dimension = int(index.d)

    @classmethod
    def from_vectors(cls, vectors: np.ndarray, dimension: int) -> "FaissStore":
        import faiss

        index = faiss.IndexFlatIP(dimension)
        if len(vectors):
            index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        return cls(index)

    @classmethod
    def load(cls, directory: Path) -> "FaissStore":
        import faiss

        return cls(faiss.read_index(str(Path(directory) / cls.FILE)))

    def save(self, directory: Path) -> None:
        import faiss

        faiss.write_index(self._index, str(Path(directory) / self.FILE))

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def vectors(self, rows: np.ndarray | None = None) -> np.ndarray:
        if len(self) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        everything = self._index.reconstruct_n(0, len(self))
        return everything if rows is None else everything[rows]

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        import faiss

        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        k = max(1, min(k, len(self))) if len(self) else 1
        if len(self) == 0:
            return np.full((len(queries), k), -np.inf, dtype=np.float32), np.full((len(queries), k), -1, dtype=np.int64)
        params = None
        if allowed is not None:
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64)))
        scores, ids = self._index.search(queries, k, params=params)
        return scores, ids
