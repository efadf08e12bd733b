"""What the answer decides on the real model: a question far from the documents, or near them but
about a name they never mention, is declined; a case told in the first person is not declined for
its details; each half of a compound question is answered. These read what the model understands, so they run in the real-model tier."""

from __future__ import annotations

import pytest

from retrieval import NOT_COVERED, Answerer

SPONSOR = "uk-home-office-sponsor-a-skilled-worker-guidance-2025.pdf"
DUBLIN = "eu-regulation-604-2013-dublin-iii.pdf"
TWO_THINGS = "What must a sponsor pay for a skilled worker, and how long can an asylum seeker be detained before transfer?"

pytestmark = pytest.mark.real_model


@pytest.fixture(scope="module")
def answerer(module_corpus_index, module_embedder):
    from retrieval import Retriever, Settings

    return Answerer(Retriever.open(Settings.from_env(index_dir=module_corpus_index), embedder=module_embedder))


def test_not_covered_says_so_and_offers_related_reading(answerer):
    answer = answerer.ask("How do you cook a traditional Hungarian goulash?")
    assert not answer.answerable
    assert answer.text == NOT_COVERED
    assert answer.citations == () and 1 <= len(answer.related) <= 3


def test_near_topic_question_with_missing_key_term_is_not_covered(answerer):
    answer = answerer.ask("What pass mark is required in Australia's points test for skilled migrants?")
    assert not answer.answerable


def test_a_name_counts_as_mentioned_when_the_passage_gives_part_of_it(answerer):
    """The survey calls the expert "Lee", the question "Jin Sook Lee": the missing first names cost
    the answer nothing (it is as sure as when asked about "Lee"). A name none of whose key words is
    there still counts as missing, and declines."""
    from retrieval.ask.weighing import COVERAGE_FEATURES

    named = "Why did Jin Sook Lee criticise framing diaspora engagement in terms of development?"
    draft = answerer.draft(named, named)
    assert draft.coverage[COVERAGE_FEATURES.index("missing_names")] == 0.0
    answer, surname_only = answerer.ask(named), answerer.ask(named.replace("Jin Sook Lee", "Lee"))
    assert any(c.doc == "interact-expert-survey-2015.md" for c in answer.citations or answer.related)
    assert answer.confidence >= surname_only.confidence - 0.05 and answer.confidence > 0.5
    surcharge = "How much is the UK Immigration Health Surcharge per year for a Skilled Worker?"
    assert answerer.draft(surcharge, surcharge).coverage[COVERAGE_FEATURES.index("missing_names")] == 1.0
    assert not answerer.ask(surcharge).answerable


def test_a_misspelt_name_is_read_as_the_name_and_not_as_one_the_documents_lack(answerer):
    """Issue 28's walk: "the 1951 Convnetion" was declined, the misspelt word counted as a name no
    passage mentions. A name the documents do not hold at all still counts as missing."""
    from retrieval.ask.weighing import COVERAGE_FEATURES

    misspelt = "What is the defintion of a refugee in the 1951 Convnetion?"
    assert answerer.draft(misspelt, misspelt).coverage[COVERAGE_FEATURES.index("missing_names")] == 0.0
    answer = answerer.ask(misspelt)
    assert answer.answerable and answer.citations[0].doc == "unhcr-1951-convention-1967-protocol-status-of-refugees.pdf"
    other = "What is the definition of a refugee in the 1951 Convnetion according to Zanzibar?"
    assert answerer.draft(other, other).coverage[COVERAGE_FEATURES.index("missing_names")] == 1.0


def test_a_case_told_in_the_first_person_is_not_declined_for_its_names(answerer):
    """In "We want to hire a nurse who lives in Kenya ..." Kenya is a detail of the case: the rule on
    salaries answers it though no passage names Kenya. Asked about Kenya itself, it is not answered."""
    case = answerer.ask("We want to hire a nurse who lives in Kenya as a Skilled Worker. What is the minimum salary we must pay her?")
    assert case.answerable
    assert any(c.doc == "uk-home-office-sponsor-a-skilled-worker-guidance-2025.pdf" for c in case.citations)
    assert not answerer.ask("What minimum salary applies to a Skilled Worker in Kenya?").answerable


def test_each_half_of_a_compound_question_is_found_and_answered(answerer):
    retriever = answerer.retriever
    as_asked = retriever._hits(retriever._ranked(TWO_THINGS, 5, None, "hybrid"), 5)
    assert DUBLIN not in {h.doc_id for h in as_asked}  # searched whole, the sponsor guidance fills the top five
    hits = retriever.search(TWO_THINGS, k=5)
    assert {SPONSOR, DUBLIN} <= {h.doc_id for h in hits}
    answer = answerer.ask(TWO_THINGS)
    assert answer.answerable and {SPONSOR, DUBLIN} <= {c.doc for c in answer.citations}
