"""How sure an evaluation figure is: bootstrap intervals over the questions, for one run's figures and
for the difference between two runs on the same questions.

The blind test split has 124 answerable and 52 unanswerable questions: one answer more or less moves
"declined when not" by 0.019 and the balanced accuracy by 0.010, and a change of 0.01 is usually
noise. A 95% interval says which figures, and which differences between two versions, are more than
that.

Percentile bootstrap: the questions are drawn again with replacement `RESAMPLES` times and the figure
recomputed each time; the interval holds the middle 95% of those. The balanced accuracy draws the
answerable and the unanswerable questions separately, so every draw has both, as the set has. A
difference between two runs draws the same questions for both (paired), so what the two runs share
cancels out. Seeded: the same inputs always give the same interval.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

RESAMPLES = 2000
LEVEL = 0.95
SEED = 0


def _bounds(draws: np.ndarray, level: float) -> tuple[float, float]:
    tail = (1 - level) / 2
    low, high = np.quantile(draws, [tail, 1 - tail])
    return float(low), float(high)


def _draws(n: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, n, size=(resamples, n))


def mean_interval(values: Sequence[float], resamples: int = RESAMPLES, level: float = LEVEL, seed: int = SEED) -> tuple[float, float] | None:
    """The interval of a mean over questions (Recall@5, MRR@10, answers holding a gold quote); None for no values."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return None
    rng = np.random.default_rng(seed)
    return _bounds(x[_draws(x.size, resamples, rng)].mean(axis=1), level)


def balanced_interval(answered_when_covered: Sequence[bool], declined_when_not: Sequence[bool],
                      resamples: int = RESAMPLES, level: float = LEVEL, seed: int = SEED) -> tuple[float, float] | None:
    """The interval of the balanced accuracy: the answerable and the unanswerable questions drawn apart."""
    pos, neg = np.asarray(answered_when_covered, dtype=np.float64), np.asarray(declined_when_not, dtype=np.float64)
    if pos.size == 0 or neg.size == 0:
        return None
    rng = np.random.default_rng(seed)
    a = pos[_draws(pos.size, resamples, rng)].mean(axis=1)
    d = neg[_draws(neg.size, resamples, rng)].mean(axis=1)
    return _bounds((a + d) / 2, level)


def paired_difference(before: Sequence[float], after: Sequence[float],
                      resamples: int = RESAMPLES, level: float = LEVEL, seed: int = SEED) -> tuple[float, float, float] | None:
    """(mean of after - before, low, high) over the same questions, each drawn for both runs at once."""
    b, a = np.asarray(before, dtype=np.float64), np.asarray(after, dtype=np.float64)
    if b.shape != a.shape:
        raise ValueError("paired values must come from the same questions")
    if b.size == 0:
        return None
    diff = a - b
    rng = np.random.default_rng(seed)
    return (float(diff.mean()), *_bounds(diff[_draws(diff.size, resamples, rng)].mean(axis=1), level))


def paired_balanced_difference(before_answered: Sequence[bool], after_answered: Sequence[bool],
                               before_declined: Sequence[bool], after_declined: Sequence[bool],
                               resamples: int = RESAMPLES, level: float = LEVEL, seed: int = SEED) -> tuple[float, float, float] | None:
    """(difference of the balanced accuracy, low, high): answerable questions (answered or not by each
    run) and unanswerable ones (declined or not) drawn apart, each question for both runs at once."""
    pos = np.asarray(after_answered, dtype=np.float64) - np.asarray(before_answered, dtype=np.float64)
    neg = np.asarray(after_declined, dtype=np.float64) - np.asarray(before_declined, dtype=np.float64)
    if pos.size == 0 or neg.size == 0:
        return None
    rng = np.random.default_rng(seed)
    draws = (pos[_draws(pos.size, resamples, rng)].mean(axis=1) + neg[_draws(neg.size, resamples, rng)].mean(axis=1)) / 2
    return (float((pos.mean() + neg.mean()) / 2), *_bounds(draws, level))


def set_intervals(retrieval: dict, coverage: dict | None, mode: str = "hybrid") -> dict:
    """The 95% intervals of a set's headline figures (`evaluate.evaluate_retrieval` and
    `evaluate_coverage` results): Recall@5 and MRR@10 of `mode`, answers holding a gold quote,
    balanced accuracy. A figure the run did not measure is left out."""
    out: dict[str, tuple[float, float]] = {}
    result = retrieval.get("modes", {}).get(mode)
    if result:
        per_question = list(result["per_question"].values())
        for name, shown in (("recall@5", "Recall@5"), ("mrr@10", "MRR@10")):
            found = mean_interval([m[name] for m in per_question])
            if found:
                out[f"{mode} {shown}"] = found
    if coverage:
        rows = coverage["per_question"]
        answerable = {qid for qid, ok, _ in coverage["confidences"] if ok}
        holds = mean_interval([float(r["holds_gold"]) for qid, r in rows.items() if qid in answerable])
        if holds:
            out["answer holds a gold quote"] = holds
        balanced = balanced_interval([r["answered"] for qid, r in rows.items() if qid in answerable],
                                     [not r["answered"] for qid, r in rows.items() if qid not in answerable])
        if balanced:
            out["balanced accuracy"] = balanced
    return out
