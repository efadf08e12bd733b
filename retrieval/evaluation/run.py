"""One evaluation run, the same for `python -m retrieval eval` and the app's Index page: the sets and
splits to evaluate (by default every set of eval/, each split apart), each measured on one index,
search and answers, with 95% intervals and each question's row for `eval --answers`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from retrieval.ask.answer import Answerer
from retrieval.evaluation.evaluate import (
    BLIND_CONVERSATIONS,
    BLIND_QUESTIONS,
    BLIND_QUESTIONS_2,
    BLIND_QUESTIONS_3,
    DEFAULT_QUESTIONS,
    Question,
    answerable_here,
    evaluate_coverage,
    evaluate_retrieval,
    load_questions,
    question_rows,
    splits_of,
)
from retrieval.evaluation.report import SetResult
from retrieval.evaluation.uncertainty import set_intervals

#: the sets evaluated when none is named (those present): the team's, the three blind sets, then the
#: blind conversations
EVALUATION_SETS = (DEFAULT_QUESTIONS, BLIND_QUESTIONS, BLIND_QUESTIONS_2, BLIND_QUESTIONS_3, BLIND_CONVERSATIONS)
MODES = ("dense", "lexical", "hybrid")


class EvaluationSetError(ValueError):
    """An evaluation set that cannot be read; the message names the file."""


def evaluation_sets(paths: Sequence[Path] | None = None, split: str | None = None) -> list[tuple[str, list[Question]]]:
    """(label, questions) for each set and split to evaluate: the sets at `paths` (by default those of
    EVALUATION_SETS that exist), each split apart ("blind-questions (dev)"), only `split` of a set
    that has splits. Raises EvaluationSetError."""

    paths = paths or [p for p in EVALUATION_SETS if p.exists()]
    out = []
    for path in paths:
        try:
            questions = load_questions(path)
        except (OSError, ValueError, KeyError) as exc:
            raise EvaluationSetError(f"cannot read evaluation set {path}: {exc}") from exc
        for each in splits_of(questions):
            if split and each and each != split:
                continue
            label = Path(path).stem + (f" ({each})" if each else "")
            out.append((label, [q for q in questions if q.split == each]))
    return out


def evaluate_sets(
    retriever,
    sets: Sequence[tuple[str, Sequence[Question]]],
    modes: Sequence[str] = MODES,
    on_set: Callable[[str, list[Question], list[Question]], object] | None = None,
) -> tuple[list[SetResult], list[dict]]:
    """Each set on `retriever`'s index: search in `modes`, answers (covered / not covered), the 95%
    intervals. A question whose gold documents the index lacks is not run (the set's result names
    it); a set left with no answerable question is not reported. `on_set(label, run, not_run)` is
    called as each set starts. Returns (a SetResult per set, each question's row as `eval --answers`
    writes it)."""

    answerer = Answerer(retriever)
    results: list[SetResult] = []
    rows: list[dict] = []
    for label, questions in sets:
        kept, skipped = answerable_here(questions, retriever.index.rows_by_doc)
        if on_set:
            on_set(label, kept, skipped)
        if not any(q.answerable and q.gold for q in kept):
            continue
        retrieval = evaluate_retrieval(retriever, kept, modes=modes)
        coverage = evaluate_coverage(answerer, kept)
        results.append(SetResult(label, retrieval, coverage, [q.id for q in skipped], set_intervals(retrieval, coverage)))
        rows.extend(question_rows(label, kept, retrieval, coverage))
    return results, rows
