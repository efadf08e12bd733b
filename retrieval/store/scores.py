"""The best rows of a score array: what the lexical index and the files back end's sentence scan
share, and how the Milvus back end's server-side top-k orders ties (by row)."""

from __future__ import annotations

import numpy as np


def top_k(scores: np.ndarray, k: int, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The k best (rows, scores), best first; `rows` restricts the candidates; zero scores dropped."""
    if rows is not None:
        sub = scores[rows]
        order = np.argsort(-sub, kind="stable")[:k]
        picked, values = rows[order], sub[order]
    else:
        k = min(k, len(scores))
        if k == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        part = np.argpartition(-scores, k - 1)[:k]
        order = part[np.lexsort((part, -scores[part]))]  # equal scores by row, as a store that sorts does
        picked, values = order, scores[order]
    keep = values > 0
    return picked[keep], values[keep]
