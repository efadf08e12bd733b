"""Misspelt question words are searched as the documents spell them; everything else stays as typed."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.spelling import Speller

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def speller():
    texts = [p.read_text(encoding="utf-8") for p in sorted((REPO / "corpus").glob("*.md"))]
    return Speller.from_texts(texts + ["The 1951 Convention relating to the status of refugees. Asylum applications. "
                                       "Asylum seekers. The Refugee Convention. Reintegration assistance."])


@pytest.mark.parametrize("typed, searched", [
    ("What is the defintion of a refugee in the 1951 Convnetion?", "What is the definition of a refugee in the 1951 Convention?"),
    ("Which country handles an asylym claim?", "Which country handles an asylum claim?"),
    ("What does INTERACT say about integraton policy?", "What does INTERACT say about integration policy?"),
])
def test_misspelt_words_are_corrected_to_the_documents_words(speller, typed, searched):
    corrected, corrections = speller.correct(typed)
    assert corrected == searched
    assert corrections and all(c.original in typed and c.corrected in searched for c in corrections)


@pytest.mark.parametrize("question", [
    "How do kids resettle after they go back home?",  # everyday English the documents never use
    "What did the IOM and UNHCR say?",  # acronyms
    "Can a Syrian nurse bring her spouse?",
])
def test_english_words_acronyms_and_unknown_words_stay_as_typed(speller, question):
    corrected, corrections = speller.correct(question)
    assert (corrected, corrections) == (question, [])


def test_a_word_a_document_misspells_once_is_never_a_correction_but_is_searched_as_typed():
    speller = Speller.from_texts(["The reintegation of returnees.", "Reintegration support and reintegration plans."])
    assert speller.correct("reintegratoin")[0] == "reintegration"
    assert speller.correct("reintegation")[0] == "reintegation"  # the document's own spelling finds that document
