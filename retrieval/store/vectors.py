"""The passage vectors of an index: `FaissStore`, the files back end's exact or IVF inner-product search.

`VectorStore` is what every back end's passage vectors offer beyond search (their number, their
description, the vectors themselves, which a build reuses); searching them is the opened index's
(`Index.dense`, retrieval/store/index.py), where the Milvus back end filters by document name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np


class VectorStore(Protocol):
    dimension: int

    def __len__(self) -> int: ...

    def describe(self) -> str:
        """How it is searched ("exact ..." or "approximate ..."), for `info` and the manifest."""

    def vectors(self, rows: np.ndarray | None = None) -> np.ndarray:
        """Stored vectors by row (all rows when None)."""


#: from this many vectors on, dense search is approximate (an inverted file, IVF): exact search costs
#: ~6 ms at 100,000 chunks on two cores and grows linearly, while IVF reads a tenth of the vectors. Below
#: it search stays exact. Recall@10 of the approximate search against exact is in docs/benchmarks.md.
APPROXIMATE_FROM = 50_000
#: share of the inverted lists (~4 * sqrt(n) of them) read per query. On 11,121 real chunk and
#: sentence vectors, recall@10 against exact search was 0.911 reading 2.5%, 0.954 at 5%, 0.976 at 10%
#: and 0.995 at 20%; 10% of 100,000 vectors is still ~6x less work than exact search
PROBE_FRACTION = 0.10
#: k-means is trained on at most this many vectors per list (faiss warns below 39)
TRAIN_PER_LIST = 40


def ivf_lists(n: int) -> int:
    return max(1, int(4 * np.sqrt(n)))


class FaissStore:
    """Inner-product search over normalised vectors (cosine similarity): exact, or IVF at scale."""

    FILE = "vectors.faiss"

    def __init__(self, index) -> None:
        import faiss

        self._index = index
        self.dimension = int(index.d)
        self._ivf = faiss.try_extract_index_ivf(index)
        if self._ivf is not None:
            self._ivf.nprobe = max(1, round(PROBE_FRACTION * self._ivf.nlist))
            self._ivf.make_direct_map()  # rows can be read back (vectors(), incremental builds)

    @classmethod
    def from_vectors(cls, vectors: np.ndarray, dimension: int, previous: FaissStore | None = None, approximate_from: int | None = None) -> FaissStore:
        """A store of these vectors: exact below `approximate_from` rows, IVF from there on. An IVF
        `previous` store of a similar size lends its trained lists, so an incremental build does not
        retrain k-means (seconds at 100,000 rows)."""
        import faiss

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        n = len(vectors)
        approximate_from = APPROXIMATE_FROM if approximate_from is None else approximate_from
        if n < approximate_from:
            index = faiss.IndexFlatIP(dimension)
        elif previous is not None and previous.approximate and previous.dimension == dimension and 0.5 <= n / previous.trained_for <= 2.0:
            index = faiss.clone_index(previous._index)
            index.reset()
        else:
            nlist = ivf_lists(n)
            index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dimension), dimension, nlist, faiss.METRIC_INNER_PRODUCT)
            sample = np.random.default_rng(0).choice(n, size=min(n, TRAIN_PER_LIST * nlist), replace=False)
            index.train(vectors[np.sort(sample)])
        if n:
            index.add(vectors)
        return cls(index)

    @property
    def approximate(self) -> bool:
        return self._ivf is not None

    @property
    def trained_for(self) -> int:
        """How many vectors the IVF lists were sized for (the inverse of ivf_lists); 0 when exact."""
        return int((self._ivf.nlist / 4) ** 2) if self._ivf is not None else 0

    def describe(self) -> str:
        if self._ivf is None:
            return "exact (flat inner product)"
        return f"approximate (IVF, {self._ivf.nlist} lists, {self._ivf.nprobe} probed per query)"

    @classmethod
    def load(cls, directory: Path) -> FaissStore:
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
        if rows is not None:
            return np.vstack([self._index.reconstruct(int(r)) for r in rows]) if len(rows) else np.zeros((0, self.dimension), dtype=np.float32)
        return self._index.reconstruct_n(0, len(self))

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None, exact: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """`exact=True` reads every list of an IVF store (the benchmark compares it with the default).
        A search restricted to `allowed` rows is always exact: a filter to a few documents must not
        depend on which lists the probe happens to read."""
        import faiss

        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        k = max(1, min(k, len(self))) if len(self) else 1
        if len(self) == 0:
            return np.full((len(queries), k), -np.inf, dtype=np.float32), np.full((len(queries), k), -1, dtype=np.int64)
        selector = faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64)) if allowed is not None else None
        if self._ivf is not None:
            nprobe = self._ivf.nlist if (exact or selector is not None) else self._ivf.nprobe
            params = faiss.SearchParametersIVF(sel=selector, nprobe=nprobe)
        else:
            params = faiss.SearchParameters(sel=selector) if selector is not None else None
        scores, ids = self._index.search(queries, k, params=params)
        return scores, ids

