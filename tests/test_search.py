"""Hybrid search: the fusion core on plain arrays, then the real index, model and CLI."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from retrieval import Retriever
from retrieval.ask.search import rrf
from retrieval.store.scores import top_k
from retrieval.store.vectors import FaissStore

DIMENSIONS_Q = "What are the three dimensions of integration policies?"
BUDAPEST = "budapest-process-integration-reintegration-2016.md"
INTERACT = "interact-expert-survey-2015.md"


def test_rrf_exact_scores_and_inputs_untouched():
    dense = np.array([3, 1, 2])
    lexical = np.array([1, 4])
    fused = rrf([dense, lexical], k=10)
    assert fused == pytest.approx({3: 1 / 11, 1: 1 / 12 + 1 / 11, 2: 1 / 13, 4: 1 / 12})
    assert list(dense) == [3, 1, 2] and list(lexical) == [1, 4]
    weighted = rrf([dense, lexical], weights=[2.0, 1.0], k=10)
    assert weighted[3] == pytest.approx(2 / 11)


def test_top_k_orders_filters_and_drops_zero_scores():
    scores = np.array([0.0, 5.0, 1.0, 3.0, 0.0], dtype=np.float32)
    rows, values = top_k(scores, 3)
    assert list(rows) == [1, 3, 2] and list(values) == [5.0, 3.0, 1.0]
    rows, _ = top_k(scores, 3, rows=np.array([0, 2, 4]))
    assert list(rows) == [2]


def test_faiss_store_matches_brute_force_and_filters():
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(200, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    store = FaissStore.from_vectors(vectors, 16)
    query = vectors[5] + 0.1 * rng.normal(size=16).astype(np.float32)
    _scores, rows = store.search(query, 10)
    expected = np.argsort(-(vectors @ query))[:10]
    assert list(rows[0]) == list(expected)
    allowed = np.arange(100, 200)
    _, rows = store.search(query, 5, allowed)
    assert set(rows[0]) <= set(allowed)
    assert np.allclose(store.vectors(np.array([3])), vectors[3:4], atol=1e-6)


@pytest.fixture(scope="module")
def retriever(module_corpus_index, module_embedder):
    from retrieval import Settings

    return Retriever.open(Settings.from_env(index_dir=module_corpus_index), embedder=module_embedder)


def test_hybrid_finds_the_passage_and_explains_why(retriever):
    hits = retriever.search(DIMENSIONS_Q, k=5)
    assert hits[0].doc_id == BUDAPEST
    assert "Structural integration" in " ".join(h.chunk.text for h in hits[:2])
    assert [h.rank for h in hits] == [1, 2, 3, 4, 5]
    assert all(a.score >= b.score for a, b in itertools.pairwise(hits))
    top = hits[0]
    assert top.dense_rank is not None and top.lexical_rank is not None
    assert top.dense_score is not None and -1.0 <= top.dense_score <= 1.0
    assert top.lexical_score is not None and top.lexical_score > 0


def test_document_filter(retriever):
    hits = retriever.search(DIMENSIONS_Q, k=8, docs=[INTERACT])
    assert hits and all(h.doc_id == INTERACT for h in hits)
    assert retriever.search(DIMENSIONS_Q, docs=["no-such-document.pdf"]) == []


def test_modes_and_empty_query(retriever):
    dense = retriever.search(DIMENSIONS_Q, k=5, mode="dense")
    lexical = retriever.search(DIMENSIONS_Q, k=5, mode="lexical")
    assert all(h.lexical_rank is None for h in dense) and all(h.dense_rank is None for h in lexical)
    assert retriever.search("   ") == []
    with pytest.raises(ValueError, match="hybrid"):
        retriever.search(DIMENSIONS_Q, mode="fuzzy")


def test_cli_search_queries_jsonl(corpus_index, tmp_path, capsys):
    from retrieval.cli.main import main

    queries = tmp_path / "q.jsonl"
    queries.write_text(
        json.dumps({"id": "a", "question": DIMENSIONS_Q}) + "\n" + json.dumps({"id": 7, "question": "refugee seamen serving as crew members on board a ship"}) + "\n",
        encoding="utf-8",
    )
    assert main(["search", "--queries", str(queries), "--k", "4", "--json", "--index", str(corpus_index)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["id"] for row in lines] == ["a", 7]
    for row in lines:
        passages = row["passages"]
        assert len(passages) == 4
        assert all({"text", "doc", "title", "section", "page", "score"} <= set(p) for p in passages)
        assert all(a["score"] >= b["score"] for a, b in itertools.pairwise(passages))
    assert lines[0]["passages"][0]["doc"] == BUDAPEST
    assert lines[1]["passages"][0]["doc"] == "unhcr-1951-convention-1967-protocol-status-of-refugees.pdf"
    assert isinstance(lines[1]["passages"][0]["page"], int)


def test_a_queries_file_without_ids_is_searched_and_answered_in_its_order(corpus_index, tmp_path, capsys):
    from retrieval.cli.main import main

    queries = tmp_path / "q.jsonl"
    queries.write_text(json.dumps({"question": DIMENSIONS_Q}) + "\n" + json.dumps({"id": "b", "question": "refugee seamen"}) + "\n", encoding="utf-8")
    for command in ("search", "ask"):
        assert main([command, "--queries", str(queries), "--json", "--index", str(corpus_index)]) == 0
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert [row["id"] for row in lines] == [None, "b"]
    assert lines[0]["question"] == DIMENSIONS_Q and {"answer", "answerable", "confidence", "citations"} <= set(lines[0])


def test_cli_search_doc_filter_and_unknown_doc(corpus_index, capsys):
    from retrieval.cli.main import main

    assert main(["search", DIMENSIONS_Q, "--doc", INTERACT, "--json", "--index", str(corpus_index)]) == 0
    row = json.loads(capsys.readouterr().out)
    assert {p["doc"] for p in row["passages"]} == {INTERACT}
    assert main(["search", DIMENSIONS_Q, "--doc", "nope.pdf", "--index", str(corpus_index)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown document" in err[0]


# its message names the light model the index was built with
@pytest.mark.real_model
def test_index_from_another_model_is_refused_by_search(corpus_index, capsys, monkeypatch):
    from retrieval.cli.main import main

    monkeypatch.setenv("RAG_MODEL", "/some/other/model")
    assert main(["search", DIMENSIONS_Q, "--index", str(corpus_index)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "rebuild" in err[0] and "all-MiniLM-L6-v2" in err[0]


def test_the_whole_sentence_table_is_a_ranking(retriever):
    """A passage whose one sentence answers is found even if the chunk vector and BM25 miss it."""
    index = retriever.index
    vector = retriever.embedder.embed_query(DIMENSIONS_Q)
    rows, scores = retriever.best_sentences(vector, 5, None)
    best_by_hand = max(range(len(index.sentence_spans)), key=lambda i: float(index.sentence_vectors[i] @ vector))
    assert rows[0] == index.sentence_spans[best_by_hand][0]
    assert list(scores) == sorted(scores, reverse=True)
    allowed = index.rows_by_doc[INTERACT]
    rows, _ = retriever.best_sentences(vector, 5, [INTERACT])
    assert len(rows) == 5 and set(rows.tolist()) <= set(allowed.tolist())


def test_a_question_naming_a_document_is_answered_from_it(retriever):
    question = "According to the Budapest Process note, what is the objective of integration policies?"
    hits = retriever.search(question, k=5)
    assert [h.doc_id for h in hits[:3]] == [BUDAPEST] * 3
    named = retriever.names.find(question)
    assert named.docs == (BUDAPEST,) and "Budapest" not in named.query


def test_a_top_five_from_one_document_leaves_the_fifth_place_to_another(retriever):
    def ranked(docs):
        rows = {d: iter(retriever.index.rows_by_doc[d].tolist()) for d in set(docs)}
        return [(next(rows[d]), 1.0 / (i + 1), {}) for i, d in enumerate(docs)]

    mono = ranked([BUDAPEST] * 7 + [INTERACT])
    moved = retriever._another_document_in_top5(mono)
    assert [retriever.index.chunks[r].doc_id for r, _, _ in moved[:5]] == [BUDAPEST] * 4 + [INTERACT]
    assert sorted(moved) == sorted(mono)  # nothing lost, only moved
    mixed = ranked([BUDAPEST, INTERACT] + [BUDAPEST] * 6)
    assert retriever._another_document_in_top5(mixed) == mixed
    far = ranked([BUDAPEST] * 12 + [INTERACT])
    assert retriever._another_document_in_top5(far) == far  # beyond the reach: left as ranked


def test_a_large_sentence_table_is_not_scanned_but_its_candidates_rescored(retriever, monkeypatch):
    import retrieval.store.index as index_module

    vector = retriever.embedder.embed_query(DIMENSIONS_Q)
    full_rows, full_scores = retriever.best_sentences(vector, 10_000, None)
    by_row = dict(zip(full_rows.tolist(), full_scores.tolist()))
    candidates = full_rows[::7][:30]
    monkeypatch.setattr(index_module, "SENTENCE_SCAN_LIMIT", 10)
    rows, scores = retriever.best_sentences(vector, 100, None, candidates)
    assert set(rows.tolist()) == set(candidates.tolist())
    assert all(abs(by_row[r] - s) < 1e-5 for r, s in zip(rows.tolist(), scores.tolist()))
    assert list(scores) == sorted(scores, reverse=True)


def test_a_passage_of_questions_ranks_behind_the_passage_that_answers(small_retriever):
    """An evaluation matrix repeats the question word for word, so it reads most like it; the
    report's finding answers it and comes first."""
    retriever = small_retriever({"evaluation.md": (
        "# Final evaluation\n\n## Findings\n\nCase management tools were in place in every country. Needs were identified at "
        "arrival by caseworkers and monitored through monthly follow-up calls, although follow-up weakened after six months.\n\n"
        "## Annex 1. Evaluation framework\n\n### 1.6. To what extent were needs properly identified and monitored?\n\n"
        "Were needs identified? 1.6. To what extent were needs properly identified and monitored?\n\n"
        "- Desk research - Interviews with staff Extent to which tools were in place\n\n"
        "1.7. To what extent were the needs of returnees monitored over time?\n\n- Interviews with returnees\n"
    )})
    hits = retriever.search("To what extent were needs properly identified and monitored?", k=5)
    assert "Findings" in hits[0].chunk.section, [(h.chunk.section, h.chunk.text[:60]) for h in hits]
    assert any("Annex" in h.chunk.section for h in hits)  # still found, behind the answer


def test_a_list_of_the_works_cited_ranks_behind_the_passage_that_answers(small_retriever):
    """A cited title repeats the question's words ("Mental health care management ..."); the study's
    own finding answers it and comes first, the reference list still found behind it."""
    retriever = small_retriever({"study.md": (
        "# Case management study\n\n## Findings\n\nCaseworkers refer returnees with mental health needs to specialised "
        "psychosocial services and follow up on each referral within a month.\n\n## References\n\n"
        "Forchuk, C. (2002). Mental health care management for returnees: Job Description Analyses. Issues in Mental Health Nursing, 23(5), 477-496.\n\n"
        "Kan, M. (2022). Mental health care management and psychosocial support for returnees. IOM.\n"
    )})
    hits = retriever.search("What does mental health care management for returnees involve?", k=5)
    assert hits[0].chunk.section.endswith("Findings"), [(h.chunk.section, h.chunk.text[:60]) for h in hits]
    assert any(h.chunk.section.endswith("References") for h in hits)


def test_a_passage_of_footnotes_ranks_behind_the_passage_that_answers(small_retriever):
    """The footnotes name the case the question asks about, once each; the text that says what the
    Court ruled comes first."""
    retriever = small_retriever({"notice.md": (
        "# Guidance on free movement\n\n## Spouses\n\nThe notion of spouse is gender-neutral. In its judgment the Court held that "
        "a Member State may not refuse a residence right to the same-sex spouse of an EU citizen.\n\n"
        "## Notes\n\n(44) C-673/16, Coman ruling on same-sex spouse residence, ECLI:EU:C:2018:385, paragraph 45.\n\n"
        "(45) C-673/16, Coman ruling on same-sex spouse residence, ECLI:EU:C:2018:385, paragraph 50.\n\n"
        "(46) C-673/16, Coman ruling on same-sex spouse residence, ECLI:EU:C:2018:385, paragraph 51.\n"
    )})
    hits = retriever.search("What was the Coman ruling on same-sex spouse residence?", k=5)
    assert hits[0].chunk.section.endswith("Spouses"), [(h.chunk.section, h.chunk.text[:60]) for h in hits]
