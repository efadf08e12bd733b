"""A small deterministic encoder for the tests that check logic rather than the model: "hashed-words".

Each text becomes its stemmed words and word pairs (stop words out), feature-hashed into a fixed
number of signed buckets and L2-normalised. There is no model to load, and the same text gives the
same vector in every process (the buckets come from blake2b, never from Python's salted `hash()`).
Texts that share words score higher than texts that share none, which is all that chunking, fusion,
answer composition and the app's flows need; paraphrases are not read (that is the real model's
job, tested in the `real_model` tier).

Scores are kept in the range the answer's thresholds were calibrated on with all-MiniLM-L6-v2:
every vector carries a shared component (`SHARED`), so two texts on no common word score about
SHARED, and the score rises with the words they share (cos = SHARED + (1 - SHARED) * word overlap).

`RAG_MODEL=hashed-words RAG_SENTENCE_MODEL=hashed-words` selects it (retrieval/model/embedding.py);
word pieces are still counted with the MiniLM tokenizer, so chunks are cut where the real model's are.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from itertools import pairwise

import numpy as np

#: the setting that selects this encoder (RAG_MODEL, RAG_SENTENCE_MODEL), recorded in the index manifest
NAME = "hashed-words"
DIMENSION = 256
#: the score of two texts with no word in common (the weight of the component every vector shares)
SHARED = 0.35
#: weight of a pair of neighbouring words against a single word's 1
PAIR_WEIGHT = 0.5
#: the MiniLM tokenizer's limit, reported like a real encoder's (texts are not cut: words past it count)
MAX_SEQ_LENGTH = 256

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_STOP = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "been", "but", "by", "can", "could", "did", "do", "does",
    "for", "from", "had", "has", "have", "how", "i", "if", "in", "into", "is", "it", "its", "may", "might",
    "must", "no", "not", "of", "on", "or", "our", "shall", "should", "so", "such", "than", "that", "the",
    "their", "them", "then", "there", "these", "they", "this", "those", "to", "too", "was", "we", "were",
    "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with", "would", "you", "your",
})


def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def words(text: str, stemmer=None) -> list[str]:
    """The text's words, lower-cased, stop words out, stemmed."""
    stemmer = stemmer or _stemmer()
    return stemmer.stemWords([w for w in _WORD.findall(text.lower()) if w not in _STOP])


def _bucket(feature: str) -> tuple[int, float]:
    digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest[:4], "little") % (DIMENSION - 1) + 1, (1.0 if digest[4] & 1 else -1.0)


class HashedWordsEncoder:
    """The encoder the Embedder runs for the model "hashed-words": `dimension`, `max_seq_length`, `encode`."""

    dimension = DIMENSION
    max_seq_length = MAX_SEQ_LENGTH

    def __init__(self) -> None:
        self._stemmer = _stemmer()  # used under the Embedder's model lock: one call at a time

    def features(self, text: str) -> Counter:
        stems = words(text, self._stemmer)
        # counts: a word said twice weighs more, sub-linearly (see vector)
        features = Counter({f"w:{s}": float(n) for s, n in Counter(stems).items()})
        for pair, n in Counter(pairwise(stems)).items():
            features[f"p:{pair[0]} {pair[1]}"] = n * PAIR_WEIGHT
        if not features:  # no word at all ("?!?", digits only in another script): the text itself
            features[f"t:{' '.join(text.split()).lower()}"] = 1.0
        return features

    def vector(self, text: str) -> np.ndarray:
        words_part = np.zeros(DIMENSION, dtype=np.float64)
        for feature, weight in self.features(text).items():
            index, sign = _bucket(feature)
            words_part[index] += sign * (1.0 + math.log(weight) if weight >= 1 else weight)
        norm = float(np.linalg.norm(words_part))
        if norm == 0.0:  # features that cancel out in their buckets: one bucket of the text's own
            words_part[_bucket(f"t:{text}")[0]] = 1.0
            norm = 1.0
        out = words_part * (math.sqrt(1.0 - SHARED) / norm)
        out[0] = math.sqrt(SHARED)  # bucket 0 is never a word's (see _bucket): the shared component
        return out.astype(np.float32)

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        return np.stack([self.vector(text) for text in texts])
