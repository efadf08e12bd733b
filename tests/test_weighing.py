"""The answer's learned models (retrieval/ask/weighing.py) and their fitting (retrieval/evaluation/fit.py)."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from retrieval.ask.weighing import COVERAGE_FEATURES, SENTENCE_FEATURES, WEIGHTS_FILE, LinearModel, Weights, load_weights
from retrieval.evaluation.fit import _logistic, conditional_logit, dev_questions, fit, pick_threshold


def test_the_shipped_weights_load_and_say_what_they_were_fitted_on():
    weights = load_weights()
    assert weights.sentence.features == SENTENCE_FEATURES and weights.coverage.features == COVERAGE_FEATURES
    assert 0 < weights.threshold < 1 and weights.similarity_floor > 0 and weights.dense_floor > 0
    shipped = json.loads(WEIGHTS_FILE.read_text(encoding="utf-8"))
    assert shipped["fitted_on"] == ["blind-questions.jsonl (dev)", "blind-questions-2.jsonl (dev)"]


def test_weights_for_other_signals_are_refused_with_the_file_named(tmp_path):
    row = json.loads(WEIGHTS_FILE.read_text(encoding="utf-8"))
    row["coverage"]["features"] = row["coverage"]["features"][::-1]
    path = tmp_path / "answer_weights.json"
    path.write_text(json.dumps(row), encoding="utf-8")
    with pytest.raises(ValueError, match="answer_weights.json: features"):
        load_weights(path)


def test_a_question_far_from_every_passage_stays_below_the_threshold_whatever_the_model_says():
    sure = LinearModel(COVERAGE_FEATURES, np.zeros(len(COVERAGE_FEATURES)), 10.0)  # always 0.99995
    weights = Weights(sure, sure, threshold=0.6, similarity_floor=0.4, dense_floor=0.3)
    row = np.zeros(len(COVERAGE_FEATURES))
    best, dense = COVERAGE_FEATURES.index("best_similarity"), COVERAGE_FEATURES.index("max_dense")
    row[best], row[dense] = 0.7, 0.6
    assert weights.confidence(row) > 0.99
    row[best] = 0.2
    assert weights.confidence(row) == pytest.approx(0.3)  # half the floor: half the threshold
    row[best], row[dense] = 0.7, 0.15
    assert weights.confidence(row) < 0.6


def test_the_threshold_is_the_best_balance_that_still_answers_enough():
    confidences = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.55, 0.4, 0.3])
    answerable = np.array([1, 1, 1, 1, 1, 0, 0, 0])
    assert pick_threshold(confidences, answerable, min_answered=0.8) == (0.6, 0.8, 1.0)
    threshold, answered, declined = pick_threshold(confidences, answerable, min_answered=1.0)
    assert threshold == 0.5 and answered == 1.0 and declined == pytest.approx(2 / 3)


def _candidate_sentences(seed: int = 3, n: int = 60, per: int = 8):
    """Candidate sentences of `n` questions, each with one gold sentence: the one with the highest
    "fit" (a noisy view of it is the first signal; the second is noise)."""
    rng = np.random.default_rng(seed)
    fit_ = rng.normal(size=(n, per))
    rows = np.stack([fit_ + 0.3 * rng.normal(size=(n, per)), rng.normal(size=(n, per))], axis=-1).reshape(n * per, 2)
    labels = (fit_ == fit_.max(axis=1, keepdims=True)).astype(int).reshape(-1)
    return rows, labels, np.repeat(np.arange(n), per)


def _first_right(model: LinearModel, rows, labels, groups) -> int:
    scores = model.scores(rows)
    return sum(int(labels[groups == g][np.argmax(scores[groups == g])]) for g in np.unique(groups))


def test_the_sentence_model_learns_to_put_a_questions_gold_sentence_first():
    rows, labels, groups = _candidate_sentences()
    model = conditional_logit(rows, labels, groups, ("fit", "noise"))
    assert model.weights[0] > 5 * abs(model.weights[1])
    assert _first_right(model, rows, labels, groups) >= 0.75 * len(np.unique(groups))


def test_the_sentence_model_learns_nothing_from_questions_without_a_gold_sentence():
    """Questions whose passages hold no gold sentence say nothing of which sentence to put first:
    added to the fit (here with every sentence long on "noise"), they leave the conditional logit as
    it was, where a logistic regression over every sentence on its own learns from them that
    "noise" makes a sentence less likely to be gold."""
    rows, labels, groups = _candidate_sentences()
    more_rows, _, more_groups = _candidate_sentences(seed=4, n=30)
    more_rows[:, 1] += 3.0
    all_rows, all_labels = np.vstack([rows, more_rows]), np.concatenate([labels, np.zeros(len(more_rows), dtype=int)])
    all_groups = np.concatenate([groups, more_groups + groups.max() + 1])
    features = ("fit", "noise")
    alone, with_more = conditional_logit(rows, labels, groups, features), conditional_logit(all_rows, all_labels, all_groups, features)
    # the same up to the standardisation of the signals, which the added rows change
    assert _first_right(alone, rows, labels, groups) == _first_right(with_more, rows, labels, groups)
    assert np.allclose(alone.scores(rows) - alone.scores(rows).mean(), with_more.scores(rows) - with_more.scores(rows).mean(), atol=0.3)
    pointwise_alone, pointwise_with_more = _logistic(rows, labels, features), _logistic(all_rows, all_labels, features)
    assert pointwise_with_more.weights[1] < pointwise_alone.weights[1] - 0.3


def test_the_sentence_model_needs_a_question_with_a_gold_sentence():
    rows, labels, groups = _candidate_sentences()
    with pytest.raises(ValueError, match="no group has a positive row"):
        conditional_logit(rows, np.zeros_like(labels), groups, ("fit", "length"))


def test_fitting_on_dev_questions_gives_usable_weights(corpus_index):
    """The whole fit on the dev questions the corpus index can answer (the logic tier's encoder):
    both models come back with their named signals and a threshold that answers enough of them."""
    from retrieval import Answerer, Retriever, Settings

    retriever = Retriever.open(Settings.from_env(index_dir=corpus_index))
    questions = dev_questions(retriever.index.rows_by_doc)
    assert len({q.answerable for q in questions}) == 2  # both kinds are there to learn from
    answerer = Answerer(retriever)
    out = io.StringIO()
    result = fit(answerer, questions[:60], out=out)
    assert result["sentence"]["features"] == list(SENTENCE_FEATURES) and result["coverage"]["features"] == list(COVERAGE_FEATURES)
    assert result["dev"]["answered"] >= 0.85 and result["threshold"] == round(answerer.weights.threshold, 4)
    assert "sentence model:" in out.getvalue() and "coverage model:" in out.getvalue()
    assert np.all(np.isfinite(answerer.weights.sentence.weights)) and np.all(np.isfinite(answerer.weights.coverage.weights))
