"""All per-document work of a build runs in the worker processes, under their time and memory
limits; a document cut off for a limit is remembered and not read again until it changes; crafted
documents never hold a build (issue 13, item 1)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from retrieval import Settings, build_index
from retrieval.bench.bad_input import CRAFTED
from retrieval.build import pipeline as build
from retrieval.text.workers import LimitExceeded, ParserPool

REPO = Path(__file__).resolve().parent.parent
NOTES = "# Notes\n\nIntegration courses teach the language of the host country. They last six months.\n"


def _corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.md").write_text(NOTES, encoding="utf-8")
    (corpus / "crafted.md").write_text("# Crafted\n\nThis document is slow to chunk, by design of the test.\n", encoding="utf-8")
    return corpus


def _slow_for_crafted(monkeypatch, marks: Path):
    """prepare_document made slow for crafted.md; every call leaves a mark file named after the
    document and the process it ran in."""
    real = build.prepare_document

    def prepare(doc, **kwargs):
        (marks / f"{doc.doc_id}.{os.getpid()}").touch()
        if doc.doc_id == "crafted.md":
            time.sleep(30)
        return real(doc, **kwargs)

    monkeypatch.setattr(build, "prepare_document", prepare)
    return real


def test_chunking_runs_in_the_worker_and_a_slow_one_is_cut_off(tmp_path, embedder, monkeypatch):
    marks = tmp_path / "marks"
    marks.mkdir()
    _slow_for_crafted(monkeypatch, marks)
    settings = Settings.from_env(corpus_dir=_corpus(tmp_path), index_dir=tmp_path / "index", parse_timeout_s=3)
    report = build_index(settings, embedder=embedder, progress=False)
    assert report.added == ["good.md"]
    failed = dict(report.failed)
    assert "took longer than 3 s: cut off" in failed["crafted.md"]
    pids = {int(p.suffix[1:]) for p in marks.iterdir()}
    assert pids and os.getpid() not in pids  # chunking never ran in the build's own process


def test_a_document_cut_off_for_a_limit_is_not_read_again_until_it_changes(tmp_path, embedder, monkeypatch):
    marks = tmp_path / "marks"
    marks.mkdir()
    real = _slow_for_crafted(monkeypatch, marks)
    corpus = _corpus(tmp_path)
    settings = Settings.from_env(corpus_dir=corpus, index_dir=tmp_path / "index", parse_timeout_s=2)
    build_index(settings, embedder=embedder, progress=False)
    for mark in marks.iterdir():
        mark.unlink()

    again = build_index(settings, embedder=embedder, progress=False)
    reason = dict(again.failed)["crafted.md"]
    assert "in an earlier build; not read again until the file changes" in reason
    assert not list(marks.iterdir())  # nothing was read: not crafted.md, and good.md was unchanged
    assert "not read again" in again.summary()

    # raised limits read it again (and it is cut off again, at the new limit)
    raised = build_index(Settings.from_env(corpus_dir=corpus, index_dir=tmp_path / "index", parse_timeout_s=3), embedder=embedder, progress=False)
    assert "took longer than 3 s: cut off" in dict(raised.failed)["crafted.md"]
    assert any(m.name.startswith("crafted.md.") for m in marks.iterdir())

    # changed content is read again; without the slow step it is indexed
    monkeypatch.setattr(build, "prepare_document", real)
    (corpus / "crafted.md").write_text("# Crafted\n\nThe document changed and now reads quickly.\n", encoding="utf-8")
    fixed = build_index(Settings.from_env(corpus_dir=corpus, index_dir=tmp_path / "index", parse_timeout_s=3), embedder=embedder, progress=False)
    assert fixed.failed == [] and "crafted.md" in fixed.added + fixed.changed


def test_a_pool_step_after_parsing_is_under_the_same_time_limit(tmp_path):
    path = tmp_path / "notes.md"
    path.write_text(NOTES, encoding="utf-8")
    pool = ParserPool({}, workers=1, timeout_s=1, prepare=lambda doc: time.sleep(30))
    (result_path, result), = pool.parse([path])
    assert result_path == path and isinstance(result, LimitExceeded)


def test_crafted_documents_build_with_the_good_ones_indexed(tmp_path, embedder):
    """The attacks of issue 13 at full size (a 300 KB run-on word, `<sup>` and 20,000 spaces,
    50,000 dots, ...): each crafted document is indexed or named, every good one indexed.
    How long it takes is measured by `python -m retrieval.bench.bad_input`, not here."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.md").write_text(NOTES, encoding="utf-8")
    for name, text in CRAFTED.items():
        (corpus / name).write_text(text, encoding="utf-8")
    report = build_index(Settings.from_env(corpus_dir=corpus, index_dir=tmp_path / "index", parse_timeout_s=60), embedder=embedder, progress=False)
    accounted = set(report.added) | {name for name, _ in report.failed}
    assert "good.md" in report.added
    assert set(CRAFTED) <= accounted


def test_a_question_asked_while_parser_workers_are_forked_does_not_hang(tmp_path):
    """The app rebuilds in a thread, forking parser workers, while sessions multiply vectors in
    others. OpenBLAS stopped its thread pool before each fork under a running product, which then
    waited forever (a question hung; seen under two test workers). The parser module keeps BLAS
    on one thread: products go on through every fork."""
    import threading

    import numpy as np

    vectors = np.random.default_rng(0).random((20_000, 384), dtype=np.float32)
    query = np.ones(384, dtype=np.float32)
    products, stop = [0], threading.Event()

    def ask() -> None:
        while not stop.is_set():
            vectors @ query
            products[0] += 1

    (tmp_path / "notes.md").write_text(NOTES, encoding="utf-8")
    asker = threading.Thread(target=ask, daemon=True)
    asker.start()
    try:
        for _ in range(20):  # each parse forks a worker process
            results = [r for _, r in ParserPool({}, workers=1).parse([tmp_path / "notes.md"])]
            assert results[0].text
        after_forks = products[0]
        for _ in range(1200):  # a product that goes on comes back within a moment; a hung one never
            if products[0] > after_forks:
                break
            asker.join(0.05)
    finally:
        stop.set()
    asker.join(60)
    assert not asker.is_alive() and products[0] > after_forks, "a matrix product hung across the forks"
