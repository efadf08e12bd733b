"""The Streamlit app driven through streamlit.testing (AppTest) against the real corpus index.

The engine (model and index) is kept per process by st.cache_resource, so the tests share it the
way browser sessions do. Upload and rebuild tests work on a copy of the corpus and of the index.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from streamlit.testing.v1 import AppTest

from retrieval import NOT_COVERED
from retrieval.serve.links import snapshot_link

REPO = Path(__file__).resolve().parents[1]
APP = REPO / "app.py"
TIMEOUT = 180

BUDAPEST = "budapest-process-integration-reintegration-2016.md"
UK = "uk-home-office-sponsor-a-skilled-worker-guidance-2025.pdf"
DIMENSIONS = "What are the three dimensions of integration policies?"
GOULASH = "How do you cook a traditional Hungarian goulash?"


@pytest.fixture
def live(corpus_index, monkeypatch):
    """The app pointed at the corpus index built once for the session (read only here)."""
    monkeypatch.setenv("RAG_INDEX_DIR", str(corpus_index))
    monkeypatch.setenv("RAG_CORPUS_DIR", str(REPO / "corpus"))
    return corpus_index


@pytest.fixture
def writable(corpus_index, monkeypatch, tmp_path):
    """The app on a copy of the corpus and of its index, for uploads and rebuilds."""
    corpus = tmp_path / "corpus"
    shutil.copytree(REPO / "corpus", corpus)
    index = tmp_path / "index"
    shutil.copytree(corpus_index, index, ignore=shutil.ignore_patterns(".lock"))
    monkeypatch.setenv("RAG_INDEX_DIR", str(index))
    monkeypatch.setenv("RAG_CORPUS_DIR", str(corpus))
    return corpus, index


MAINTAINER_PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def password_hash() -> str:
    from retrieval.serve.maintainers import hash_password

    return hash_password(MAINTAINER_PASSWORD)


@pytest.fixture
def maintainer(password_hash, monkeypatch):
    """A maintainer password is configured for the app."""
    monkeypatch.setenv("RAG_MAINTAINER_PASSWORD_HASH", password_hash)
    return password_hash


def sign_in(at: AppTest, password: str = MAINTAINER_PASSWORD, name: str = "Ada Maintainer") -> AppTest:
    at.text_input(key="signin_name").input(name)
    at.text_input(key="signin_password").input(password)
    next(b for b in at.button if b.label == "Sign in").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def upload(at: AppTest, file: tuple) -> AppTest:
    """Give the Index page's uploader a file (name, bytes, type); the page empties it after handling it."""
    at.file_uploader[0].set_value(file).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def start(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    if query:
        at.query_params.update(query)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def ask(at: AppTest, question: str):
    at.chat_input(key="chat").set_value(question).run()
    assert not at.exception, [e.value for e in at.exception]
    return at.session_state["turns"][-1]


def page_html(at: AppTest) -> str:
    return "\n".join(h.value for h in at.get("html"))


def switch(at: AppTest, view: str) -> AppTest:
    at.radio(key="view").set_value(view).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


# --------------------------------------------------------------------------- officials


def test_empty_screen_shows_the_corpus_and_example_questions(live):
    at = start()
    assert at.title[0].value == "Migration policy assistant"
    assert DIMENSIONS in [b.label for b in at.button]
    sidebar = "\n".join(h.value for h in at.sidebar.get("html"))
    assert "Dublin III Regulation (EU) No 604/2013" in sidebar and "2013" in sidebar and "passages" in sidebar
    assert at.multiselect(key="docs").value == []


def test_ask_and_get_an_answer_with_citations(live):
    at = start()
    turn = ask(at, DIMENSIONS)
    answer = turn.answer
    assert answer.answerable and answer.citations[0].doc == BUDAPEST
    html = page_html(at)
    assert "Structural integration" in html and '<span class="rag-n">[1]</span>' in html
    first = answer.citations[0]
    assert "Budapest Process" in html and first.section.split(" > ")[-1].replace(">", "&gt;") in html
    assert '<mark class="quoted">' in html  # the sentences used, highlighted in the passage
    assert [e.label for e in at.expander].count("Surrounding text") == len(answer.citations)
    links = [m.value for m in at.markdown if m.value.startswith("[Link to this answer]")]
    assert len(links) == 1 and "q=What+are+the+three+dimensions" in links[0]
    assert turn.version == live.joinpath("CURRENT").read_text().strip()


def test_example_question_button_asks_it(live):
    at = start()
    next(b for b in at.button if b.label == DIMENSIONS).click().run()
    assert at.session_state["turns"][-1].answer.question == DIMENSIONS


def test_document_filter_asks_only_the_selected_documents(live):
    at = start()
    at.multiselect(key="docs").set_value([UK]).run()
    turn = ask(at, "What are the three dimensions of integration policies?")
    assert turn.docs == (UK,)
    cited = turn.answer.citations or turn.answer.related
    assert cited and {c.doc for c in cited} == {UK}
    assert "Asked only: " in page_html(at)
    turn = ask(at, "What is the general salary threshold for a Skilled Worker?")
    assert turn.answer.answerable and {c.doc for c in turn.answer.citations} == {UK}


def test_not_covered_says_so_and_lists_related_reading(live):
    at = start()
    turn = ask(at, GOULASH)
    assert not turn.answer.answerable and turn.answer.related
    html = page_html(at)
    assert f'<div class="rag-notcovered">{NOT_COVERED}</div>' in html
    assert "Related reading" in html and html.count('class="rag-card"') == len(turn.answer.related)
    assert '<mark class="quoted">' not in html  # nothing is presented as quoted for a non-answer


def test_follow_up_question_uses_the_previous_turn(live):
    at = start()
    first = ask(at, "What support do integration policies offer?")
    second = ask(at, "and for people who return?")
    assert second.after == first.answer.query
    assert second.answer.query == f"{first.answer.query} and for people who return?"
    assert "Read as a follow-up to: What support do integration policies offer?" in page_html(at)
    assert len(at.session_state["turns"]) == 2 and len(at.chat_message) == 4  # the conversation is kept


def test_questions_the_app_cannot_serve_get_a_clear_reply(live):
    at = start()
    at.chat_input(key="chat").set_value("   \n\t ").run()
    assert not at.exception and not at.session_state["turns"]  # whitespace: nothing is sent
    french = ask(at, "Quelle est la règle des trois mois pour les citoyens de l'Union ?")
    assert french.answer.language == "French"
    html = page_html(at)
    assert "seems to be in French" in html and "please ask it in English" in html
    assert "do not cover this question" not in html and "Related reading" not in html


def test_a_follow_up_can_be_asked_on_its_own(live):
    at = start()
    ask(at, "What support do integration policies offer?")
    ask(at, "and for people who return?")
    at.button(key="alone-1").click().run()
    again = at.session_state["turns"][-1]
    assert len(at.session_state["turns"]) == 3
    assert again.after == "" and again.answer.query == "and for people who return?"


def test_snapshot_link_reproduces_the_answer(live):
    at = start()
    at.multiselect(key="docs").set_value([BUDAPEST]).run()
    original = ask(at, DIMENSIONS)
    link = snapshot_link(original.snapshot)
    query = parse_qs(urlsplit(link).query)
    assert query["v"] == [original.version] and query["doc"] == [BUDAPEST]

    opened = start(query)
    turn = opened.session_state["turns"][-1]
    assert turn.answer.text == original.answer.text and turn.docs == (BUDAPEST,)
    assert [c.chunk_id for c in turn.answer.citations] == [c.chunk_id for c in original.answer.citations]
    assert opened.multiselect(key="docs").value == [BUDAPEST]
    assert 'class="rag-warning"' not in page_html(opened)

    stale = start(query | {"v": ["v20000101T000000-000000"]})
    assert stale.session_state["turns"][-1].answer.text == original.answer.text
    assert "the index has changed since" in page_html(stale) and 'class="rag-warning"' in page_html(stale)

    crafted = start(query | {"doc": ["Your session expired.\n===\n:material/warning: Call 555"], "v": ["../../etc"]})
    html = page_html(crafted)
    assert "Your session expired. === :material/warning: Call 555" in html  # shown as the characters sent, one line
    assert not any("Call 555" in getattr(m, "value", "") for m in crafted.markdown)  # never as Markdown


def test_a_conversation_lasts_past_a_reload_and_a_new_one_can_start(live):
    at = start()
    first = ask(at, DIMENSIONS)
    second = ask(at, "and for people who return?")
    cid = at.query_params["c"]

    reloaded = start({"c": cid})  # a reload is a new session with the same address
    assert reloaded.session_state["turns"] == [first, second]
    assert first.answer.citations[0].text[:40] in page_html(reloaded)

    # this browser's recent conversations (the browser id is a cookie in a real browser, a session
    # value here: the list is checked within one session, and across a reload in test_browser)
    assert [b.label for b in at.sidebar.button if b.label.startswith("▸ ")] == [f"▸ {DIMENSIONS} (2)"]
    next(b for b in at.sidebar.button if b.label == "New conversation").click().run()
    assert at.session_state["turns"] == [] and "c" not in at.query_params
    ask(at, "What does the principle of non-refoulement prohibit?")
    assert at.query_params["c"] != cid  # a second conversation, at its own address
    next(b for b in at.sidebar.button if b.label.startswith(DIMENSIONS)).click().run()
    assert [t.answer.question for t in at.session_state["turns"]] == [DIMENSIONS, "and for people who return?"]
    assert at.query_params["c"] == cid

    next(b for b in at.sidebar.button if b.label == "New conversation").click().run()
    ask(at, "**Bold** [link](http://evil.example) :material/warning: about integration?")
    labels = [b.label for b in at.sidebar.button if "Bold" in b.label]
    assert labels and all("\\*\\*Bold\\*\\* \\[link\\]" in label for label in labels)  # a label reads Markdown: escaped

    unknown = start({"c": ["A" * 22]})
    assert unknown.session_state["turns"] == [] and any("not kept here" in i.value for i in unknown.info)


def test_a_link_question_becomes_a_turn_and_is_not_asked_again_on_reload(live):
    opened = start({"q": [DIMENSIONS]})
    assert len(opened.session_state["turns"]) == 1
    assert "q" not in opened.query_params and "c" in opened.query_params
    reloaded = start({"c": opened.query_params["c"]})
    assert len(reloaded.session_state["turns"]) == 1


def test_snapshot_link_of_a_follow_up_keeps_its_context(live):
    at = start()
    ask(at, "What support do integration policies offer?")
    follow = ask(at, "and for people who return?")
    opened = start(parse_qs(urlsplit(snapshot_link(follow.snapshot)).query))
    assert opened.session_state["turns"][-1].answer.query == follow.answer.query


def test_question_text_is_never_rendered_as_markup(live):
    at = start()
    evil = "<img src=x onerror=alert(1)> [link](http://evil) ![img](http://x)"
    ask(at, evil)
    html = page_html(at)
    assert "&lt;img src=x onerror=alert(1)&gt; [link](http://evil) ![img](http://x)" in html
    assert "<img" not in html
    assert not any("http://evil" in m.value or "http://x)" in m.value for m in at.markdown if not m.value.startswith("[Link to this answer]"))


# --------------------------------------------------------------------------- trainers


def test_trainer_view_shows_scores_terms_and_the_original_page(live):
    at = start()
    at.toggle(key="trainer").set_value(True).run()
    turn = ask(at, "Which Member State is responsible for examining an application for international protection?")
    assert turn.answer.answerable
    assert "How this answer was found" in [e.label for e in at.expander]
    html = page_html(at)
    assert 'class="rag-scores"' in html and '<mark class="term">' in html and "rag-bar dense" in html
    pdf_cite = next(c for c in turn.answer.citations if c.page_start is not None)
    toggle = at.toggle(key=f"page-0-{pdf_cite.chunk_id}")
    toggle.set_value(True).run()
    assert not at.exception
    assert at.image, "the rendered page"


def test_presenter_shows_one_passage_at_a_time(live):
    at = start()
    ask(at, "What support do integration policies offer?")
    turn = at.session_state["turns"][-1]
    switch(at, "Presenter")
    assert 'class="rag-presenter"' in page_html(at)
    total = len(turn.answer.citations or turn.answer.related)
    assert f"of {total}</small>" in page_html(at)
    if total > 1:
        next(b for b in at.button if b.label == "Next ▶").click().run()
        assert f"2 of {total}</small>" in page_html(at)
        next(b for b in at.button if b.label == "◀ Previous").click().run()
        assert f"1 of {total}</small>" in page_html(at)


# --------------------------------------------------------------------------- maintainers


def test_index_page_lists_documents_with_status(live):
    at = switch(start(), "Index")
    rows = at.dataframe[0].value
    from retrieval.build.pipeline import corpus_files

    assert set(rows["status"]) == {"indexed"} and len(rows) == len(corpus_files(REPO / "corpus"))
    assert UK in set(rows["document"])


def test_upload_validation_refuses_wrong_type_and_keeps_the_corpus(writable, maintainer):
    corpus, _ = writable
    before = sorted(p.name for p in corpus.iterdir())
    at = sign_in(switch(start(), "Index"))
    upload(at, ("report.pdf", b"Just plain text, not a PDF at all.", "application/pdf"))
    assert any("not a PDF" in e.value for e in at.error)
    upload(at, ("photo.txt", b"\x89PNG\r\n\x1a\n" + bytes(100), "text/plain"))
    assert any("PNG image" in e.value for e in at.error)
    assert sorted(p.name for p in corpus.iterdir()) == before


def test_upload_validation_refuses_files_over_the_size_limit(writable, maintainer, monkeypatch):
    corpus, _ = writable
    monkeypatch.setenv("RAG_MAX_FILE_MB", "0.001")
    at = sign_in(switch(start(), "Index"))
    upload(at, ("big.md", b"# Big\n\n" + b"word " * 2000, "text/markdown"))
    assert any("too large" in e.value and "the limit is 0.001 MB" in e.value for e in at.error)
    assert not (corpus / "big.md").exists()


def test_the_server_upload_limit_follows_the_setting(monkeypatch):
    """Issue 13, item 5: Streamlit's server refuses an upload body over `server.maxUploadSize`
    before reading it; the app sets it to RAG_MAX_FILE_MB (its default, 200 MB, was in force)."""
    import tomllib

    from streamlit import config

    monkeypatch.setenv("RAG_MAX_FILE_MB", "7")
    start()
    assert config.get_option("server.maxUploadSize") == 7
    shipped = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())["server"]["maxUploadSize"]
    from retrieval import Settings

    assert shipped == Settings().max_file_mb  # before the first page runs, the file's value holds


def test_the_index_page_says_when_an_interrupted_build_left_work_to_resume(writable, maintainer):
    import numpy as np

    from retrieval.build.journal import EmbeddingJournal

    _, index = writable
    at = sign_in(switch(start(), "Index"))
    assert not any("interrupted build" in i.value for i in at.info)
    journal = EmbeddingJournal.for_index(index, {"model": "all-MiniLM-L6-v2", "precision": "fp32", "backend": "onnx"})
    journal.add(["k1", "k2", "k3"], np.ones((3, 384), dtype=np.float32))
    journal.flush()
    at.run()
    assert any("An interrupted build left 3 embedded passages and sentences" in i.value for i in at.info), [i.value for i in at.info]


def test_upload_then_rebuild_switches_to_the_new_index(writable, maintainer):
    corpus, index = writable
    old_version = (index / "CURRENT").read_text().strip()
    at = start()
    ask(at, DIMENSIONS)
    sign_in(switch(at, "Index"))
    text = ("# Bicycle lending for newcomers\n\nThe municipal bicycle lending scheme lends every newly arrived refugee "
            "a bicycle for twelve months free of charge. Repairs are done at the community workshop.\n")
    upload(at, ("Bicycle lending été.md", text.encode(), "text/markdown"))
    assert any("saved as Bicycle-lending-ete.md" in s.value for s in at.success)
    assert (corpus / "Bicycle-lending-ete.md").read_text() == text
    assert "new" in set(at.dataframe[0].value["status"])

    next(b for b in at.button if b.label == "Rebuild the index").click().run()
    assert not at.exception
    deadline = time.time() + 600  # the rebuild runs in a background thread; the page polls it
    while time.time() < deadline:
        at.run()
        if any(s.value.startswith("Rebuild finished") for s in at.success):
            break
        time.sleep(1)
    assert any(s.value.startswith("Rebuild finished") for s in at.success), [e.value for e in at.error]
    new_version = (index / "CURRENT").read_text().strip()
    assert new_version != old_version
    rows = at.dataframe[0].value
    assert dict(zip(rows["document"], rows["status"]))["Bicycle-lending-ete.md"] == "indexed"

    switch(at, "Ask")
    turn = ask(at, "How long can a newly arrived refugee borrow a bicycle?")
    # answered from the new index: its passage first (whether the logic tier's encoder is sure enough
    # to answer is the learned threshold's business; tests/test_answer_decisions.py decides on the real model)
    assert turn.version == new_version
    assert (turn.answer.citations or turn.answer.related)[0].doc == "Bicycle-lending-ete.md"
    assert at.session_state["turns"][0].version == old_version  # the earlier answer is kept as it was


def test_evaluation_runs_from_the_index_page_with_the_sets_and_splits_of_eval(live, maintainer, tmp_path, monkeypatch, capsys):
    """The Index page's evaluation is `python -m retrieval eval`'s run (issue 27, item 1): the same
    sets, each split apart, the same figures. Small sets stand in for eval/'s: the team set's first 24
    questions, and of the first blind set 10 dev and 10 test questions on the corpus's documents and
    one test question on a document the index lacks (not run)."""
    import json

    from retrieval.cli.main import main
    from retrieval.evaluation import run
    from retrieval.evaluation.evaluate import BLIND_QUESTIONS, DEFAULT_QUESTIONS

    def rows_of(path: Path) -> list[dict]:
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def on_corpus(row: dict) -> bool:
        return all((REPO / "corpus" / g["doc"]).is_file() for g in row.get("gold", []))

    blind = rows_of(BLIND_QUESTIONS)
    picked = [r for r in blind if r["split"] == "dev" and on_corpus(r)][:10] + [r for r in blind if r["split"] == "test" and on_corpus(r)][:10]
    picked += [r for r in blind if r["split"] == "test" and not on_corpus(r)][:1]
    sets = {"questions.jsonl": rows_of(DEFAULT_QUESTIONS)[:24], "blind-questions.jsonl": picked}
    for name, rows in sets.items():
        (tmp_path / name).write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    monkeypatch.setattr(run, "EVALUATION_SETS", tuple(tmp_path / name for name in sets))

    at = sign_in(switch(start(), "Index"))
    next(b for b in at.button if b.label == "Run the evaluation").click().run()
    assert not at.exception
    deadline = time.time() + 600
    while time.time() < deadline and len(at.dataframe) < 2:
        time.sleep(2)
        at.run()
    assert len(at.dataframe) == 2, [e.value for e in at.error]
    metrics = at.dataframe[1].value
    labels = ["questions", "blind-questions (dev)", "blind-questions (test)"]
    modes = ["dense", "lexical", "hybrid"]
    assert list(zip(metrics["set"], metrics["mode"])) == [(label, mode) for label in labels for mode in modes]
    report = next(e for e in at.expander if e.label == "Full report").markdown[0].value
    assert all(f"## {label}" in report for label in labels) and "Not run, a gold document not in the index: 1." in report

    assert main(["eval", "--index", str(live), "--json"]) == 0  # the command, with the same default sets
    figures = json.loads(capsys.readouterr().out)["sets"]
    assert list(figures) == labels and len(figures["blind-questions (test)"]["skipped"]) == 1
    for row in metrics.to_dict("records"):
        assert row["recall@5"] == round(figures[row["set"]]["modes"][row["mode"]]["metrics"]["all"]["recall@5"], 3), row
        assert row["mrr@10"] == round(figures[row["set"]]["modes"][row["mode"]]["metrics"]["all"]["mrr@10"], 3), row


def test_without_a_maintainer_password_the_index_page_is_read_only(writable):
    at = switch(start(), "Index")
    assert any("read-only" in i.value for i in at.info)
    assert not at.get("file_uploader") and not any(b.label in ("Rebuild the index", "Run the evaluation", "Sign in") for b in at.button)
    assert at.dataframe[0].value is not None  # the documents are still listed


def test_maintainers_sign_in_and_every_change_is_audited(writable, maintainer, monkeypatch):
    import hashlib
    import json
    import os

    _corpus, _ = writable
    at = switch(start(), "Index")
    assert not at.get("file_uploader")
    sign_in(at, password="not the password")
    assert any("Wrong password" in e.value for e in at.error) and not at.get("file_uploader")
    assert at.session_state["signin"].failures == 1
    sign_in(at)
    assert at.get("file_uploader") and any("Signed in as maintainer: Ada Maintainer" in c.value for c in at.caption)

    text = b"# Audit\n\nA document uploaded to check the audit log of the corpus.\n"
    upload(at, ("audit me.md", text, "text/markdown"))
    upload(at, ("fake.pdf", b"not a pdf", "application/pdf"))
    log = [json.loads(line) for line in (Path(os.environ["RAG_DATA_DIR"]) / "audit.jsonl").read_text().splitlines()]
    assert [(e["who"], e["action"], e["file"]) for e in log] == [("Ada Maintainer", "upload", "audit me.md"), ("Ada Maintainer", "upload", "fake.pdf")]
    assert log[0]["sha256"] == hashlib.sha256(text).hexdigest() and log[0]["outcome"] == "saved as audit-me.md"
    assert log[1]["outcome"].startswith("refused: ")
    assert MAINTAINER_PASSWORD not in (Path(os.environ["RAG_DATA_DIR"]) / "audit.jsonl").read_text()
    assert "Changes to the corpus (2)" in [e.label for e in at.expander]


def test_a_removed_document_is_kept_and_can_be_restored(writable, maintainer):
    corpus, _ = writable
    at = sign_in(switch(start(), "Index"))
    at.selectbox(key="remove_choice").select(UK).run()
    assert next(b for b in at.button if b.label == "Remove").disabled  # not without the confirmation
    at.checkbox(key="remove_sure").check().run()
    next(b for b in at.button if b.label == "Remove").click().run()
    assert not at.exception and not (corpus / UK).exists() and any("removed from the corpus folder" in s.value for s in at.success)
    kept = next(p.name for p in (corpus / ".kept").iterdir() if p.name.endswith(UK))
    at.selectbox(key="restore_choice").select(kept).run()
    next(b for b in at.button if b.label == "Restore").click().run()
    assert not at.exception and (corpus / UK).exists() and any("restored" in s.value for s in at.success)


def test_missing_index_is_built_at_first_start_with_progress(tmp_path, monkeypatch):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "housing.md").write_text("# Housing support\n\nNewly recognised refugees may stay in the reception centre for "
                                       "three months while the municipality finds them a flat.\n", encoding="utf-8")
    monkeypatch.setenv("RAG_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("RAG_CORPUS_DIR", str(corpus))
    at = start()
    assert any("no index yet" in i.value for i in at.info)
    assert at.get("progress") or at.success  # the build's progress (or, on a fast machine, its end)
    deadline = time.time() + 300
    while not (tmp_path / "index" / "CURRENT").exists() and time.time() < deadline:
        time.sleep(0.5)
    time.sleep(1)  # the job opens the new index after switching CURRENT
    at.run()
    assert not at.exception and at.title[0].value == "Migration policy assistant"
    turn = ask(at, "How long may newly recognised refugees stay in the reception centre?")
    assert turn.answer.answerable and turn.answer.citations[0].doc == "housing.md"


def test_an_upload_can_be_described_and_the_uploader_is_emptied(writable, maintainer):
    import tomllib

    corpus, _ = writable
    at = sign_in(switch(start(), "Index"))
    at.text_input(key="meta_title").input("Bicycle lending for newcomers: municipal guidance")
    at.text_input(key="meta_short_title").input("Bicycle lending")
    at.text_input(key="meta_year").input("2026")
    at.text_input(key="meta_aliases").input("bike scheme, Pedal Pact")
    upload(at, ("bikes.md", b"# Bicycles\n\nEvery newly arrived refugee may borrow a bicycle for a year.\n", "text/markdown"))
    entry = tomllib.loads((corpus / "catalogue.toml").read_text(encoding="utf-8"))["bikes.md"]
    assert entry == {"title": "Bicycle lending for newcomers: municipal guidance", "short_title": "Bicycle lending", "year": "2026",
                     "aliases": ["bike scheme", "Pedal Pact"]}
    assert any("saved as bikes.md" in s.value for s in at.success)
    assert not at.file_uploader[0].value  # the uploader is empty again
    assert all(at.text_input(key=key).value == "" for key in ("meta_title", "meta_year", "meta_aliases"))  # and its description
    upload(at, ("fake.pdf", b"not a pdf", "application/pdf"))
    assert any("fake.pdf: not a PDF" in e.value for e in at.error) and not at.file_uploader[0].value


def test_a_description_with_a_del_character_or_a_broken_catalogue_never_crashes_the_page(writable, maintainer):
    """Issue 29, item 7: a DEL character in the title (or a hand-written header in catalogue.toml)
    crashed the page with a TOMLDecodeError traceback after the file was stored and audited. The
    title is written escaped; a catalogue that is not valid TOML gets one line, the file is saved."""
    import tomllib

    corpus, _ = writable
    with (corpus / "catalogue.toml").open("a", encoding="utf-8") as fh:
        fh.write("\n['hand-written.md']  # a maintainer's own header form\ntitle = 'By hand'\n")
    at = sign_in(switch(start(), "Index"))
    at.text_input(key="meta_title").input("Bicycles\x7f for newcomers")
    upload(at, ("bikes.md", b"# Bicycles\n\nEvery newly arrived refugee may borrow a bicycle for a year.\n", "text/markdown"))
    catalogue = tomllib.loads((corpus / "catalogue.toml").read_text(encoding="utf-8"))
    assert catalogue["bikes.md"]["title"] == "Bicycles\x7f for newcomers" and catalogue["hand-written.md"]["title"] == "By hand"
    assert "# a maintainer's own header form" in (corpus / "catalogue.toml").read_text(encoding="utf-8")

    (corpus / "catalogue.toml").write_text('["unclosed.md"\ntitle = "x"\n', encoding="utf-8")
    at.text_input(key="meta_title").input("Trams")
    upload(at, ("trams.md", b"# Trams\n\nA monthly tram pass is free for the first year.\n", "text/markdown"))
    assert (corpus / "trams.md").exists() and any("saved as trams.md" in s.value for s in at.success)
    errors = [e.value for e in at.error if "trams.md" in e.value]
    assert errors and "catalogue.toml is not valid TOML" in errors[0] and "\n" not in errors[0]
    assert "(it was title: Trams)" in errors[0]  # what the maintainer typed is on the page to write by hand


def test_removal_restoring_and_the_rebuild_outcome_are_audited_with_hashes(writable, maintainer):
    """Issue 29, item 13: rebuilds were logged as "started" only, remove and restore rows had no
    sha256. Now the outcome of a rebuild is its own row, and remove / restore rows carry the
    document's sha256."""
    import hashlib
    import json
    import os

    corpus, _ = writable
    digest = hashlib.sha256((corpus / UK).read_bytes()).hexdigest()
    at = sign_in(switch(start(), "Index"))
    at.selectbox(key="remove_choice").select(UK).run()
    at.checkbox(key="remove_sure").check().run()
    next(b for b in at.button if b.label == "Remove").click().run()
    kept = next(p.name for p in (corpus / ".kept").iterdir() if p.name.endswith(UK))
    at.selectbox(key="restore_choice").select(kept).run()
    next(b for b in at.button if b.label == "Restore").click().run()
    assert not at.exception and (corpus / UK).exists()
    next(b for b in at.button if b.label == "Rebuild the index").click().run()
    deadline = time.time() + 600
    while time.time() < deadline and not any(s.value.startswith("Rebuild finished") for s in at.success):
        time.sleep(1)
        at.run()
    assert any(s.value.startswith("Rebuild finished") for s in at.success), [e.value for e in at.error]
    log = [json.loads(line) for line in (Path(os.environ["RAG_DATA_DIR"]) / "audit.jsonl").read_text().splitlines()]
    rows = {(e["action"], e["outcome"].split(" ")[0]): e for e in log}
    assert rows[("remove", "kept")]["sha256"] == digest and rows[("restore", "restored")]["sha256"] == digest
    assert ("rebuild", "started") in rows
    outcome = rows[("rebuild", "completed")]["outcome"]
    assert "0 added, 0 changed, 0 removed" in outcome and "live version v" in outcome


def test_a_reload_does_not_give_fresh_sign_in_tries(writable, maintainer, monkeypatch):
    """Issue 29, item 2: five wrong passwords in one session, then a new session (a reload) with the
    right password: still refused, since the limit is per client address and not per session; the
    audit log says the limit was hit."""
    import json
    import os

    from retrieval.serve import maintainers

    # the waits after each wrong password (1 + 2 + 4 + 8 + 16 s) are test_maintainers.py's to check
    monkeypatch.setattr(maintainers, "FIRST_DELAY_S", 0.001)
    at = switch(start(), "Index")
    for _ in range(5):
        sign_in(at, password="a guess")
    reloaded = sign_in(switch(start(), "Index"))
    assert not reloaded.get("file_uploader")
    assert any("Too many wrong passwords from your address" in e.value for e in reloaded.error)
    log = [json.loads(line) for line in (Path(os.environ["RAG_DATA_DIR"]) / "audit.jsonl").read_text().splitlines()]
    assert [e["action"] for e in log] == ["sign-in closed"]


def test_a_damaged_index_is_rebuilt_only_by_a_signed_in_maintainer_and_no_server_path_shows(tmp_path, embedder, password_hash, monkeypatch):
    """Issue 29, item 6: with an index that cannot be read a visitor was offered "Rebuild the index
    now (full)", it worked unaudited, and the error showed the server's paths."""
    import json
    import os

    from retrieval import Settings, build_index

    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    (corpus / "housing.md").write_text("# Housing support\n\nNewly recognised refugees may stay in the reception centre for "
                                       "three months while the municipality finds them a flat.\n", encoding="utf-8")
    build_index(Settings.from_env(corpus_dir=corpus, index_dir=index), embedder=embedder, progress=False)
    version = (index / "CURRENT").read_text(encoding="utf-8").strip()
    (index / version / "manifest.json").write_text("{not json at all", encoding="utf-8")
    monkeypatch.setenv("RAG_INDEX_DIR", str(index))
    monkeypatch.setenv("RAG_CORPUS_DIR", str(corpus))

    def shown(at: AppTest) -> str:
        return "\n".join(str(getattr(e, "value", "")) + str(getattr(e, "label", "")) for e in at.main)

    visitor = start()
    assert visitor.error, "the damage is reported"
    assert not [b for b in visitor.button if "Rebuild" in b.label]  # no password configured: nobody
    assert str(tmp_path) not in shown(visitor) and "/tmp" not in shown(visitor)

    monkeypatch.setenv("RAG_MAINTAINER_PASSWORD_HASH", password_hash)
    visitor = start()
    assert not [b for b in visitor.button if "Rebuild" in b.label]  # not signed in: no rebuild
    assert str(tmp_path) not in shown(visitor) and "$RAG\\_INDEX\\_DIR" in shown(visitor)
    maintainer = sign_in(visitor)
    next(b for b in maintainer.button if b.label == "Rebuild the index now (full)").click().run()
    log = [json.loads(line) for line in (Path(os.environ["RAG_DATA_DIR"]) / "audit.jsonl").read_text().splitlines()]
    assert [(e["who"], e["action"]) for e in log] == [("Ada Maintainer", "rebuild (full)")]
    deadline = time.time() + 300  # the rebuild runs in a background thread; the page polls it
    while time.time() < deadline:
        maintainer.run()
        if maintainer.title and maintainer.title[0].value == "Migration policy assistant" and not maintainer.error:
            break
        time.sleep(1)
    assert not maintainer.exception and maintainer.title[0].value == "Migration policy assistant", [e.value for e in maintainer.error]
    assert (index / "CURRENT").read_text(encoding="utf-8").strip() != version
    import threading

    while any(t.name.startswith("rag-build-") and t.is_alive() for t in threading.enumerate()) and time.time() < deadline:
        time.sleep(0.5)  # the job ends (it opens the new index last) before the next test starts


def test_a_long_conversation_draws_only_its_last_turns(live):
    """Issue 29, item 9: every turn was drawn on every run (6.3 s a question at 180 turns); now the
    last SHOWN_TURNS are, the rest folded behind a button."""
    import os

    from retrieval import ConversationStore

    at = start()
    ask(at, DIMENSIONS)
    cid = at.query_params["c"]
    store = ConversationStore(os.environ["RAG_DATA_DIR"])
    turn = at.session_state["turns"][0]
    for _ in range(39):
        assert store.append(cid, turn)
    reloaded = start({"c": cid})
    assert len(reloaded.session_state["turns"]) == 40
    assert len(reloaded.chat_message) == 2 * 10  # the last ten turns, a question and an answer each
    more = next(b for b in reloaded.button if b.label == "Show the 30 earlier turns")
    more.click().run()
    assert len(reloaded.chat_message) == 2 * 40


def test_shortcodes_in_a_question_are_not_drawn_as_icons_and_an_invisible_question_is_not_sent(live):
    """Issue 29, item 10: `:material/...:` in a question (typed, or in a crafted ?q= link) became an
    icon in the Recent conversations label; a question of zero-width characters only was answered."""
    import re

    icon = re.compile(r":(material/[a-z_]+|[a-z_]+):")
    at = start()
    ask(at, ":material/warning: :smile: What are the three dimensions of integration policies?")
    linked = start({"q": [":material/home: What are the three dimensions of integration policies?"]})
    for app in (at, linked):
        labels = [b.label for b in app.sidebar.button if "three dimensions" in b.label]
        assert labels and not any(icon.search(label) for label in labels), labels

    blank = start()
    blank.chat_input(key="chat").set_value("\u200b\u200c\u2060\ufeff \u200d").run()
    assert not blank.exception and blank.session_state["turns"] == [] and not blank.chat_message
    assert start({"q": ["\u200b\u200b"]}).session_state["turns"] == []


def test_the_index_table_shows_no_none_pages_and_counts_read_right(live):
    """Issue 29, item 15: "None" pages for Markdown documents; "1 passages"."""
    at = switch(start(), "Index")
    table = at.dataframe[0].value
    pages = table.loc[table["document"].str.endswith(".md"), "pages"]
    assert len(pages) and all(p == "" for p in pages), list(pages)
    assert " 1 passages" not in page_html(at) and " 1 pages" not in page_html(at)


def test_a_one_passage_document_is_listed_as_one_passage(tmp_path, embedder, monkeypatch):
    """Issue 29, item 15: the sidebar said "1 passages"."""
    from retrieval import Settings, build_index

    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    (corpus / "housing.md").write_text("# Housing support\n\nNewly recognised refugees may stay in the reception centre for "
                                       "three months while the municipality finds them a flat.\n", encoding="utf-8")
    build_index(Settings.from_env(corpus_dir=corpus, index_dir=index), embedder=embedder, progress=False)
    monkeypatch.setenv("RAG_INDEX_DIR", str(index))
    monkeypatch.setenv("RAG_CORPUS_DIR", str(corpus))
    html = page_html(start())
    assert "<small>1 passage</small>" in html and "1 passages" not in html
