"""The embedding stage of a build: a vector for every passage and every quotable sentence, reused
from an earlier index wherever the embedding input is unchanged (same model, same text, same
vector), so only new or changed text reaches the model."""

from __future__ import annotations

import hashlib

import numpy as np

from retrieval.chunking import Chunk, answer_sentences
from retrieval.embedding import Embedder
from retrieval.progress import Progress, ProgressCallback


def _embed_cached(
    keys: list[str], texts: list[str], cache: dict[str, int], old_vectors: np.ndarray | None, embedder: Embedder,
    bar: Progress, kind: str,
) -> tuple[np.ndarray, int]:
    """Vectors for texts: reused from the previous index by content key where possible, each new
    distinct text embedded once. Returns the vectors and how many texts were sent to the model."""
    todo: dict[str, int] = {}
    for i, key in enumerate(keys):
        if key not in cache and key not in todo:
            todo[key] = i
    fresh = embedder.embed([texts[i] for i in todo.values()], progress=bar.update, kind=kind) if todo else None
    dimension = fresh.shape[1] if fresh is not None else (old_vectors.shape[1] if old_vectors is not None and old_vectors.ndim == 2 else embedder.dimension)
    fresh_row = {key: n for n, key in enumerate(todo)}
    vectors = np.empty((len(keys), dimension), dtype=np.float32)
    for i, key in enumerate(keys):
        if key in fresh_row:
            vectors[i] = fresh[fresh_row[key]]
        else:
            vectors[i] = old_vectors[cache[key]]
    return vectors, len(todo)


def sentence_table(chunks: list[Chunk], sentences: list[list[tuple[int, int]]] | None = None) -> tuple[np.ndarray, list[str]]:
    """(rows of [chunk row, start, end], texts) for the quotable sentences of every chunk, in chunk
    order; `sentences` gives each chunk's spans where they were found already (in the workers)."""
    spans: list[tuple[int, int, int]] = []
    texts: list[str] = []
    for row, chunk in enumerate(chunks):
        for start, end in (sentences[row] if sentences is not None else answer_sentences(chunk.text)):
            spans.append((row, start, end))
            texts.append(chunk.text[start:end])
    return np.asarray(spans, dtype=np.int32).reshape(-1, 3), texts


def embed_passages_and_sentences(
    chunks: list[Chunk], sentences: list[list[tuple[int, int]]], previous, embedder: Embedder, progress: bool, on_progress: ProgressCallback | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    """Chunk vectors, the sentence table and sentence vectors, and how many chunks and sentences
    were sent to the model; text whose embedding input `previous` (an index, or None) holds reuses
    its vector."""
    spans, sentence_texts = sentence_table(chunks, sentences)
    sentence_keys = [text_key(t) for t in sentence_texts]
    chunk_cache: dict[str, int] = {}
    sentence_cache: dict[str, int] = {}
    old_chunk_vectors = old_sentence_vectors = None
    if previous is not None and len(previous.chunks):
        old_chunks = list(previous.chunks)  # all at once: a Milvus index fetches chunks (and vectors) in pages
        chunk_cache = {c.content_hash: row for row, c in enumerate(old_chunks)}
        old_chunk_vectors = previous.store.vectors()
        old_sentence_vectors = np.asarray(previous.sentence_vectors)
        sentence_cache = {text_key(old_chunks[row].text[start:end]): i for i, (row, start, end) in enumerate(previous.sentence_spans.tolist())}
    new_chunks = len({c.content_hash for c in chunks if c.content_hash not in chunk_cache})
    new_sentences = len({k for k in sentence_keys if k not in sentence_cache})
    bar = Progress(new_chunks + new_sentences, "embedding", progress, on_progress)
    vectors, embedded = _embed_cached([c.content_hash for c in chunks], [c.embed_text for c in chunks], chunk_cache, old_chunk_vectors, embedder, bar, "chunk")
    sentence_vectors, sentences_embedded = _embed_cached(sentence_keys, sentence_texts, sentence_cache, old_sentence_vectors, embedder, bar, "sentence")
    bar.close()
    return vectors, spans, sentence_vectors, embedded, sentences_embedded


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]
