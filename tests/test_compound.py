"""Compound questions: each half is searched and answered, on the real corpus index."""

from __future__ import annotations

import pytest

from retrieval import Answerer
from retrieval.ask.compound import compound_parts

SPONSOR = "uk-home-office-sponsor-a-skilled-worker-guidance-2025.pdf"
DUBLIN = "eu-regulation-604-2013-dublin-iii.pdf"
TWO_THINGS = "What must a sponsor pay for a skilled worker, and how long can an asylum seeker be detained before transfer?"


@pytest.fixture(scope="module")
def retriever(module_corpus_index, module_embedder):
    from retrieval import Retriever, Settings

    return Retriever.open(Settings.from_env(index_dir=module_corpus_index), embedder=module_embedder)


@pytest.mark.parametrize(
    ("question", "parts"),
    [
        ("Why does reintegration matter for return, and when can it be called sustainable?", ["Why does reintegration matter for return", "when can it be called sustainable?"]),
        ("How many migrants returned and what was the target?", ["How many migrants returned", "what was the target?"]),
        ("Is it forbidden to send a refugee back, and where is that laid down?", ["Is it forbidden to send a refugee back", "where is that laid down?"]),
    ],
)
def test_two_questions_joined_by_and_are_split_at_the_second_question_word(question, parts):
    assert compound_parts(question) == parts


@pytest.mark.parametrize(
    "question",
    [
        "What do integration and reintegration policies have in common?",  # "and" joins two nouns
        "Who devised the Nansen passport and when?",  # the second half is too short to search alone
        "Which documents are needed, and why?",
        "What support is offered to returnees?",
    ],
)
def test_a_question_that_asks_one_thing_is_not_split(question):
    assert compound_parts(question) == []


def test_each_half_of_a_compound_question_is_found_and_answered(retriever):
    as_asked = retriever._hits(retriever._ranked(TWO_THINGS, 5, None, "hybrid"), 5)
    assert DUBLIN not in {h.doc_id for h in as_asked}  # searched whole, the sponsor guidance fills the top five
    hits = retriever.search(TWO_THINGS, k=5)
    assert {SPONSOR, DUBLIN} <= {h.doc_id for h in hits}
    answer = Answerer(retriever).ask(TWO_THINGS)
    assert answer.answerable and {SPONSOR, DUBLIN} <= {c.doc for c in answer.citations}
