"""The index in Milvus (RAG_STORE=milvus) with real Milvus Lite, the real model and the seed documents.

Milvus Lite runs embedded (a path ending in .db) for one process, and as its own gRPC server
(`milvus-lite server`, started here on 127.0.0.1 and stopped by the test) where several processes
share one index: a build killed mid-way, a second process answering.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Self

import pytest

from retrieval import BuildError, Engine, IndexMismatch, Retriever, Settings, build_index, open_store
from retrieval.store.index import identity

# Milvus Lite and a Milvus server, against FAISS on the real model's vectors (near-ties would order differently)
pytestmark = [pytest.mark.milvus, pytest.mark.real_model]

REPO = Path(__file__).resolve().parents[1]
SEEDS = ["budapest-process-integration-reintegration-2016.md", "interact-expert-survey-2015.md"]
NOTES = (
    "Integration course attendance in the district\n\n"
    "The district office keeps a register of integration course attendance. "
    "Attendance rose after the evening classes were introduced. "
    "Childcare during the lessons remains the most requested service.\n"
)
BEES = "Beekeeping calendar for the allotment society\n\n" + " ".join(
    f"In week {i} the beekeepers inspect hive number {i} and record the weight of its honey frames in the ledger." for i in range(1, 31)
)


def seed_questions() -> list[str]:
    rows = [json.loads(line) for line in (REPO / "eval" / "questions.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    return [q["question"] for q in rows if q.get("gold") and all(g["doc"] in SEEDS for g in q["gold"])]


def milvus_settings(corpus: Path, uri: str, **overrides) -> Settings:
    # index_dir points nowhere: nothing of a Milvus index is on local disk
    return Settings.from_env(corpus_dir=corpus, index_dir=corpus.parent / "no-index-here", store="milvus", milvus_uri=uri, **overrides)


def make_corpus(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for name in SEEDS:
        shutil.copyfile(REPO / "corpus" / name, folder / name)
    (folder / "notes.txt").write_text(NOTES, encoding="utf-8")
    return folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def both(tmp_path_factory, module_embedder):
    """The same corpus built into FAISS files and into Milvus Lite."""
    root = tmp_path_factory.mktemp("milvus-both")
    corpus = make_corpus(root / "corpus")
    faiss_settings = Settings.from_env(corpus_dir=corpus, index_dir=root / "index")
    build_index(faiss_settings, embedder=module_embedder, progress=False)
    settings = milvus_settings(corpus, str(root / "milvus.db"))
    report = build_index(settings, embedder=module_embedder, progress=False)
    assert sorted(report.added) == sorted([*SEEDS, "notes.txt"]) and not report.failed, report.summary()
    return Retriever.open(faiss_settings, embedder=module_embedder), Retriever.open(settings, embedder=module_embedder), settings


def test_milvus_gives_the_same_passages_and_answers_as_faiss(both):
    from retrieval import Answerer

    files, milvus, _ = both
    assert milvus.index.sentence_store is not None and "Milvus" in milvus.index.store.describe()
    assert [c.chunk_id for c in milvus.index.chunks] == [c.chunk_id for c in files.index.chunks]
    questions = seed_questions()
    assert len(questions) >= 30
    same_order = 0
    for question in questions:
        a = [h.chunk.chunk_id for h in files.search(question, 10)]
        b = [h.chunk.chunk_id for h in milvus.search(question, 10)]
        assert set(a) == set(b), question
        same_order += a == b
    assert same_order >= 0.95 * len(questions)
    answer_files, answer_milvus = Answerer(files), Answerer(milvus)
    for question in questions[:15]:
        x, y = answer_files.ask(question), answer_milvus.ask(question)
        assert (x.text, x.answerable, [(c.doc, c.section, c.text) for c in x.citations]) == (y.text, y.answerable, [(c.doc, c.section, c.text) for c in y.citations])


def test_an_app_server_holds_neither_the_chunk_table_nor_the_documents(both, embedder):
    """Opening a Milvus index reads the manifest and the sentence spans; chunks and documents are
    fetched when a question needs them (a bounded cache), so app servers stay small at any size."""
    from retrieval.store.milvus_search import MilvusChunks, MilvusDocuments

    _, _, settings = both
    index = open_store(settings).open()
    assert isinstance(index.chunks, MilvusChunks) and isinstance(index.documents, MilvusDocuments)
    assert len(index.chunks._cache) <= len(index.rows_by_doc) and len(index.documents._cache) == 0  # each document's first chunk, checked
    hits = Retriever(index, embedder).search("How many experts did the INTERACT survey interview?", 5)
    assert hits and len(index.chunks._cache) <= 10 + len(index.rows_by_doc) and len(index.documents._cache) == 0
    row = index.row_of[hits[0].chunk.chunk_id]
    assert index.chunks[row] == hits[0].chunk and row in index.rows_by_doc[hits[0].doc_id]
    document = index.documents[hits[0].doc_id]
    assert document.text[hits[0].chunk.start : hits[0].chunk.end] == hits[0].chunk.text
    assert [c.chunk_id for c in index.chunks] == [c.chunk_id for c in both[0].index.chunks]  # the whole table, page by page
    index.chunks.CACHE = 5  # a document of more chunks than the cache holds is still read whole, in order
    rows = index.rows_by_doc[SEEDS[1]]
    assert [c.chunk_id for c in index.chunks_at(rows)] == [both[0].index.chunks[int(r)].chunk_id for r in rows] and len(rows) > 5
    assert len(index.chunks._cache) <= 5


def test_each_ranking_is_the_same_in_both_stores(both, embedder):
    files, milvus, _ = both
    question = "Which countries did the INTERACT survey cover?"
    vector = embedder.embed_query(question)
    # every ranking filters by document name in both stores (no row numbers cross the seam)
    for docs in (None, [SEEDS[1]], [SEEDS[1], "not-a-document.md"], ["not-a-document.md"]):
        for method in (lambda r, d=docs: r.dense(vector, 20, d), lambda r, d=docs: r.lexical(question, 20, d), lambda r, d=docs: r.best_sentences(vector, 20, d)):
            rows_f, scores_f = method(files)
            rows_m, scores_m = method(milvus)
            assert rows_f.tolist() == rows_m.tolist(), docs
            if docs == ["not-a-document.md"]:
                assert len(rows_f) == 0
                continue
            assert len(rows_f) > 5 and (docs is None or set(rows_f.tolist()) <= set(files.index.rows_of(docs).tolist()))
            assert abs(scores_f - scores_m).max() < 1e-4  # BM25 scores on the same scale too


def test_document_filter_is_a_milvus_filter(both):
    files, milvus, _ = both
    hits = milvus.search("What does the district office keep a register of?", 5, docs=["notes.txt"])
    assert hits and {h.doc_id for h in hits} == {"notes.txt"}
    assert [h.chunk.chunk_id for h in hits] == [h.chunk.chunk_id for h in files.search("What does the district office keep a register of?", 5, docs=["notes.txt"])]
    assert milvus.search("integration", 5, docs=["no such document.pdf"]) == []


def test_incompatible_index_is_refused_with_one_line(both):
    _, _, settings = both
    other = identity("all-MiniLM-L6-v2", None, settings.chunk_tokens + 50, settings.overlap_tokens)
    with pytest.raises(IndexMismatch) as caught:
        open_store(settings).open(expected=other)
    message = str(caught.value)
    assert "chunker settings" in message and "RAG_STORE=milvus" in message and "--full" in message and "\n" not in message


def test_second_build_at_once_is_refused(both, embedder):
    _, _, settings = both
    with open_store(settings).build_lock(), pytest.raises(BuildError, match="another build is already running"):
        build_index(settings, embedder=embedder, progress=False)


def test_incremental_builds_reuse_vectors_switch_the_alias_and_keep_two_versions(tmp_path, embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "notes.txt").write_text(NOTES, encoding="utf-8")
    settings = milvus_settings(corpus, str(tmp_path / "milvus.db"), milvus_collection="incremental")
    location = open_store(settings)
    first = build_index(settings, embedder=embedder, progress=False)
    assert first.embedded > 0
    again = build_index(settings, embedder=embedder, progress=False)
    assert again.embedded == 0 and again.sentences_embedded == 0 and again.unchanged == ["notes.txt"]
    (corpus / "bees.txt").write_text(BEES, encoding="utf-8")
    third = build_index(settings, embedder=embedder, progress=False)
    index = open_store(settings).open()
    assert third.added == ["bees.txt"] and third.embedded == index.manifest["documents"][0]["chunks"]  # only the new document's chunks
    assert location.read_current(fresh=True) == third.version == index.version
    assert location.versions() == sorted([again.version, third.version])  # the oldest was dropped
    hit = Retriever(index, embedder).search("When do the beekeepers inspect hive number 7?", 1)[0]
    assert hit.doc_id == "bees.txt" and "hive number 7 " in hit.chunk.text


def test_app_switches_to_a_new_build_under_a_concurrent_reader(tmp_path, embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "notes.txt").write_text(NOTES, encoding="utf-8")
    settings = milvus_settings(corpus, str(tmp_path / "milvus.db"), milvus_collection="switch")
    build_index(settings, embedder=embedder, progress=False)
    engine = Engine(settings, embedder=embedder, load_model=False)
    before = engine.live_version()
    answers, errors, stop = [], [], threading.Event()

    def reader():
        while not stop.is_set():
            try:
                answers.append(engine.ask("What is the most requested service during the lessons?")[1])
            except Exception as exc:
                errors.append(repr(exc))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        (corpus / "bees.txt").write_text(BEES, encoding="utf-8")
        report = build_index(settings, embedder=embedder, progress=False)
        # the alias is re-read at most once a second; a loaded machine may take a little longer
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not (answers and answers[-1] == report.version):
            time.sleep(0.1)
    finally:
        stop.set()
        thread.join(60)
    assert not errors
    assert before in answers and report.version in answers and answers[-1] == report.version
    answer, version = engine.ask("When do the beekeepers inspect hive number 7?")
    assert version == report.version and answer.citations[0].doc == "bees.txt"


# --------------------------------------------------------------------------- several processes, one server


@pytest.fixture
def server(tmp_path):
    """Milvus Lite's own gRPC server on a free loopback port; stopped by the test."""
    port = free_port()
    data = tmp_path / "server.db"
    uri = MilvusServer(f"http://127.0.0.1:{port}", None)
    uri.start = lambda: _start_server(data, port)
    uri.process = uri.start()
    yield uri
    uri.process.terminate()
    uri.process.wait(30)


def _start_server(data: Path, port: int) -> subprocess.Popen:
    process = subprocess.Popen([str(Path(sys.executable).parent / "milvus-lite"), "server", "--data-dir", str(data), "--host", "127.0.0.1", "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        assert process.poll() is None, process.stderr.read().decode()
        time.sleep(0.1)
    return process


class MilvusServer(str):
    """The server's URI (a str), with its process."""

    def __new__(cls, uri: str, process: subprocess.Popen | None) -> Self:
        self = super().__new__(cls, uri)
        self.process = process
        return self

    def restart(self) -> None:
        """Stop the server and start it again on the same data folder and port."""
        self.process.terminate()
        self.process.wait(30)
        self.process = self.start()


def cli(args: list[str], uri: str, corpus: Path, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO), "RAG_STORE": "milvus", "RAG_MILVUS_URI": uri, "RAG_CORPUS_DIR": str(corpus)}
    return subprocess.run([sys.executable, "-m", "retrieval", *args], cwd=REPO, env=env, check=False, capture_output=True, text=True, timeout=600, **kwargs)


def test_a_second_process_answers_from_the_same_uri(server, tmp_path, embedder):
    corpus = make_corpus(tmp_path / "corpus")
    settings = milvus_settings(corpus, server)
    build_index(settings, embedder=embedder, progress=False)
    from retrieval import Answerer

    question = "How many experts did the INTERACT survey interview?"
    here = Answerer(Retriever.open(settings, embedder=embedder)).ask(question)
    result = cli(["ask", "--json", "--index", str(tmp_path / "ignored"), question], server, corpus)
    assert result.returncode == 0, result.stderr
    assert "--index is ignored" in result.stderr
    there = json.loads(result.stdout)
    assert there["answer"] == here.text and [c["doc"] for c in there["citations"]] == [c.doc for c in here.citations] and here.citations


def test_build_killed_midway_leaves_the_alias_and_the_next_build_recovers(server, tmp_path, embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "notes.txt").write_text(NOTES, encoding="utf-8")
    settings = milvus_settings(corpus, server)
    before = build_index(settings, embedder=embedder, progress=False).version
    for name in SEEDS:
        shutil.copyfile(REPO / "corpus" / name, corpus / name)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO), "RAG_STORE": "milvus", "RAG_MILVUS_URI": server}
    process = subprocess.Popen([sys.executable, "-m", "retrieval", "build", "--corpus", str(corpus)], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        seen, deadline = "", time.monotonic() + 240
        while "embedding" not in seen and time.monotonic() < deadline and process.poll() is None:
            seen += process.stderr.read(1) or ""
        assert "embedding" in seen, seen
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
    location = open_store(settings)
    assert location.read_current(fresh=True) == before
    index = open_store(settings).open()
    assert {c.doc_id for c in index.chunks} == {"notes.txt"}
    report = build_index(settings, embedder=embedder, progress=False)  # the dead build's lock is taken over
    assert sorted(report.added) == sorted(SEEDS) and location.read_current(fresh=True) == report.version


def _kill_while_embedding(args: list[str], uri: str, corpus: Path) -> str:
    """Start `python -m retrieval build ...` on the URI, SIGKILL it once it is embedding; its stderr."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO), "RAG_STORE": "milvus", "RAG_MILVUS_URI": uri, "RAG_CORPUS_DIR": str(corpus)}
    process = subprocess.Popen([sys.executable, "-m", "retrieval", *args], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        seen, deadline = "", time.monotonic() + 240
        while "embedding" not in seen and time.monotonic() < deadline and process.poll() is None:
            seen += process.stderr.read(1) or ""
        assert "embedding" in seen and process.poll() is None, seen
        process.send_signal(signal.SIGKILL)
        assert process.wait(30) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
    return seen


def test_a_killed_embedded_build_does_not_block_the_next(tmp_path):
    """Issue 29, item 1: `build --full` on Milvus Lite embedded (a .db path), SIGKILLed while it
    embeds, left its build lock in a collection that reopens 'released'; the holder could not be
    read, so every later build stopped with "another build is already running". Now the next build
    takes the dead build's lock over (no other process can have the data folder open) and completes,
    and the index it replaces stayed live meanwhile."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "notes.txt").write_text(NOTES, encoding="utf-8")
    uri = str(tmp_path / "embedded.db")
    first = cli(["build", "--quiet"], uri, corpus)
    assert first.returncode == 0, first.stderr
    for name in SEEDS:
        shutil.copyfile(REPO / "corpus" / name, corpus / name)
    _kill_while_embedding(["build", "--full"], uri, corpus)
    info = json.loads(cli(["info", "--json"], uri, corpus).stdout)
    assert [d["doc"] for d in info["documents"]] == ["notes.txt"]  # the killed build changed nothing
    again = cli(["build"], uri, corpus)
    assert again.returncode == 0 and "another build" not in again.stderr, again.stderr
    assert "2 added" in again.stdout, again.stdout
    info = json.loads(cli(["info", "--json"], uri, corpus).stdout)
    assert sorted(d["doc"] for d in info["documents"]) == sorted([*SEEDS, "notes.txt"])
    # a build of this process still waits for another build of this process
    settings = milvus_settings(corpus, uri, milvus_collection="rag")
    location = open_store(settings)
    try:
        with location.build_lock(), pytest.raises(BuildError, match="another build is already running"):
            build_index(settings, progress=False)
    finally:
        location.close(release=True)


def test_a_build_killed_before_the_server_restarts_does_not_block_the_next(server, tmp_path):
    """Item 1 against `milvus-lite server`: a build SIGKILLed while embedding, then the server
    restarted (its collections reopen 'released'): the next build reads the dead holder and takes
    its lock over."""
    corpus = make_corpus(tmp_path / "corpus")
    _kill_while_embedding(["build", "--full"], server, corpus)
    server.restart()
    again = cli(["build"], server, corpus)
    assert again.returncode == 0 and "another build" not in again.stderr, again.stderr
    assert "3 added" in again.stdout, again.stdout


def test_a_stopped_server_gives_one_line(tmp_path):
    corpus = make_corpus(tmp_path / "corpus")
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    for args in (["ask", "What is integration?"], ["build", "--quiet"], ["info"]):
        result = cli(args, uri, corpus)
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and "Milvus" in lines[0] and "Traceback" not in result.stderr, result.stderr


def test_unknown_store_and_bad_lite_path_are_one_line(tmp_path):
    corpus = make_corpus(tmp_path / "corpus")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO), "RAG_STORE": "elastic"}
    result = subprocess.run([sys.executable, "-m", "retrieval", "info"], cwd=REPO, env=env, check=False, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stderr.strip() == "error: RAG_STORE 'elastic' is not one of faiss, milvus"
    result = cli(["info"], str(tmp_path / "milvus-folder"), corpus)
    assert result.returncode == 2 and "must end in .db" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_settings_come_from_the_environment():
    settings = Settings.from_env({"RAG_STORE": "milvus", "RAG_MILVUS_URI": "http://db:19530", "RAG_MILVUS_TOKEN": "root:Milvus", "RAG_MILVUS_COLLECTION": "ministry", "RAG_MILVUS_INDEX": "HNSW"})
    location = open_store(settings)
    assert (location.uri, location.token, location.prefix, location.index_type) == ("http://db:19530", "root:Milvus", "ministry", "HNSW")
    assert not location.is_lite and replace(settings, store="faiss").store == "faiss"


def test_a_server_that_stops_after_opening_gives_one_line(server, tmp_path, embedder, monkeypatch):
    from retrieval.store.index import StoreUnavailable

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "notes.txt").write_text(NOTES, encoding="utf-8")
    settings = milvus_settings(corpus, server, milvus_collection="stopping")
    build_index(settings, embedder=embedder, progress=False)
    retriever = Retriever.open(settings, embedder=embedder)
    assert retriever.search("What is the most requested service?", 3)
    server.process.kill()
    server.process.wait(30)
    with pytest.raises(StoreUnavailable) as caught:
        retriever.search("What is the most requested service?", 3)
    assert "\n" not in str(caught.value) and server in str(caught.value)


def test_the_app_answers_from_milvus(both, monkeypatch):
    """The Streamlit app (streamlit.testing) with RAG_STORE=milvus: an answer with citations from the
    Milvus index, tied to the alias's version, and the Index page listing its documents."""
    from streamlit.testing.v1 import AppTest

    _, milvus, settings = both
    for name, value in {"RAG_STORE": "milvus", "RAG_MILVUS_URI": settings.milvus_uri, "RAG_CORPUS_DIR": str(settings.corpus_dir),
                        "RAG_INDEX_DIR": str(settings.index_dir)}.items():
        monkeypatch.setenv(name, value)
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=180)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    at.chat_input(key="chat").set_value("What are the three dimensions of integration policies?").run()
    assert not at.exception, [e.value for e in at.exception]
    turn = at.session_state["turns"][-1]
    assert turn.answer.answerable and turn.answer.citations[0].doc == SEEDS[0]
    assert turn.version == milvus.index.version
    at.radio(key="view").set_value("Index").run()
    assert not at.exception, [e.value for e in at.exception]
    page = "\n".join(str(getattr(e, "value", "")) for e in at.get("html")) + "\n".join(str(df.value) for df in at.dataframe)
    assert "notes.txt" in page and SEEDS[1] in page


def test_a_link_keeps_a_milvus_index_version_and_still_refuses_junk():
    """Issue 27, item 4: parse_snapshot checked a link's version against the files back end's names
    only (v<time>-<hex6>), so under RAG_STORE=milvus, whose versions are <prefix>_v<time>_<hex6>,
    a shared answer link lost its version. Both stores' names are kept; anything else is dropped."""
    from retrieval.serve.links import parse_snapshot
    from retrieval.store.milvus import version_name

    for prefix in ("rag", "migration_policy", "Team2", "_x"):
        version = version_name(prefix)
        assert parse_snapshot({"q": ["ok"], "v": [version]}).version == version
    assert parse_snapshot({"q": ["ok"], "v": ["v20261201T010605-7ebe91"]}).version == "v20261201T010605-7ebe91"
    for junk in ("../../etc/passwd", "rag_v20261201T010605_7ebe9g", "rag_v20261201T010605-7ebe91", "v20261201T010605_7ebe91",
                 "rag-x_v20261201T010605_7ebe91", "rag_v20261201T010605_7ebe91_sentences", "rag_v20261201T010605_7ebe91/../x",
                 "9rag_v20261201T010605_7ebe91", "_v20261201T010605_7ebe91", "a" * 300 + "_v20261201T010605_7ebe91", "rag v20261201T010605_7ebe91"):
        assert parse_snapshot({"q": ["ok"], "v": [junk]}).version == "", junk


def test_a_shared_link_under_milvus_says_when_the_index_changed_since(both, monkeypatch):
    """The app with RAG_STORE=milvus opened on an answer link: made with the live version, no note;
    made with another version (a name as Milvus writes them), the note that the index has changed."""
    from streamlit.testing.v1 import AppTest

    from retrieval.store.milvus import version_name

    _, milvus, settings = both
    for name, value in {"RAG_STORE": "milvus", "RAG_MILVUS_URI": settings.milvus_uri, "RAG_CORPUS_DIR": str(settings.corpus_dir),
                        "RAG_INDEX_DIR": str(settings.index_dir)}.items():
        monkeypatch.setenv(name, value)
    live = milvus.index.version
    other = version_name(settings.milvus_collection)  # another build's name, as Milvus writes them
    assert other != live

    def opened(version: str) -> tuple[AppTest, str]:
        at = AppTest.from_file(str(REPO / "app.py"), default_timeout=180)
        at.query_params.update({"q": ["What are the three dimensions of integration policies?"], "v": [version]})
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        return at, "\n".join(h.value for h in at.get("html"))

    same, html = opened(live)
    assert same.session_state["turns"][-1].version == live and 'class="rag-warning"' not in html
    stale, html = opened(other)
    assert stale.session_state["turns"][-1].answer.answerable
    assert "the index has changed since" in html and other in html
