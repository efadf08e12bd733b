"""Bad input and faults: every case gets a clear reason, nothing else is lost, the index stays usable.

See docs/bad-input.md for the table of what each input gets.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retrieval import BuildError, Document, DocumentError, Settings, build_index, chunk_document, load_document
from retrieval.store.files import build_lock, open_index
from retrieval.text.documents import assemble, markdown_blocks
from retrieval.text.workers import ParserPool, parse_isolated

REPO = Path(__file__).resolve().parents[1]
NOTES = (
    "Integration notes\n\nThe municipality offers language courses to newly arrived refugees. "
    "Courses are free of charge and start within three months of arrival.\n"
)


def _encrypted_pdf(path: Path, pdf_factory) -> Path:
    import pypdf

    plain = pdf_factory(path.with_suffix(".plain.pdf"), [["A secret page about integration policy and housing."]])
    writer = pypdf.PdfWriter(clone_from=str(plain))
    writer.encrypt(user_password="secret", owner_password="owner")
    with path.open("wb") as fh:
        writer.write(fh)
    plain.unlink()
    return path


def test_encrypted_pdf_is_reported(tmp_path, pdf_factory):
    path = _encrypted_pdf(tmp_path / "locked.pdf", pdf_factory)
    with pytest.raises(DocumentError, match="encrypted PDF"):
        load_document(path)


def test_text_that_is_not_utf8_is_decoded_with_a_warning(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_bytes("Intégration des réfugiés: cours de français gratuits pour les nouveaux arrivants.".encode("cp1252"))
    doc = load_document(path)
    assert "Intégration des réfugiés" in doc.text
    assert doc.warnings and "not UTF-8" in doc.warnings[0]


def test_awkward_file_names_are_indexed(tmp_path, embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    names = ["notes with spaces.txt", "intégração é ñ.md", "odd #1 (copy) [v2] 'q'.txt"]
    for i, name in enumerate(names):
        (corpus / name).write_text(NOTES.replace("three", f"{i + 2} extra"), encoding="utf-8")
    report = build_index(Settings.from_env(corpus_dir=corpus, index_dir=tmp_path / "index"), embedder=embedder, progress=False)
    assert sorted(report.added) == sorted(names) and not report.failed
    assert sorted(open_index(tmp_path / "index").documents) == sorted(names)


def test_every_bad_document_is_reported_and_the_good_ones_indexed(tmp_path, embedder, pdf_factory):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text(NOTES, encoding="utf-8")
    _encrypted_pdf(corpus / "locked.pdf", pdf_factory)
    pdf_factory(corpus / "scan.pdf", [[], []], header=None, footer=False)
    (corpus / "latin1.txt").write_bytes("Réintégration: un accompagnement personnalisé des migrants de retour.".encode("latin-1"))
    report = build_index(Settings.from_env(corpus_dir=corpus, index_dir=tmp_path / "index"), embedder=embedder, progress=False)
    failed = dict(report.failed)
    assert sorted(failed) == ["locked.pdf", "scan.pdf"]
    assert failed["locked.pdf"].startswith("encrypted PDF")
    assert "OCR" in failed["scan.pdf"]
    assert sorted(report.added) == ["good.txt", "latin1.txt"]
    assert ("latin1.txt", "not UTF-8: decoded as Windows-1252, some characters may be wrong") in report.warnings


def test_parsing_that_runs_too_long_is_cut_off(tmp_path):
    big = REPO / "corpus" / "eu-commission-notice-free-movement-guidance-2023.pdf"
    small = tmp_path / "small.txt"
    small.write_text(NOTES, encoding="utf-8")
    results = dict(parse_isolated([big, small], {}, workers=2, timeout_s=0.5))
    assert isinstance(results[big], DocumentError) and "longer than" in str(results[big])
    assert isinstance(results[small], Document)


def test_parsing_that_needs_too_much_memory_is_cut_off(tmp_path):
    huge = tmp_path / "huge.txt"
    huge.write_bytes(b"Integration policy supports newcomers. " * 8_000_000)  # ~300 MB of text
    small = tmp_path / "small.txt"
    small.write_text(NOTES, encoding="utf-8")
    results = dict(parse_isolated([huge, small], {}, workers=2, memory_mb=100, timeout_s=300))
    assert isinstance(results[huge], DocumentError)
    assert "memory limit (100 MB)" in str(results[huge])
    assert isinstance(results[small], Document)


def write_notes(folder: Path, n: int) -> list[Path]:
    """n small text documents, each parsed in a moment."""
    paths = []
    for i in range(n):
        path = folder / f"note-{i:02d}.txt"
        path.write_text(f"Note {i}.\n\n{NOTES}", encoding="utf-8")
        paths.append(path)
    return paths


def test_parser_processes_are_reused_and_replaced_only_when_cut_off(tmp_path):
    smalls = write_notes(tmp_path, 12)
    pool = ParserPool({}, workers=2, timeout_s=60)
    results = dict(pool.parse(smalls))
    assert all(isinstance(results[p], Document) for p in smalls)
    assert pool.processes_started == 2  # not one per document

    big = REPO / "corpus" / "eu-commission-notice-free-movement-guidance-2023.pdf"
    pool = ParserPool({}, workers=1, timeout_s=0.5)
    results = dict(pool.parse([smalls[0], big, *smalls[1:4]]))
    assert "longer than" in str(results[big])
    assert all(isinstance(results[p], Document) for p in smalls[:4])
    assert pool.processes_started == 2  # the one cut off was replaced, once


def test_a_parser_process_killed_while_idle_is_replaced(tmp_path):
    notes = write_notes(tmp_path, 4)
    pool = ParserPool({}, workers=1, timeout_s=60)
    started = []  # the pool's processes, as it starts them
    start = pool._start
    pool._start = lambda ctx: started.append(start(ctx)) or started[-1]
    results = pool.parse(notes)
    _first_path, first = next(results)
    assert isinstance(first, Document)
    # the pool's own process, not "the newest child" (a build an earlier test left running may have
    # forked one since); killed, and waited for, so that it has ended, however slowly on a busy
    # machine, before the pool looks at it again
    [worker] = started
    parser = worker.process
    os.kill(parser.pid, signal.SIGKILL)
    parser.join(60)
    assert parser.exitcode == -signal.SIGKILL
    rest = dict(results)
    assert all(isinstance(rest[p], Document) for p in notes[1:])
    assert pool.processes_started == 2


# --------------------------------------------------------------------------- an interrupted build


def test_build_killed_while_parsing_leaves_no_parser_behind(tmp_path):
    """Parser processes die with the build: none goes on holding the build lock."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("eu-commission-notice-free-movement-guidance-2023.pdf", "eu-regulation-604-2013-dublin-iii.pdf"):
        shutil.copy(REPO / "corpus" / name, corpus)
    index_dir = tmp_path / "index"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(_build_cmd(corpus, index_dir), cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        seen = ""
        while "parsing:" not in seen and process.poll() is None:
            seen += process.stderr.read(1) or ""
        # "parsing:" is printed before the files are hashed and the tokenizer loaded: wait for the two
        # parser processes (each PDF takes seconds to parse), however long a busy machine takes to fork them
        deadline = time.monotonic() + 120
        children: list[str] = []
        while len(children) < 2 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
            children = subprocess.run(["pgrep", "-P", str(process.pid)], check=False, capture_output=True, text=True).stdout.split()
        assert children, "no parser process was running"
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
    # each parser is killed with its parent (PR_SET_PDEATHSIG); leaving a large process takes a while on a busy machine
    deadline = time.monotonic() + 60
    while [pid for pid in children if _running(pid)] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in children if _running(pid)]
    with build_lock(index_dir):  # free at once: no orphan holds it
        pass


def _running(pid: str) -> bool:
    """Whether a process exists and has not ended (a zombie has ended; it may vanish while being read)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def _build_cmd(corpus: Path, index: Path) -> list[str]:
    return [sys.executable, "-m", "retrieval", "build", "--corpus", str(corpus), "--index", str(index)]


# a build that takes seconds to embed, long enough to be caught at it
@pytest.mark.real_model
def test_build_killed_midway_leaves_the_previous_index(tmp_path, embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text(NOTES, encoding="utf-8")
    index_dir = tmp_path / "index"
    build_index(Settings.from_env(corpus_dir=corpus, index_dir=index_dir), embedder=embedder, progress=False)
    before = open_index(index_dir)

    shutil.copy(REPO / "corpus" / "eu-regulation-604-2013-dublin-iii.pdf", corpus)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(_build_cmd(corpus, index_dir), cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # wait until it is embedding, i.e. well into the work, then kill it without warning
        deadline = time.monotonic() + 240
        seen = ""
        while "embedding" not in seen and time.monotonic() < deadline:
            seen += process.stderr.read(1) or ""
            assert process.poll() is None or "embedding" in seen, f"build ended before it could be killed: {seen[-500:]}"
        assert "embedding" in seen
        # held there (it keeps the build lock): on a busy machine it could otherwise finish embedding
        # before the second build below has started
        process.send_signal(signal.SIGSTOP)

        # a second build while the first runs stops at once: one writer at a time
        second = subprocess.run(_build_cmd(corpus, index_dir), cwd=REPO, env=env, check=False, capture_output=True, text=True, timeout=120)
        assert second.returncode == 2
        assert second.stderr.strip().count("\n") == 0 and "already running" in second.stderr

        process.send_signal(signal.SIGKILL)
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()

    after = open_index(index_dir)
    assert after.version == before.version
    assert [c.chunk_id for c in after.chunks] == [c.chunk_id for c in before.chunks]
    assert sorted(after.documents) == ["good.txt"]

    report = build_index(Settings.from_env(corpus_dir=corpus, index_dir=index_dir), embedder=embedder, progress=False)
    assert report.added == ["eu-regulation-604-2013-dublin-iii.pdf"] and report.unchanged == ["good.txt"]
    assert not [p for p in index_dir.iterdir() if p.name.startswith(".building-")]
    assert "eu-regulation-604-2013-dublin-iii.pdf" in open_index(index_dir).documents


def test_second_build_in_process_is_refused_while_one_runs(tmp_path, embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text(NOTES, encoding="utf-8")
    settings_ = Settings.from_env(corpus_dir=corpus, index_dir=tmp_path / "index")
    started, release = threading.Event(), threading.Event()

    def slow_progress(stage, done, total):
        started.set()
        release.wait(60)

    worker = threading.Thread(target=build_index, args=(settings_,), kwargs={"embedder": embedder, "progress": False, "on_progress": slow_progress})
    worker.start()
    try:
        assert started.wait(60)
        with pytest.raises(BuildError, match="already running"):
            build_index(settings_, embedder=embedder, progress=False)
    finally:
        release.set()
        worker.join(120)
    assert open_index(tmp_path / "index").documents


# --------------------------------------------------------------------------- questions


@pytest.fixture(scope="module")
def answerer(module_corpus_index, module_embedder):
    from retrieval import Answerer, Retriever

    return Answerer(Retriever.open(Settings.from_env(index_dir=module_corpus_index), embedder=module_embedder))


@pytest.mark.parametrize(
    "question",
    [
        "",
        "   \n\t ",
        "?!... ;;; --",
        "Quels sont les droits des réfugiés au logement ?",
        "ما هي حقوق اللاجئين في العمل؟",
        "难民有工作的权利吗？",
        "<script>alert('x')</script> What rights do refugees have to housing?",
        "![img](http://example.com/x.png) [click](http://evil.example) What is Article 21 about?",
        ("What do the documents say about integration? " * 250)[:10_000],
    ],
)
def test_any_question_gets_a_reply(answerer, question):
    answer = answerer.ask(question)
    assert answer.text
    if answer.answerable:
        for sentence in answer.sentences:
            assert sentence.text in answer.citations[sentence.n - 1].text


def test_twenty_concurrent_askers_all_get_answers(answerer):
    questions = [
        "What are the three dimensions of integration policies?",
        "What does Article 21 of the Refugee Convention say about housing?",
        "Which Member State is responsible when an applicant has a valid visa?",
        "What is the role of countries of origin before departure?",
    ]
    results: list = [None] * 20
    errors: list = []

    def ask(i: int) -> None:
        try:
            results[i] = answerer.ask(questions[i % len(questions)])
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors
    assert all(r is not None and r.answerable for r in results)
    assert len({r.text for r in results[0::4]}) == 1  # the same question gets the same answer under load


# --------------------------------------------------------------------------- chunking property


def count_words(texts):
    return [len(t.split()) for t in texts]


paragraph = st.lists(st.text(alphabet=st.characters(whitelist_categories=("Lu", "Ll", "Nd"), max_codepoint=0x24F), min_size=1, max_size=12), min_size=1, max_size=60).map(
    lambda words: " ".join(words) + "."
)
heading = st.integers(min_value=1, max_value=9).map(lambda n: f"{n}. Section number {n}")
blocks = st.lists(st.one_of(paragraph, heading), min_size=1, max_size=12)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(blocks, st.integers(min_value=8, max_value=60), st.integers(min_value=0, max_value=12))
def test_chunks_cover_every_character_in_order_within_budget_and_section(parts, budget, overlap):
    text = "\n\n".join(parts)
    body, page_starts, sections = assemble(markdown_blocks(text))
    doc = Document(doc_id="gen.md", title="gen", text=body, sections=sections, page_starts=page_starts)
    max_tokens = budget + 2 + 8  # room for the special tokens and a short section prefix
    chunks = chunk_document(doc, count_words, max_tokens=max_tokens, overlap_tokens=overlap)
    covered = [False] * len(body)
    for chunk in chunks:
        assert chunk.n_tokens <= max_tokens
        inside = [s for s in sections if s.start <= chunk.start and chunk.end <= s.end]
        assert len(inside) == 1 and chunk.section == inside[0].label
        for i in range(chunk.start, chunk.end):
            covered[i] = True
    # in order: chunk starts never go backwards
    assert all(a.start <= b.start for a, b in itertools.pairwise(chunks))
    # every non-whitespace character of every section body is in some chunk
    for section in sections:
        for i in range(section.start, section.end):
            assert covered[i] or body[i].isspace(), (body[i], i)
    # outside the section bodies there is only heading text
    outside = "".join(body[i] if not any(s.start <= i < s.end for s in sections) else "\n" for i in range(len(body)))
    assert all(re.fullmatch(r"\d\. Section number \d", line.strip()) for line in outside.split("\n") if line.strip())
