"""Retrieval and answer evaluation on eval/questions.jsonl.

Gold passages are given as exact quotes. A chunk is relevant to a quote when, after normalising
both (lower case, letters and digits only, so line breaks and hyphenation do not matter), the chunk
contains the quote, or, for a quote that no single chunk holds whole because it straddles a chunk
boundary, the chunk holds its first or second half.

Recall@k is the share of a question's gold quotes found in the top k (for single-quote questions,
whether the passage is there at all); MRR@10 uses the first relevant chunk; nDCG@10 gives a gain of
1 to the first chunk that covers each quote.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from retrieval.chunking import Chunk

DEFAULT_QUESTIONS = Path(__file__).resolve().parent.parent / "eval" / "questions.jsonl"
KS = (1, 5, 10)
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def normalise(text: str) -> str:
    return _NON_ALNUM.sub("", text.lower())


@dataclass(frozen=True)
class Question:
    id: str
    kind: str
    question: str
    answerable: bool
    gold: tuple[tuple[str, str], ...]  # (doc, quote)


def load_questions(path: Path = DEFAULT_QUESTIONS) -> list[Question]:
    out = []
    with Path(path).open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                gold = tuple((g["doc"], g["quote"]) for g in row.get("gold", []))
                out.append(Question(row["id"], row["kind"], row["question"], bool(row["answerable"]), gold))
    return out


class RelevanceJudge:
    """Which chunks hold which gold quote."""

    def __init__(self, chunks: Sequence[Chunk]) -> None:
        self._norm: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for chunk in chunks:
            self._norm[chunk.doc_id].append((chunk.chunk_id, normalise(chunk.text)))
        self._cache: dict[tuple[str, str], frozenset[str]] = {}

    def chunks_for(self, doc: str, quote: str) -> frozenset[str]:
        key = (doc, quote)
        if key not in self._cache:
            q = normalise(quote)
            found = {cid for cid, text in self._norm.get(doc, []) if q in text}
            if not found and len(q) >= 20:
                half = len(q) // 2
                found = {cid for cid, text in self._norm.get(doc, []) if q[:half] in text or q[half:] in text}
            self._cache[key] = frozenset(found)
        return self._cache[key]

    def unmatched(self, questions: Sequence[Question]) -> list[tuple[str, str]]:
        return [(q.id, quote) for q in questions for doc, quote in q.gold if not self.chunks_for(doc, quote)]


def score_ranking(ranked_ids: Sequence[str], gold_sets: Sequence[frozenset[str]]) -> dict[str, float]:
    """Recall@1/5/10, MRR@10 and nDCG@10 of one ranking against a question's gold quotes."""
    metrics: dict[str, float] = {}
    for k in KS:
        top = set(ranked_ids[:k])
        metrics[f"recall@{k}"] = sum(1 for g in gold_sets if g & top) / len(gold_sets)
    relevant = set().union(*gold_sets)
    rr = 0.0
    for rank, cid in enumerate(ranked_ids[:10], start=1):
        if cid in relevant:
            rr = 1.0 / rank
            break
    metrics["mrr@10"] = rr
    covered: set[int] = set()
    dcg = 0.0
    for rank, cid in enumerate(ranked_ids[:10], start=1):
        new = [i for i, g in enumerate(gold_sets) if i not in covered and cid in g]
        if new:
            covered.add(new[0])
            dcg += 1.0 / math.log2(rank + 1)
    ideal = sum(1.0 / math.log2(r + 1) for r in range(1, min(len(gold_sets), 10) + 1))
    metrics["ndcg@10"] = dcg / ideal if ideal else 0.0
    return metrics


METRICS = ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10")


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def percentile(values: Sequence[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))
    return ordered[index]


def evaluate_retrieval(retriever, questions: Sequence[Question], modes: Sequence[str] = ("dense", "lexical", "hybrid"), k: int = 10) -> dict:
    """Per mode: overall and per-kind metrics over the answerable questions, and search latency."""
    judge = RelevanceJudge(retriever.index.chunks)
    answerable = [q for q in questions if q.answerable and q.gold]
    results: dict = {"modes": {}, "unmatched_quotes": judge.unmatched(answerable), "questions": len(questions), "answerable": len(answerable)}
    retriever.search("warm up the model", k=k)
    for mode in modes:
        retriever.embedder.clear_query_cache()  # time each mode's query encoding, not a cache hit
        per_kind: dict[str, list[dict]] = defaultdict(list)
        latencies = []
        per_question = {}
        for q in answerable:
            started = time.perf_counter()
            hits = retriever.search(q.question, k=k, mode=mode)
            latencies.append((time.perf_counter() - started) * 1000)
            gold_sets = [judge.chunks_for(doc, quote) for doc, quote in q.gold]
            m = score_ranking([h.chunk.chunk_id for h in hits], gold_sets)
            per_kind[q.kind].append(m)
            per_kind["all"].append(m)
            per_question[q.id] = m
        results["modes"][mode] = {
            "metrics": {kind: {name: mean([m[name] for m in rows]) for name in METRICS} | {"n": len(rows)} for kind, rows in per_kind.items()},
            "latency_ms": {"p50": percentile(latencies, 50), "p95": percentile(latencies, 95)},
            "per_question": per_question,
        }
    return results


def evaluate_coverage(answerer, questions: Sequence[Question]) -> dict:
    """How often the answerer answers answerable questions and declines unanswerable ones."""
    rows = []
    latencies = []
    for q in questions:
        answerer.retriever.embedder.clear_query_cache()
        started = time.perf_counter()
        answer = answerer.ask(q.question)
        latencies.append((time.perf_counter() - started) * 1000)
        rows.append((q, answer.answerable, answer.confidence))
    answerable = [ok for q, ok, _ in rows if q.answerable]
    unanswerable = [not ok for q, ok, _ in rows if not q.answerable]
    return {
        "answerable_accuracy": mean([float(x) for x in answerable]),
        "unanswerable_accuracy": mean([float(x) for x in unanswerable]),
        "n_answerable": len(answerable),
        "n_unanswerable": len(unanswerable),
        "confidences": [(q.id, q.answerable, conf) for q, _, conf in rows],
        "answer_latency_ms": {"p50": percentile(latencies, 50), "p95": percentile(latencies, 95)},
    }


def calibrate_threshold(confidences: Sequence[tuple[str, bool, float]]) -> tuple[float, float, float]:
    """The threshold that maximises the lower of the two accuracies: (threshold, answerable acc, unanswerable acc)."""
    pos = [c for _, ok, c in confidences if ok]
    neg = [c for _, ok, c in confidences if not ok]
    best = (0.0, 0.0, 0.0)
    for t in sorted({round(c, 3) for _, _, c in confidences}):
        a = mean([float(c >= t) for c in pos])
        u = mean([float(c < t) for c in neg])
        if min(a, u) > min(best[1], best[2]) or (min(a, u) == min(best[1], best[2]) and a + u > best[1] + best[2]):
            best = (t, a, u)
    return best


def format_report(retrieval: dict, coverage: dict | None, command: str = "python -m retrieval eval") -> str:
    modes = list(retrieval["modes"])
    kinds = ["all"] + sorted(k for k in retrieval["modes"][modes[0]]["metrics"] if k != "all")
    lines = [
        "# Retrieval evaluation",
        "",
        f"Command: `{command}`. Questions: {retrieval['questions']} ({retrieval['answerable']} answerable). "
        "Gold passages are exact quotes; see retrieval/evaluate.py for how chunks are judged relevant.",
        "",
        "## Overall",
        "",
        "| mode | Recall@1 | Recall@5 | Recall@10 | MRR@10 | nDCG@10 | search p50 ms | search p95 ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for mode in modes:
        m = retrieval["modes"][mode]["metrics"]["all"]
        lat = retrieval["modes"][mode]["latency_ms"]
        lines.append(f"| {mode} | {m['recall@1']:.3f} | {m['recall@5']:.3f} | {m['recall@10']:.3f} | {m['mrr@10']:.3f} | {m['ndcg@10']:.3f} | {lat['p50']:.1f} | {lat['p95']:.1f} |")
    lines += ["", "## Per question kind (Recall@5 / MRR@10)", "", "| kind | n | " + " | ".join(modes) + " |", "|---|---|" + "---|" * len(modes)]
    for kind in kinds:
        n = retrieval["modes"][modes[0]]["metrics"][kind]["n"]
        cells = [f"{retrieval['modes'][mode]['metrics'][kind]['recall@5']:.3f} / {retrieval['modes'][mode]['metrics'][kind]['mrr@10']:.3f}" for mode in modes]
        lines.append(f"| {kind} | {n} | " + " | ".join(cells) + " |")
    if coverage:
        lines += [
            "",
            "## Not covered",
            "",
            f"Answered when covered: {coverage['answerable_accuracy']:.3f} of {coverage['n_answerable']} answerable questions; "
            f"declined when not covered: {coverage['unanswerable_accuracy']:.3f} of {coverage['n_unanswerable']} unanswerable questions. "
            f"Whole answer (search + composition) p50 {coverage['answer_latency_ms']['p50']:.0f} ms, p95 {coverage['answer_latency_ms']['p95']:.0f} ms.",
        ]
    if retrieval["unmatched_quotes"]:
        lines += ["", f"Gold quotes no chunk holds (text cleaning differences): {len(retrieval['unmatched_quotes'])}"]
    return "\n".join(lines) + "\n"
