"""The embedding stage of a build: a vector for every passage and every quotable sentence, reused
from an earlier index wherever the embedding input is unchanged (same model, same text, same
vector), or from the journal of an interrupted build (`embedding_journal`), so only new or changed
text reaches the model, and only once."""

from __future__ import annotations

import hashlib

import numpy as np

from retrieval.build.journal import EmbeddingJournal
from retrieval.build.progress import Progress, ProgressCallback
from retrieval.model.embedding import Embedder
from retrieval.text.chunking import Chunk, answer_sentences


def _embed_cached(
    keys: list[str], texts: list[str], cache: dict[str, int], old_vectors: np.ndarray | None, embedder: Embedder,
    bar: Progress, kind: str, journal: EmbeddingJournal | None = None, journal_cache: dict[str, int] | None = None,
    journal_vectors: np.ndarray | None = None,
) -> tuple[np.ndarray, int, int]:
    """Vectors for texts: reused from the previous index by content key where possible, else from the
    journal of an interrupted build, each remaining distinct text embedded once (and handed to the
    journal as it comes). Returns the vectors, how many texts were sent to the model and how many
    came from the journal."""
    journal_cache = journal_cache or {}
    todo: dict[str, int] = {}
    resumed: set[str] = set()
    for i, key in enumerate(keys):
        if key in cache:
            continue
        if key in journal_cache:
            resumed.add(key)
        elif key not in todo:
            todo[key] = i
    if resumed:
        bar.update(len(resumed))
    todo_keys = list(todo)
    record = (lambda positions, vectors: journal.add([todo_keys[p] for p in positions], vectors)) if journal is not None else None
    fresh = embedder.embed([texts[i] for i in todo.values()], progress=bar.update, kind=kind, on_vectors=record) if todo else None
    fallback = embedder.sentence_dimension if kind == "sentence" else embedder.dimension
    dimension = next((v.shape[1] for v in (fresh, old_vectors, journal_vectors) if v is not None and v.ndim == 2), fallback)
    fresh_row = {key: n for n, key in enumerate(todo_keys)}
    vectors = np.empty((len(keys), dimension), dtype=np.float32)
    for i, key in enumerate(keys):
        if key in fresh_row:
            vectors[i] = fresh[fresh_row[key]]
        elif key in cache:
            vectors[i] = old_vectors[cache[key]]
        else:
            vectors[i] = journal_vectors[journal_cache[key]]
    return vectors, len(todo), len(resumed)


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
    chunks: list[Chunk], sentences: list[list[tuple[int, int]]], previous, embedder: Embedder, progress: bool, on_progress: ProgressCallback | None,
    journal: EmbeddingJournal | None = None, sentence_journal: EmbeddingJournal | None = None, sentence_previous=None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int, int]:
    """Chunk vectors, the sentence table and sentence vectors, how many chunks and sentences were
    sent to the model, and how many vectors came from the `journal` of an interrupted build (which
    also records every fresh vector; `sentence_journal` where another model embeds the sentences);
    text whose embedding input `previous` (an index, or None) holds reuses its vector; sentences
    reuse those of `sentence_previous` where given (an index of another passage model)."""
    spans, sentence_texts = sentence_table(chunks, sentences)
    sentence_keys = [text_key(t) for t in sentence_texts]
    chunk_cache: dict[str, int] = {}
    sentence_cache: dict[str, int] = {}
    old_chunk_vectors = old_sentence_vectors = None
    if previous is not None and len(previous.chunks):
        old_chunks = list(previous.chunks)  # all at once: a Milvus index fetches chunks (and vectors) in pages
        chunk_cache = {c.content_hash: row for row, c in enumerate(old_chunks)}
        old_chunk_vectors = previous.store.vectors()
    sentence_previous = sentence_previous if sentence_previous is not None else previous
    if sentence_previous is not None and len(sentence_previous.chunks):
        old_chunks = old_chunks if sentence_previous is previous else list(sentence_previous.chunks)
        old_sentence_vectors = np.asarray(sentence_previous.sentence_vectors)
        sentence_cache = {text_key(old_chunks[row].text[start:end]): i for i, (row, start, end) in enumerate(sentence_previous.sentence_spans.tolist())}
    # a chunk's key and a sentence's are the same hash of the text embedded: one journal serves both,
    # unless another model embeds the sentences
    sentence_journal = sentence_journal or journal
    journal_cache, journal_vectors = journal.load() if journal is not None else ({}, None)
    sentence_common = {"journal": journal, "journal_cache": journal_cache, "journal_vectors": journal_vectors}
    if sentence_journal is not journal:
        sentence_cache_j, sentence_vectors_j = sentence_journal.load()
        sentence_common = {"journal": sentence_journal, "journal_cache": sentence_cache_j, "journal_vectors": sentence_vectors_j}
    new_chunks = len({c.content_hash for c in chunks if c.content_hash not in chunk_cache})
    new_sentences = len({k for k in sentence_keys if k not in sentence_cache})
    bar = Progress(new_chunks + new_sentences, "embedding", progress, on_progress)
    common = {"journal": journal, "journal_cache": journal_cache, "journal_vectors": journal_vectors}
    vectors, embedded, resumed_chunks = _embed_cached(
        [c.content_hash for c in chunks], [c.embed_text for c in chunks], chunk_cache, old_chunk_vectors, embedder, bar, "chunk", **common)
    sentence_vectors, sentences_embedded, resumed_sentences = _embed_cached(
        sentence_keys, sentence_texts, sentence_cache, old_sentence_vectors, embedder, bar, "sentence", **sentence_common)
    if journal is not None:
        journal.flush()
    if sentence_journal is not None and sentence_journal is not journal:
        sentence_journal.flush()
    bar.close()
    return vectors, spans, sentence_vectors, embedded, sentences_embedded, resumed_chunks + resumed_sentences


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]
