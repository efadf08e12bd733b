"""The evaluation report: Markdown tables of retrieval and answer figures for each question set and split."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class SetResult:
    """The figures of one evaluation set, or of one split of it."""

    label: str  # "questions", "blind-questions (test)"
    retrieval: dict
    coverage: dict | None
    #: questions not run because a gold document is not in the index (ids)
    skipped: list[str] = field(default_factory=list)
    #: 95% bootstrap intervals of the headline figures (`uncertainty.set_intervals`): name -> (low, high)
    intervals: dict = field(default_factory=dict)


def _f(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def format_set(result: SetResult) -> list[str]:
    retrieval, coverage = result.retrieval, result.coverage
    modes = list(retrieval["modes"])
    first = retrieval["modes"][modes[0]]
    kinds = ["all"] + sorted(k for k in first["metrics"] if k != "all")
    lines = [
        f"## {result.label}",
        "",
        f"Questions: {retrieval['questions']} ({retrieval['answerable']} answerable)."
        + (f" Not run, a gold document not in the index: {len(result.skipped)}." if result.skipped else ""),
        "",
        "| mode | Recall@1 | Recall@5 | Recall@10 | MRR@10 | nDCG@10 | both documents in top 5 | words per passage | search p50 ms | search p95 ms |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for mode in modes:
        r = retrieval["modes"][mode]
        m, lat, two = r["metrics"]["all"], r["latency_ms"], r["two_documents_in_top5"]
        lines.append(
            f"| {mode} | {m['recall@1']:.3f} | {m['recall@5']:.3f} | {m['recall@10']:.3f} | {m['mrr@10']:.3f} | {m['ndcg@10']:.3f} "
            f"| {two['hit']} of {two['n']} | {r['passage_words_top5']:.0f} | {lat['p50']:.1f} | {lat['p95']:.1f} |"
        )
    lines += ["", "Per question kind (Recall@5 / MRR@10):", "", "| kind | n | " + " | ".join(modes) + " |", "|---|---|" + "---|" * len(modes)]
    for kind in kinds:
        n = first["metrics"][kind]["n"]
        cells = [f"{retrieval['modes'][mode]['metrics'][kind]['recall@5']:.3f} / {retrieval['modes'][mode]['metrics'][kind]['mrr@10']:.3f}" for mode in modes]
        lines.append(f"| {kind} | {n} | " + " | ".join(cells) + " |")
    lines += ["", "Per document (Recall@5 / MRR@10):", "", "| document | n | " + " | ".join(modes) + " |", "|---|---|" + "---|" * len(modes)]
    for doc in first["by_doc"]:
        n = first["by_doc"][doc]["n"]
        cells = [f"{retrieval['modes'][mode]['by_doc'][doc]['recall@5']:.3f} / {retrieval['modes'][mode]['by_doc'][doc]['mrr@10']:.3f}" for mode in modes]
        lines.append(f"| {doc} | {n} | " + " | ".join(cells) + " |")
    if first.get("by_overlap"):
        lines += ["", "By the share of the question's content words found in its answering sentence (Recall@5 / MRR@10):", "",
                  "| share | n | " + " | ".join(modes) + " |", "|---|---|" + "---|" * len(modes)]
        for band, m in first["by_overlap"].items():
            cells = [f"{retrieval['modes'][mode]['by_overlap'][band]['recall@5']:.3f} / {retrieval['modes'][mode]['by_overlap'][band]['mrr@10']:.3f}" for mode in modes]
            lines.append(f"| {band} | {m['n']} | " + " | ".join(cells) + " |")
    sources = first.get("by_source", {})
    if len(sources) > 1 and "hybrid" in retrieval["modes"]:
        by_source, holds = retrieval["modes"]["hybrid"]["by_source"], (coverage or {}).get("answer_holds_gold_by_source", {})
        lines += ["", "By the kind of document that answers (hybrid; the targets for Markdown and PDF questions differ):", "",
                  "| documents | n | Recall@5 | MRR@10 | answer holds a gold quote |", "|---|---|---|---|---|"]
        for src, m in by_source.items():
            lines.append(f"| {src} | {m['n']} | {m['recall@5']:.3f} | {m['mrr@10']:.3f} | {_f(holds.get(src))} |")
    if coverage:
        lines += [
            "",
            "Answers (`ask`):",
            "",
            "| answer holds a gold quote | its first sentence does | answered when covered | declined when not | balanced accuracy | AUROC of confidence | words per answer | answer p50 ms | answer p95 ms |",
            "|---|---|---|---|---|---|---|---|---|",
            f"| {coverage['answer_holds_gold']:.3f} | {_f(coverage.get('answer_leads_with_gold'))} | {coverage['answerable_accuracy']:.3f} of {coverage['n_answerable']} "
            f"| {coverage['unanswerable_accuracy']:.3f} of {coverage['n_unanswerable']} | {coverage['balanced_accuracy']:.3f} "
            f"| {_f(coverage['auroc'])} | {coverage['answer_words']:.0f} | {coverage['answer_latency_ms']['p50']:.0f} | {coverage['answer_latency_ms']['p95']:.0f} |",
        ]
    if result.intervals:
        lines += ["", "95% intervals (bootstrap over the questions, retrieval/evaluation/uncertainty.py): "
                  + "; ".join(f"{name} {low:.3f} to {high:.3f}" for name, (low, high) in result.intervals.items()) + "."]
    if retrieval["unmatched_quotes"]:
        lines += ["", f"Gold quotes no chunk holds (text cleaning differences): {len(retrieval['unmatched_quotes'])}: "
                  + ", ".join(qid for qid, _ in retrieval["unmatched_quotes"])]
    return lines


def format_report(results: Sequence[SetResult] | dict, coverage: dict | None = None, command: str = "python -m retrieval eval", encoders: str = "") -> str:
    """The whole report; also accepts one set's (retrieval, coverage) as before."""
    if isinstance(results, dict):
        results = [SetResult("questions", results, coverage)]
    lines = [
        "# Retrieval and answer evaluation",
        "",
        f"Command: `{command}`. Gold passages are exact quotes; a passage is relevant when it holds one "
        "(retrieval/evaluation/evaluate.py says how text is compared). An answer holds a gold quote when its sentences, "
        "joined, contain one whole. Tune on dev splits only; report test.",
        "",
        *([encoders, ""] if encoders else []),
    ]
    for result in results:
        lines += format_set(result) + [""]
    return "\n".join(lines).rstrip() + "\n"
