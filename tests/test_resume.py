"""An interrupted build resumes: what it embedded before it stopped is not embedded again, and the
index it then makes is the index an uninterrupted build makes. Real model, real FAISS, real PDFs."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from retrieval import Embedder, Settings, build_index
from retrieval.build import journal as embedding_journal
from retrieval.build.journal import EmbeddingJournal, pending_vectors
from retrieval.build.vectors import text_key
from retrieval.store.files import open_index

REPO = Path(__file__).resolve().parents[1]
DOCS = ["budapest-process-integration-reintegration-2016.md", "eu-regulation-604-2013-dublin-iii.pdf"]


class Stopped(Exception):
    """Stands for a kill, a crash or a restarted app in the middle of embedding."""


class StoppingEmbedder(Embedder):
    """The real embedder, stopped after `batches` batches have come back from the model."""

    def __init__(self, real: Embedder, batches: int) -> None:
        super().__init__(real.model_name, sentence_model=real.sentence_model_name)
        self.__dict__.update(_encoder=real.encoder, _tokenizer=real.tokenizer)  # share the loaded model
        self.left = batches

    def embed(self, texts, progress=None, kind="text", on_vectors=None):
        def counted(positions, vectors):
            if on_vectors:
                on_vectors(positions, vectors)
            self.left -= 1
            if self.left <= 0:
                raise Stopped("stopped in the middle of embedding")

        return super().embed(texts, progress, kind, on_vectors=counted)


def corpus_of(root: Path, names=DOCS) -> Path:
    corpus = root / "corpus"
    corpus.mkdir(parents=True)
    for name in names:
        shutil.copy(REPO / "corpus" / name, corpus)
    return corpus


def segments(index_dir: Path) -> list[Path]:
    return sorted((index_dir / embedding_journal.FOLDER).glob("segment-*.npz"))


def test_an_interrupted_build_resumes_where_it_stopped_and_makes_the_same_index(tmp_path, embedder, monkeypatch):
    monkeypatch.setattr(embedding_journal, "FLUSH_TEXTS", 64)
    # the index an uninterrupted build makes
    straight = build_index(Settings.from_env(corpus_dir=corpus_of(tmp_path / "a"), index_dir=tmp_path / "a" / "index"), embedder=embedder, progress=False)
    total = straight.embedded + straight.sentences_embedded
    assert not (tmp_path / "a" / "index" / embedding_journal.FOLDER).exists()  # a completed build leaves no journal

    corpus, index_dir = corpus_of(tmp_path / "b"), tmp_path / "b" / "index"
    with pytest.raises(Stopped):
        build_index(Settings.from_env(corpus_dir=corpus, index_dir=index_dir), embedder=StoppingEmbedder(embedder, batches=12), progress=False)
    assert segments(index_dir), "the interrupted build left what it embedded"
    journaled = set()
    for path in segments(index_dir):
        with np.load(path) as data:
            journaled.update(data["keys"].tolist())

    resumed = build_index(Settings.from_env(corpus_dir=corpus, index_dir=index_dir), embedder=embedder, progress=False)
    assert len(journaled) <= resumed.resumed < total  # all the interrupted build wrote out before it stopped
    assert resumed.embedded + resumed.sentences_embedded + resumed.resumed == total  # each text embedded once in all
    assert f"resumed: {resumed.resumed} vectors" in resumed.summary()
    assert not (index_dir / embedding_journal.FOLDER).exists()

    a, b = open_index(tmp_path / "a" / "index"), open_index(index_dir)
    assert [c.chunk_id for c in a.chunks] == [c.chunk_id for c in b.chunks]
    # every vector, resumed or fresh, is its own text's: the same as the uninterrupted build's
    np.testing.assert_allclose(a.store.vectors(), b.store.vectors(), atol=1e-5)
    np.testing.assert_allclose(np.asarray(a.sentence_vectors), np.asarray(b.sentence_vectors), atol=1e-5)


def test_a_full_build_and_a_build_with_another_model_start_afresh(tmp_path, embedder, monkeypatch):
    monkeypatch.setattr(embedding_journal, "FLUSH_TEXTS", 64)
    corpus, index_dir = corpus_of(tmp_path, DOCS[:1]), tmp_path / "index"
    settings = Settings.from_env(corpus_dir=corpus, index_dir=index_dir)
    with pytest.raises(Stopped):
        build_index(settings, embedder=StoppingEmbedder(embedder, batches=3), progress=False)
    assert segments(index_dir)
    report = build_index(settings, full=True, embedder=embedder, progress=False)
    assert report.resumed == 0 and report.embedded > 0

    model = {"model": "another-model", "precision": "fp32", "backend": "onnx"}
    other = EmbeddingJournal.for_index(index_dir, model)
    other.add(["k1", "k2"], np.ones((2, 3), dtype=np.float32))
    other.flush()
    mine = EmbeddingJournal.for_index(index_dir, {**model, "model": "this-model"})
    assert mine.load() == ({}, None)
    assert not (index_dir / embedding_journal.FOLDER).exists()  # another model's journal is dropped


def test_a_torn_or_damaged_segment_is_skipped_and_the_others_read(tmp_path):
    model = {"model": "m", "precision": "fp32", "backend": "onnx"}
    journal = EmbeddingJournal(tmp_path / "journal", model)
    journal.add(["a", "b"], np.array([[1, 0], [0, 1]], dtype=np.float32))
    journal.flush()
    journal.add(["c"], np.array([[0.6, 0.8]], dtype=np.float32))
    journal.flush()
    (tmp_path / "journal" / "segment-000002.npz.partial").write_bytes(b"PK\x03\x04 half written")  # killed while writing
    (tmp_path / "journal" / "segment-000003.npz").write_bytes(b"not a segment")
    keys, vectors = EmbeddingJournal(tmp_path / "journal", model).load()
    assert set(keys) == {"a", "b", "c"}
    assert vectors[keys["c"]].tolist() == pytest.approx([0.6, 0.8])
    assert vectors[keys["b"]].tolist() == [0.0, 1.0]
    # a later build goes on numbering after the last segment, never over one
    later = EmbeddingJournal(tmp_path / "journal", model)
    later.load()
    later.add(["d"], np.array([[1, 0]], dtype=np.float32))
    later.flush()
    assert (tmp_path / "journal" / "segment-000004.npz").exists()


# a build that takes seconds to embed, long enough to be caught at it
@pytest.mark.real_model
def test_a_build_killed_while_embedding_resumes_from_its_journal(tmp_path, embedder):
    """SIGKILL, not an exception: the journal's segments are whole files or none."""
    # ~670 texts, ~10 s of embedding on two cores: the first segment (FLUSH_TEXTS) is written with hundreds still to embed
    corpus = corpus_of(tmp_path, ["eu-regulation-604-2013-dublin-iii.pdf"])
    index_dir = tmp_path / "index"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "retrieval", "build", "--quiet", "--corpus", str(corpus), "--index", str(index_dir)]
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        while not segments(index_dir) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert process.poll() is None, f"build ended before it could be killed: {process.stderr.read()[-500:]}"
        assert segments(index_dir)
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()

    journaled, written = set(), 0
    for path in segments(index_dir):
        with np.load(path) as data:
            journaled.update(data["keys"].tolist())
            written += len(data["keys"])
    assert journaled
    assert pending_vectors(index_dir) == written  # what the app's Index page reports, read from the headers only

    report = build_index(Settings.from_env(corpus_dir=corpus, index_dir=index_dir), embedder=embedder, progress=False)
    assert report.resumed >= len(journaled)  # a text that is both a passage and a sentence counts in each
    assert report.added == ["eu-regulation-604-2013-dublin-iii.pdf"]
    assert not (index_dir / embedding_journal.FOLDER).exists() and pending_vectors(index_dir) == 0
    # each vector taken from the journal is its own text's (the kill may come while passages or sentences are embedded)
    index = open_index(index_dir)
    sentences = [index.chunks[int(row)].text[int(start) : int(end)] for row, start, end in index.sentence_spans]
    pairs = [(c.embed_text, vector) for c, vector in zip(index.chunks, index.store.vectors()) if c.content_hash in journaled]
    pairs += [(text, np.asarray(index.sentence_vectors[i])) for i, text in enumerate(sentences) if text_key(text) in journaled]
    assert len(pairs) >= len(journaled)
    sample = pairs[::7][:60]
    fresh = embedder.embed([text for text, _ in sample])
    assert float(np.min(np.sum(fresh * np.array([v for _, v in sample]), axis=1))) > 0.9999
