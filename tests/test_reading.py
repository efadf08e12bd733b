"""What the real model reads on the project corpus: answers and rankings that depend on how the
model reads a question, not only on the logic around it (the logic tier checks that on hashed-words).
Moved here unchanged from test_answer.py, test_search.py and test_corpus_index.py, so that their
fixtures can be the real model's."""

from __future__ import annotations

import pytest
from test_search import BUDAPEST, INTERACT

from retrieval import Answerer, Retriever, Settings
from retrieval.store.files import open_index
from retrieval.store.index import identity

pytestmark = pytest.mark.real_model


@pytest.fixture(scope="module")
def retriever(module_corpus_index, module_embedder):
    return Retriever.open(Settings.from_env(index_dir=module_corpus_index), embedder=module_embedder)


@pytest.fixture(scope="module")
def answerer(retriever):
    return Answerer(retriever)


@pytest.fixture(scope="module")
def index(module_corpus_index, module_embedder):
    return open_index(module_corpus_index, expected=identity(module_embedder.model_name, module_embedder.dimension, 200, 40))


def test_a_how_much_question_gets_the_sentence_with_the_figure(answerer):
    answer = answerer.ask("How much is the minimum salary for a Skilled Worker?")
    assert answer.answerable and "£" in answer.text
    assert not any(s.text.rstrip().endswith("?") for s in answer.sentences)  # a heading is never an answer


def test_a_question_naming_two_documents_gets_both_in_its_top_five(retriever):
    question = "How do the INTERACT report and the Budapest Process note each describe integration?"
    hits = retriever.search(question, k=5)
    # each named document's best passage at the very top, not one document first and the other fifth
    assert {h.doc_id for h in hits[:2]} == {INTERACT, BUDAPEST}


def test_a_known_passage_is_found_with_its_section_and_page(index, embedder):
    query = "Member States shall examine any application for international protection by a third-country national or a stateless person"
    _, rows = index.store.search(embedder.embed_query(query), 5)
    hits = [index.chunks[int(r)] for r in rows[0]]
    top = hits[0]
    assert top.doc_id == "eu-regulation-604-2013-dublin-iii.pdf"
    assert top.section == "CHAPTER II GENERAL PRINCIPLES AND SAFEGUARDS > Article 3 Access to the procedure for examining an application for international protection"
    assert top.page_start == 7
