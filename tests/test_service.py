"""The app's engine: shared model, live index by version, context windows, background rebuilds."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from retrieval import Engine, Settings
from retrieval.serve.engine import Job
from retrieval.store.files import read_current

REPO = Path(__file__).resolve().parents[1]
DUBLIN = "eu-regulation-604-2013-dublin-iii.pdf"


@pytest.fixture(scope="module")
def engine(module_corpus_index, module_embedder):
    engine = Engine(Settings.from_env(corpus_dir=REPO / "corpus", index_dir=module_corpus_index), embedder=module_embedder)
    assert engine.wait_for_model(120)
    return engine


def test_ask_answers_from_the_live_version(engine, corpus_index):
    answer, version = engine.ask("What are the three dimensions of integration policies?")
    assert answer.answerable and version == read_current(corpus_index)
    assert engine.retriever() is engine.retriever()  # opened once per version


def test_document_filter_and_unknown_documents(engine):
    known, unknown = engine.resolve_docs([DUBLIN, "gone.pdf"])
    assert known == [DUBLIN] and unknown == ["gone.pdf"]
    answer, _ = engine.ask("Who examines an application for international protection?", docs=known)
    assert {c.doc for c in answer.citations or answer.related} == {DUBLIN}


def test_context_holds_the_passage_and_its_neighbours(engine):
    answer, version = engine.ask("Which Member State is responsible for examining an application for international protection?")
    c = answer.citations[0]
    ctx = engine.context(c, version)
    s, e = ctx.passage
    assert ctx.text[s:e] == c.text and len(ctx.text) > len(c.text)
    for qs, qe in ctx.quoted:
        assert ctx.text[qs:qe] in c.text


def test_page_text_and_image(engine):
    text = engine.page_text(DUBLIN, 1)
    assert text and "REGULATION" in text.upper()
    image = engine.page_image(DUBLIN, 1)
    assert image is not None and image.startswith(b"\x89PNG")
    marked = engine.page_image(DUBLIN, 10, ["Where several family members and/or minor unmarried siblings submit applications"])
    assert marked is not None and marked != engine.page_image(DUBLIN, 10)
    assert engine.page_image("budapest-process-integration-reintegration-2016.md", 1) is None
    assert engine.page_text(DUBLIN, 10_000) is None


def test_question_words_are_not_marked_as_search_terms(engine):
    terms = engine.question_terms("What does the Dublin Regulation say about family members?")
    assert {"dublin", "regul", "famili", "member"} <= terms
    assert not terms & {"what", "doe", "about"}


def test_question_terms_are_stemmed_like_the_index(engine):
    terms = engine.question_terms("Which refugees are responsible?")
    assert {"refuge", "respons"} <= terms and engine.stem("refugees") == "refuge"


def test_document_rows(engine):
    rows = engine.document_rows()
    from retrieval.build.pipeline import corpus_files

    assert len(rows) == len(corpus_files(REPO / "corpus")) and {r["status"] for r in rows} == {"indexed"}
    dublin = next(r for r in rows if r["document"] == DUBLIN)
    assert dublin["year"] == "2013" and dublin["pages"] > 10 and dublin["passages"] > 10


def test_job_reports_errors_and_progress():
    def work(job: Job):
        job.progress("stage", 1, 4)
        raise RuntimeError("boom")

    job = Job("test", work).start()
    assert job.wait(10)
    assert job.error == "boom" and job.stage == "stage" and job.fraction == 0.25 and not job.running


def test_rebuild_in_the_background_keeps_answering_then_switches(corpus_index, embedder, tmp_path):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(REPO / "corpus", corpus)
    shutil.copytree(corpus_index, index_dir, ignore=shutil.ignore_patterns(".lock"))
    (corpus / "failing.pdf").write_bytes(b"not a pdf")
    (corpus / "ferries.md").write_text("# Ferry passes\n\nEvery resettled family receives a free annual ferry pass to the islands "
                                       "from the regional transport office.\n", encoding="utf-8")
    engine = Engine(Settings.from_env(corpus_dir=corpus, index_dir=index_dir), embedder=embedder)
    old = read_current(index_dir)
    rows = {r["document"]: r["status"] for r in engine.document_rows()}
    assert rows["ferries.md"] == "new" and rows["failing.pdf"] == "new"

    job = engine.start_build()
    assert engine.start_build() is job  # one rebuild at a time
    answered_during = []
    while job.running:
        answer, version = engine.ask("What are the three dimensions of integration policies?")
        answered_during.append(version)
        time.sleep(0.2)
    assert job.error is None, job.error
    assert answered_during and set(answered_during) <= {old, job.result.version}
    assert answered_during[0] == old
    assert read_current(index_dir) == job.result.version != old

    answer, version = engine.ask("Who gives resettled families a free ferry pass?")
    assert version == job.result.version and answer.citations and answer.citations[0].doc == "ferries.md"
    rows = {r["document"]: (r["status"], r["reason"]) for r in engine.document_rows()}
    assert rows["ferries.md"][0] == "indexed"
    assert rows["failing.pdf"][0] == "failed" and "PDF" in rows["failing.pdf"][1]


def test_rebuild_failure_leaves_the_index_alone(corpus_index, embedder, tmp_path):
    index_dir = tmp_path / "index"
    shutil.copytree(corpus_index, index_dir, ignore=shutil.ignore_patterns(".lock"))
    engine = Engine(Settings.from_env(corpus_dir=tmp_path / "no-such-folder", index_dir=index_dir), embedder=embedder)
    job = engine.start_build()
    assert job.wait(60)
    assert "corpus folder not found" in job.error
    assert read_current(index_dir) == read_current(corpus_index)
