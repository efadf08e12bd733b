"""Compound questions: where a question is split in two (searching and answering each half is in test_answer_decisions.py)."""

from __future__ import annotations

import pytest

from retrieval.ask.compound import compound_parts


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
