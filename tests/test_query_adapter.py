"""The query adapter: the map itself, its file, the fit that learns it, and the dense search that ranks
by it while reporting the plain question's cosine."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from retrieval import Retriever, Settings
from retrieval.ask.query_adapter import ADAPTER_DIR, QueryAdapter, adapter_for, adapter_path
from retrieval.config import DEFAULT_MODEL, SENTENCE_MODEL
from retrieval.evaluation.fit_adapter import adapted, fit_adapter, recall_at_5

REPO = Path(__file__).resolve().parents[1]


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=-1, keepdims=True)).astype(np.float32)


def test_a_zero_adapter_leaves_the_question_and_any_adapter_gives_a_unit_vector():
    rng = np.random.default_rng(1)
    q = unit(rng.normal(size=8))
    still = QueryAdapter(rng.normal(size=(8, 2)).astype(np.float32), np.zeros((2, 8), dtype=np.float32), {})
    assert np.allclose(still.adapt(q), q)
    moved = QueryAdapter(rng.normal(size=(8, 2)).astype(np.float32), rng.normal(size=(2, 8)).astype(np.float32), {})
    out = moved.adapt(q)
    assert np.linalg.norm(out) == pytest.approx(1.0, abs=1e-5) and not np.allclose(out, q)


def test_the_file_round_trips_and_is_found_by_model_and_dimension(tmp_path):
    rng = np.random.default_rng(2)
    adapter = QueryAdapter(rng.normal(size=(6, 3)).astype(np.float32), rng.normal(size=(3, 6)).astype(np.float32), {"model": "m", "rank": 3})
    adapter.save(adapter_path("m", "sentences", tmp_path))
    found = adapter_for("m", 6, "sentences", tmp_path)
    assert found is not None and found.about == {"model": "m", "rank": 3}
    assert np.array_equal(found.u, adapter.u) and np.array_equal(found.v, adapter.v)
    assert adapter_for("m", 7, "sentences", tmp_path) is None  # another vector size: not this model's space
    assert adapter_for("other", 6, "sentences", tmp_path) is None
    assert adapter_for("m", 6, "passages", tmp_path) is None  # fitted to rank sentences, not passages
    with pytest.raises(ValueError, match="passages, sentences"):
        adapter_path("m", "chunks")


def test_a_file_whose_matrices_do_not_compose_is_refused(tmp_path):
    path = tmp_path / "bad.npz"
    with open(path, "wb") as f:
        np.savez(f, u=np.zeros((6, 3)), v=np.zeros((2, 6)), about=np.array("{}"))
    with pytest.raises(ValueError, match="low-rank map"):
        QueryAdapter.load(path)


@pytest.mark.parametrize(("model", "dimension", "kind"), [(DEFAULT_MODEL, 768, "passages"), (SENTENCE_MODEL, 384, "sentences")])
def test_the_default_models_adapters_are_committed_and_fitted_on_dev_only(model, dimension, kind):
    adapter = adapter_for(model, dimension, kind)
    assert adapter is not None, f"no {kind} adapter for {model} in {ADAPTER_DIR}: `make fit-answers` writes it"
    assert (adapter.about["model"], adapter.about["kind"]) == (model, kind) and adapter.u.shape == (dimension, adapter.about["rank"])
    assert adapter.about["fitted_on"] and all(name.endswith("(dev)") for name in adapter.about["fitted_on"])
    assert adapter.about["dev_recall_at_5"]["cross_validated_gain"] > 0


def test_the_light_model_as_passage_model_has_no_adapter():
    assert adapter_for(SENTENCE_MODEL, 384, "passages") is None


def test_the_fit_learns_where_questions_put_one_way_find_their_passages():
    """Questions are their passages seen through a fixed distortion (a rotation of most of the space):
    plain, few find their passage; the fitted adapter undoes enough of it that most do, on questions it
    was not fitted on as well."""
    rng = np.random.default_rng(3)
    dim, n = 24, 80
    passages = unit(rng.normal(size=(n, dim)))
    rotation, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    mix = 0.35 * np.eye(dim) + 0.65 * rotation
    gold = [[i] for i in range(n)] * 3
    queries = unit(passages[[g[0] for g in gold]] @ mix + 0.15 * rng.normal(size=(len(gold), dim)))
    train = list(range(0, len(gold), 2))
    held = list(range(1, len(gold), 2))
    u, v = fit_adapter(passages, queries[train], [gold[i] for i in train], rank=dim, penalty=1e-4, temperature=0.1, steps=300, learning_rate=0.05)
    held_gold = [gold[i] for i in held]
    before = recall_at_5(passages, queries[held], held_gold)
    after = recall_at_5(passages, adapted(queries[held], u, v), held_gold)
    assert before < 0.6 and after > before + 0.2


def test_the_dense_search_ranks_by_the_adapted_question_and_reports_the_plain_cosine(corpus_index, embedder):
    plain = Retriever.open(Settings.from_env(index_dir=corpus_index, query_adapter=False), embedder=embedder)
    question = "How can returnees be supported?"
    vector = embedder.embed_query(question)
    rows, _ = plain.dense(vector, 50)
    target = int(rows[-1])  # a passage the plain question ranks far down
    passage = plain.index.store.vectors(np.array([target]))[0]
    # an adapter that moves this question onto that passage: q + (q . q) * 10 p
    towards = QueryAdapter(vector[:, None].astype(np.float32), (10 * passage)[None, :].astype(np.float32), {})
    moved = Retriever(plain.index, embedder, query_adapter=towards, sentence_adapter=False)
    hits = moved.search(question, k=3, mode="dense")
    assert hits[0].chunk.chunk_id == plain.index.chunks[target].chunk_id
    assert hits[0].dense_score == pytest.approx(float(passage @ vector), abs=1e-5)
    assert plain.search(question, k=3, mode="dense")[0].chunk.chunk_id != hits[0].chunk.chunk_id


def test_the_best_sentence_ranking_is_by_the_adapted_question_and_reports_the_plain_cosine(corpus_index, embedder):
    plain = Retriever.open(Settings.from_env(index_dir=corpus_index, query_adapter=False), embedder=embedder)
    index = plain.index
    vector = embedder.embed_query("How can returnees be supported?", kind="sentence")
    rows, scores = plain.best_sentences(vector, 50)
    target = int(rows[-1])
    sentence = next(iter(index.sentences_of(target)))
    towards = QueryAdapter(vector[:, None].astype(np.float32), (10 * np.asarray(index.sentence_vectors[sentence]))[None, :].astype(np.float32), {})
    moved = Retriever(index, embedder, query_adapter=False, sentence_adapter=towards)
    moved_rows, moved_scores = moved.best_sentences(vector, 50)
    # the sentence's passage, or the one beside it that repeats it in its overlap, comes first
    text = index.sentence_text(sentence)
    assert text in index.chunks[int(moved_rows[0])].text and text not in index.chunks[int(rows[0])].text
    # each passage keeps its best sentence's plain cosine, whatever the adapted order
    plain_by_row = dict(zip(rows.tolist(), scores.tolist()))
    assert all(plain_by_row[int(r)] == pytest.approx(float(s), abs=1e-5) for r, s in zip(moved_rows, moved_scores) if int(r) in plain_by_row)


def test_the_answer_weighs_each_sentence_by_its_cosine_to_the_question_and_to_the_adapted_question(corpus_index, embedder):
    from dataclasses import replace

    from retrieval.ask.answer import Answerer
    from retrieval.ask.weighing import SENTENCE_FEATURES

    question = "How can returnees be supported?"
    plain = Retriever.open(Settings.from_env(index_dir=corpus_index, query_adapter=False), embedder=embedder)
    answerer = Answerer(plain)
    draft = answerer.draft(question, question)
    similarity, adapted_similarity = SENTENCE_FEATURES.index("similarity"), SENTENCE_FEATURES.index("adapted_similarity")
    # no adapter: both signals are the plain cosine
    assert np.allclose(draft.sentence_features[:, similarity], draft.sentence_features[:, adapted_similarity])
    # an adapter that moves the question onto one candidate sentence: only the adapted signal follows it
    target = len(draft.candidates) - 1
    index = plain.index
    vector = embedder.embed_query(question, kind="sentence")
    sentence_vector = embedder.embed_query(draft.candidates[target].text, kind="sentence")
    towards = QueryAdapter(vector[:, None].astype(np.float32), (10 * sentence_vector)[None, :].astype(np.float32), {})
    moved = Answerer(Retriever(index, embedder, query_adapter=False, sentence_adapter=towards))
    # a sentence model that weighs the adapted cosine only picks that sentence first
    weights = np.zeros(len(SENTENCE_FEATURES))
    weights[adapted_similarity] = 1.0
    moved.weights = replace(moved.weights, sentence=replace(moved.weights.sentence, weights=weights, bias=0.0))
    moved_draft = moved.draft(question, question)
    candidates, vectors = moved.candidates(moved_draft.top)
    assert [c.text for c in candidates] == [c.text for c in moved_draft.candidates]
    assert np.allclose(moved_draft.sentence_features[:, similarity], vectors @ vector, atol=1e-5)
    assert np.allclose(moved_draft.sentence_features[:, adapted_similarity], vectors @ towards.adapt(vector), atol=1e-5)
    texts = [c.text for c in candidates]
    assert draft.candidates[target].text in texts  # the adapter brought its passage to the top too
    assert candidates[moved_draft.chosen[0]].text == draft.candidates[target].text


def test_the_switch_reads_on_and_off_and_refuses_anything_else():
    assert Settings.from_env({"RAG_QUERY_ADAPTER": "off"}).query_adapter is False
    assert Settings.from_env({"RAG_QUERY_ADAPTER": "On"}).query_adapter is True
    assert Settings.from_env({}).query_adapter is True
    with pytest.raises(ValueError, match="RAG_QUERY_ADAPTER='maybe': write on or off"):
        Settings.from_env({"RAG_QUERY_ADAPTER": "maybe"})


def test_a_setting_that_does_not_read_is_one_line_from_the_command(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "RAG_WORKERS": "two", "HF_HUB_OFFLINE": "1"}
    run = subprocess.run([sys.executable, "-m", "retrieval", "info", "--index", str(tmp_path)], check=False, capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    assert run.returncode == 2 and run.stderr.strip() == "error: RAG_WORKERS='two': write a whole number"


def test_an_index_whose_model_has_an_adapter_is_searched_with_it_and_info_says_so(corpus_index, embedder, monkeypatch, capsys, tmp_path):
    from retrieval.ask import query_adapter
    from retrieval.cli.main import main

    monkeypatch.setattr(query_adapter, "ADAPTER_DIR", tmp_path)  # the tier's models have none
    plain = Retriever.open(Settings.from_env(index_dir=corpus_index), embedder=embedder)
    assert plain.query_adapter is None and plain.sentence_adapter is None
    assert main(["info", "--json", "--index", str(corpus_index)]) == 0
    assert json.loads(capsys.readouterr().out)["query_adapters"] == {}

    dim = plain.index.store.dimension
    about = {"model": plain.index.model, "fitted_on": ["a set (dev)"], "rank": 2}
    QueryAdapter(np.ones((dim, 2), dtype=np.float32), np.ones((2, dim), dtype=np.float32), about).save(adapter_path(plain.index.model, "passages", tmp_path))
    assert Retriever.open(Settings.from_env(index_dir=corpus_index), embedder=embedder).query_adapter.about == about
    assert Retriever.open(Settings.from_env(index_dir=corpus_index, query_adapter=False), embedder=embedder).query_adapter is None
    assert main(["info", "--json", "--index", str(corpus_index)]) == 0
    assert json.loads(capsys.readouterr().out)["query_adapters"] == {"passages": about}
    assert main(["info", "--index", str(corpus_index)]) == 0
    assert "passages ranked by the question moved with the query adapter fitted on a set (dev) (rank 2)" in capsys.readouterr().out
    monkeypatch.setenv("RAG_QUERY_ADAPTER", "off")
    assert main(["info", "--json", "--index", str(corpus_index)]) == 0
    assert json.loads(capsys.readouterr().out)["query_adapters"] == {}


def test_while_the_answer_models_are_fitted_each_question_is_searched_by_the_adapters_fitted_without_it():
    from types import SimpleNamespace

    from retrieval.evaluation.evaluate import Question
    from retrieval.evaluation.fit import AdapterFolds

    own, fold_passages, fold_sentences = object(), object(), object()
    retriever = SimpleNamespace(query_adapter=own, sentence_adapter=own)
    learnt = Question("q-1", "factual", "Who decides?", True, (("d", "the court"),), "dev")
    other = Question("q-2", "unanswerable", "Who won?", False, (), "dev")
    folds = AdapterFolds(retriever, {(learnt.id, learnt.question): (fold_passages, fold_sentences)})
    folds.use_for(learnt)
    assert (retriever.query_adapter, retriever.sentence_adapter) == (fold_passages, fold_sentences)
    folds.use_for(other)  # not one the adapters learnt from: the retriever's own
    assert (retriever.query_adapter, retriever.sentence_adapter) == (own, own)
    folds.use_for(learnt)
    folds.restore()
    assert (retriever.query_adapter, retriever.sentence_adapter) == (own, own)
