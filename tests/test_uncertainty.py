"""Bootstrap intervals of evaluation figures, and the comparison of two `eval --answers` files, on
hand-made inputs whose answers are known."""

from __future__ import annotations

import json

import pytest

from retrieval.evaluation.compare import AnswersFileError, compare_runs, read_answers
from retrieval.evaluation.uncertainty import (
    balanced_interval,
    mean_interval,
    paired_balanced_difference,
    paired_difference,
    set_intervals,
)


def test_a_mean_interval_holds_the_mean_narrows_with_more_questions_and_repeats():
    half = [0.0, 1.0] * 25  # 50 questions, half hit
    low, high = mean_interval(half)
    assert low < 0.5 < high
    assert 0.2 < high - low < 0.35  # about 2 x 1.96 x sqrt(0.25 / 50) = 0.28
    wide, narrow = mean_interval(half), mean_interval(half * 8)
    assert narrow[1] - narrow[0] < (wide[1] - wide[0]) / 2
    assert mean_interval(half) == mean_interval(half)  # seeded
    assert mean_interval([1.0] * 10) == (1.0, 1.0)
    assert mean_interval([]) is None


def test_the_balanced_accuracy_interval_draws_both_kinds_of_question():
    answered = [True] * 45 + [False] * 5  # 0.9
    declined = [True] * 5 + [False] * 5  # 0.5 of only ten: the wide part
    low, high = balanced_interval(answered, declined)
    assert low < 0.7 < high
    assert high - low > 0.2
    assert balanced_interval(answered, []) is None


def test_a_paired_difference_cancels_what_both_runs_share():
    before = [1.0] * 40 + [0.0] * 60
    same = paired_difference(before, before)
    assert same == (0.0, 0.0, 0.0)
    better = before[:40] + [1.0] * 15 + [0.0] * 45  # 15 more hits, none lost
    diff, low, high = paired_difference(before, better)
    assert diff == pytest.approx(0.15) and low > 0
    mixed = [0.0] + before[1:40] + [1.0] + [0.0] * 59  # one gained, one lost
    diff, low, high = paired_difference(before, mixed)
    assert diff == 0 and low < 0 < high
    with pytest.raises(ValueError):
        paired_difference([1.0], [1.0, 0.0])


def test_a_paired_balanced_difference_is_the_mean_of_the_two_accuracies_changes():
    diff, low, high = paired_balanced_difference([True] * 10, [True] * 10, [False] * 10, [True] * 5 + [False] * 5)
    assert diff == pytest.approx(0.25) and 0 < low <= diff <= high


def test_set_intervals_read_the_per_question_figures_of_a_run():
    retrieval = {"modes": {"hybrid": {"per_question": {f"q{i}": {"recall@5": float(i % 2), "mrr@10": 0.5 * (i % 2)} for i in range(20)}}}}
    coverage = {
        "confidences": [(f"q{i}", True, 0.6) for i in range(20)] + [("u1", False, 0.4), ("u2", False, 0.7)],
        "per_question": {f"q{i}": {"answered": True, "holds_gold": i < 10} for i in range(20)}
        | {"u1": {"answered": False, "holds_gold": False}, "u2": {"answered": True, "holds_gold": False}},
    }
    found = set_intervals(retrieval, coverage)
    assert set(found) == {"hybrid Recall@5", "hybrid MRR@10", "answer holds a gold quote", "balanced accuracy"}
    assert found["hybrid Recall@5"][0] < 0.5 < found["hybrid Recall@5"][1]
    low, high = found["balanced accuracy"]
    assert low <= 0.75 <= high  # answered 1.0, declined 0.5
    assert set(set_intervals({"modes": {"lexical": retrieval["modes"]["hybrid"]}}, None)) == set()


def _row(qid, answerable, answered, holds, split="test", recall=1.0):
    return {"set": f"blind ({split})", "id": qid, "split": split, "question": f"question {qid}?", "answerable": answerable,
            "answered": answered, "holds_gold": holds, "confidence": 0.6 if answered else 0.4, "answer": "text" if answered else "",
            "ranks": {"hybrid": {"recall@5": recall, "mrr@10": recall / 2}} if answerable else {}}


def test_compare_pairs_questions_by_set_and_split_and_lists_what_changed():
    before = [_row("a", True, True, False), _row("b", True, False, False), _row("u", False, True, False), _row("d", True, True, True, split="dev")]
    after = [_row("a", True, True, True), _row("b", True, False, False, recall=0.0), _row("u", False, False, False), _row("d", True, True, True, split="dev"),
             _row("new", True, True, True)]
    results = {r.label: r for r in compare_runs(before, after)}
    assert set(results) == {"blind (test)", "blind (dev)"}
    test = results["blind (test)"]
    assert (test.n, test.n_answerable, test.only_in_one) == (3, 2, 1)
    measures = {m.name: m for m in test.measures}
    assert measures["answer holds a gold quote"].difference == pytest.approx(0.5)
    assert measures["hybrid Recall@5"].difference == pytest.approx(-0.5)
    assert measures["declined when not"].difference == pytest.approx(1.0)
    assert measures["balanced accuracy"].before == pytest.approx(0.25) and measures["balanced accuracy"].after == pytest.approx(0.75)
    changed = {c.id: c for c in test.changes}
    assert set(changed) == {"a", "u"} and changed["a"].better and changed["u"].better
    assert results["blind (dev)"].changes == []
    assert [r.label for r in compare_runs(before, after, split="dev")] == ["blind (dev)"]
    assert compare_runs(before, after, set_name="other") == []


def test_an_answers_file_not_written_by_eval_is_refused_in_one_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a"}\n', encoding="utf-8")
    with pytest.raises(AnswersFileError, match="bad.jsonl:1: no set, answerable"):
        read_answers(bad)
    bad.write_text("not json\n", encoding="utf-8")
    with pytest.raises(AnswersFileError, match="not JSON"):
        read_answers(bad)
    bad.write_text("\n", encoding="utf-8")
    with pytest.raises(AnswersFileError, match="no answers"):
        read_answers(bad)
    with pytest.raises(AnswersFileError, match="cannot read"):
        read_answers(tmp_path / "missing.jsonl")
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps(_row("a", True, True, True)) + "\n", encoding="utf-8")
    assert read_answers(good)[0]["id"] == "a"
