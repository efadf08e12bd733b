"""Twenty sessions asking at once against one app process (AppTest instances in threads).

st.cache_resource shares the engine (model and index) between the sessions as it does between
browser tabs. Every session must get its answer with no error; the latency distribution is printed
(run with -s to see it) and recorded in docs/benchmarks.md, never asserted.
"""

from __future__ import annotations

import statistics
import threading
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

REPO = Path(__file__).resolve().parents[1]
SESSIONS = 20
QUESTIONS = [
    "What are the three dimensions of integration policies?",
    "What does Article 21 of the Refugee Convention say about housing?",
    "Which Member State is responsible when an applicant holds a valid visa?",
    "How do you cook a traditional Hungarian goulash?",
]


# the latencies it prints are the real model's (docs/benchmarks.md)
@pytest.mark.real_model
def test_twenty_sessions_at_once(corpus_index, monkeypatch):
    # Each AppTest compiles the script with its own script cache, and CPython 3.11 can fail
    # ("AST constructor recursion depth mismatch") when threads parse at the same moment. A real
    # server has one script cache for all sessions, behind its own lock; so does this test.
    from streamlit.runtime.scriptrunner import script_cache

    compile_once = threading.Lock()
    get_bytecode = script_cache.ScriptCache.get_bytecode

    def serialised(self, script_path):
        with compile_once:
            return get_bytecode(self, script_path)

    monkeypatch.setattr(script_cache.ScriptCache, "get_bytecode", serialised)
    monkeypatch.setenv("RAG_INDEX_DIR", str(corpus_index))
    monkeypatch.setenv("RAG_CORPUS_DIR", str(REPO / "corpus"))
    warm = AppTest.from_file(str(REPO / "app.py"), default_timeout=300)
    warm.run()
    warm.chat_input(key="chat").set_value("warm up").run()  # the model loads once, before the clock starts

    sessions = [AppTest.from_file(str(REPO / "app.py"), default_timeout=300) for _ in range(SESSIONS)]
    for at in sessions:
        at.run()
    latencies: list[float | None] = [None] * SESSIONS
    errors: list[str] = []
    barrier = threading.Barrier(SESSIONS)

    def ask(i: int) -> None:
        at = sessions[i]
        try:
            barrier.wait(60)
            started = time.perf_counter()
            at.chat_input(key="chat").set_value(QUESTIONS[i % len(QUESTIONS)]).run()
            latencies[i] = time.perf_counter() - started
            if at.exception:
                errors.append(f"session {i}: {[e.value for e in at.exception]}")
        except Exception as exc:
            errors.append(f"session {i}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(SESSIONS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    assert not errors, errors
    for i, at in enumerate(sessions):
        shown = [e.value for e in at.error] + [w.value for w in at.warning]
        assert at.session_state["turns"], f"session {i} got no answer; the page showed: {shown}"
        turn = at.session_state["turns"][-1]
        assert turn.answer.question == QUESTIONS[i % len(QUESTIONS)]
        assert turn.answer.answerable == (i % len(QUESTIONS) != 3)
    done = sorted(x for x in latencies if x is not None)
    assert len(done) == SESSIONS
    print(
        f"\n{SESSIONS} concurrent sessions: p50 {statistics.median(done):.2f} s, "
        f"p95 {done[int(0.95 * (len(done) - 1))]:.2f} s, max {done[-1]:.2f} s"
    )


def test_a_slow_question_does_not_hold_up_another_session(corpus_index, monkeypatch):
    """Issue 13, item 2: a session whose question is slow outside the model (a 500 KB question once
    took 37 s in key_words, holding the model lock) must not delay another session's answer. Here
    the first session's search is held on an event, outside any model call; the second session must
    get its answer meanwhile."""
    from retrieval import Retriever

    monkeypatch.setenv("RAG_INDEX_DIR", str(corpus_index))
    monkeypatch.setenv("RAG_CORPUS_DIR", str(REPO / "corpus"))
    release, held = threading.Event(), threading.Event()
    search = Retriever.search

    def slow_for_one_session(self, query, *args, **kwargs):
        if query.startswith("A slow question"):
            held.set()
            release.wait(120)
        return search(self, query, *args, **kwargs)

    monkeypatch.setattr(Retriever, "search", slow_for_one_session)
    slow, other = AppTest.from_file(str(REPO / "app.py"), default_timeout=300), AppTest.from_file(str(REPO / "app.py"), default_timeout=300)
    slow.run()
    other.run()
    other.chat_input(key="chat").set_value("warm up").run()  # the model is loaded before the test proper

    slow_thread = threading.Thread(target=lambda: slow.chat_input(key="chat").set_value("A slow question about integration courses").run())
    slow_thread.start()
    try:
        assert held.wait(60), "the slow session never reached its search"
        other.chat_input(key="chat").set_value(QUESTIONS[0]).run()
        assert not release.is_set() and slow_thread.is_alive()  # the slow session is still held ...
        turn = other.session_state["turns"][-1]  # ... and the other one has its answer
        assert turn.answer.question == QUESTIONS[0] and turn.answer.answerable
    finally:
        release.set()
        slow_thread.join(300)
    assert slow.session_state["turns"][-1].answer.question.startswith("A slow question")
