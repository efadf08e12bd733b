"""Lexical search: BM25 (bm25s) over stemmed English tokens, saved as plain .npy/JSON files.

bm25s rather than SQLite FTS5: it scores every chunk in one sparse-matrix product (about a
millisecond at this size), saves without pickles, and exposes the full score vector, which makes
filtering by document and rank fusion plain NumPy.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from retrieval.store.scores import top_k

LEXICAL_DIR = "lexical"


def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


_THREAD = threading.local()


def thread_stemmer():
    """This thread's English stemmer: PyStemmer objects are not thread-safe, so each thread gets its own."""
    stemmer = getattr(_THREAD, "stemmer", None)
    if stemmer is None:
        stemmer = _THREAD.stemmer = _stemmer()
    return stemmer


def stem(word: str) -> str:
    return thread_stemmer().stemWord(word)


def tokenize(texts: list[str]) -> list[list[str]]:
    import bm25s

    return bm25s.tokenize(texts, stopwords="en", stemmer=_stemmer(), return_ids=False, show_progress=False)


def frequencies(tokens: list[list[str]]) -> dict[str, int]:
    """How many of the tokenised texts hold each term: BM25's document frequencies."""
    counts: dict[str, int] = {}
    for terms in tokens:
        for term in set(terms):
            counts[term] = counts.get(term, 0) + 1
    return counts


def stemmed_texts(texts: list[str]) -> list[str]:
    """Each text as the space-separated tokens BM25 indexes (what a Milvus index is given to split)."""
    return [" ".join(tokens) for tokens in tokenize(texts)]


class QueryTerms:
    """A question's BM25 terms: lower-cased, stop words out, stemmed (with this thread's stemmer)."""

    def __call__(self, query: str) -> list[str]:
        import bm25s

        return bm25s.tokenize(query, stopwords="en", stemmer=thread_stemmer(), return_ids=False, show_progress=False)[0]


class LexicalIndex:
    def __init__(self, retriever, n_docs: int) -> None:
        self._retriever = retriever
        self.n_docs = n_docs
        self._terms = QueryTerms()

    @classmethod
    def build(cls, texts: list[str]) -> LexicalIndex:
        import bm25s

        retriever = bm25s.BM25()
        if texts:
            tokens = bm25s.tokenize(texts, stopwords="en", stemmer=_stemmer(), show_progress=False)
            retriever.index(tokens, show_progress=False)
        return cls(retriever, len(texts))

    @classmethod
    def load(cls, directory: Path, n_docs: int) -> LexicalIndex:
        import bm25s

        path = Path(directory) / LEXICAL_DIR
        if n_docs == 0:
            return cls(bm25s.BM25(), 0)
        return cls(bm25s.BM25.load(str(path), show_progress=False, verbosity=0), n_docs)

    def save(self, directory: Path) -> None:
        path = Path(directory) / LEXICAL_DIR
        path.mkdir(parents=True, exist_ok=True)
        if self.n_docs:
            self._retriever.save(str(path), show_progress=False)

    def query_terms(self, query: str) -> list[str]:
        return self._terms(query)

    def document_frequencies(self) -> dict[str, int]:
        """How many chunks hold each (stemmed) term."""
        if self.n_docs == 0:
            return {}
        counts = np.diff(self._retriever.scores["indptr"])
        return {term: int(counts[column]) for term, column in self._retriever.vocab_dict.items() if term and column < len(counts)}

    def document_frequency(self, term: str) -> int:
        """How many chunks hold the (stemmed) term."""
        if self.n_docs == 0:
            return 0
        column = self._retriever.vocab_dict.get(term)
        if column is None:
            return 0
        indptr = self._retriever.scores["indptr"]
        return int(indptr[column + 1] - indptr[column])

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every chunk for the query (zeros where no term matches)."""
        if self.n_docs == 0:
            return np.zeros(0, dtype=np.float32)
        terms = [t for t in self.query_terms(query) if t in self._retriever.vocab_dict]
        if not terms:
            return np.zeros(self.n_docs, dtype=np.float32)
        return np.asarray(self._retriever.get_scores(terms), dtype=np.float32)

    def search(self, query: str, k: int, allowed: np.ndarray | None = None, docs=None) -> tuple[np.ndarray, np.ndarray]:
        """The k best rows by BM25 (rows, scores), best first, only among `allowed` rows when given
        (`docs` is for stores that filter by document name)."""

        scores = self.scores(query)
        if len(scores) == 0 or (allowed is not None and len(allowed) == 0):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        return top_k(scores, k, allowed)
