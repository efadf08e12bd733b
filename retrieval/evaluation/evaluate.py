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
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from retrieval.ask.question_signals import resolve_followup
from retrieval.config import REPO
from retrieval.store.lexical import QueryTerms
from retrieval.text.chunking import Chunk
from retrieval.text.cleaning import letters_and_digits

DEFAULT_QUESTIONS = REPO / "eval" / "questions.jsonl"
#: written from the documents alone by authors who never saw the system; split once into dev and test
BLIND_QUESTIONS = REPO / "eval" / "blind-questions.jsonl"
#: a second blind set by another author, briefed to write as officials do: scenarios, everyday words
#: instead of the documents' terms, typos, documents named by the short names people use
BLIND_QUESTIONS_2 = REPO / "eval" / "blind-questions-2.jsonl"
#: a third blind set by a third author, briefed as the second; every question is in test: nothing is
#: fitted or tuned on it, so it reads as the held-out sets do
BLIND_QUESTIONS_3 = REPO / "eval" / "blind-questions-3.jsonl"
#: follow-ups in conversations (each row's "history" holds the earlier question), by a fourth author
#: who saw only the documents: 60, a fifth of them not answered by the documents, dev and test
BLIND_CONVERSATIONS = REPO / "eval" / "blind-conversations.jsonl"
KS = (1, 5, 10)
#: the share of a question's content words found in its answering sentence, in three bands: officials
#: ask in their own words, and a set whose questions reuse the passage's words flatters a word matcher
OVERLAP_BANDS = (("under 1/4", 0.0, 0.25), ("1/4 to 1/2", 0.25, 0.5), ("over 1/2", 0.5, 1.01))
#: how gold quotes and texts are compared: lower-case letters and digits only
normalise = letters_and_digits


@dataclass(frozen=True)
class Question:
    id: str
    kind: str
    question: str
    answerable: bool
    gold: tuple[tuple[str, str], ...]  # (doc, quote)
    #: "dev" (tune here), "test" (report here, never tune) or "" for a set with no split
    split: str = ""
    #: the earlier questions of a conversation, oldest first: the question is its follow-up
    history: tuple[str, ...] = ()

    @property
    def query(self) -> str:
        """What is searched for the question: a follow-up together with the turn it leans on."""
        return resolve_followup(self.question, self.history)

    @property
    def docs(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(doc for doc, _ in self.gold))


def load_questions(path: Path = DEFAULT_QUESTIONS, split: str | None = None) -> list[Question]:
    """The questions of an evaluation set (JSONL), optionally only those of one split."""
    out = []
    with Path(path).open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                gold = tuple((g["doc"], g["quote"]) for g in row.get("gold", []))
                out.append(Question(row["id"], row["kind"], row["question"], bool(row["answerable"]), gold, row.get("split", ""),
                                    tuple(row.get("history") or ())))
    if split:
        out = [q for q in out if q.split == split]
    return out


def splits_of(questions: Sequence[Question]) -> list[str]:
    """The splits a set has, dev before test; [""] for a set with none."""
    found = {q.split for q in questions}
    return sorted(found, key=lambda s: (s != "dev", s != "test", s)) or [""]


def answerable_here(questions: Sequence[Question], indexed_docs) -> tuple[list[Question], list[Question]]:
    """(questions whose gold documents are all indexed, the others): a set may cover documents that
    stay out of the repository (the test-only PDFs of ../shared/pdfs); their questions run only
    when an index holds those documents."""
    indexed = set(indexed_docs)
    kept, skipped = [], []
    for q in questions:
        (kept if all(d in indexed for d in q.docs) else skipped).append(q)
    return kept, skipped


def source_of(question: Question) -> str:
    """What a question's gold documents are: "Markdown", "PDF" or "Markdown and PDF" (the targets of
    the Markdown and the PDF question sets differ)."""
    kinds = {"PDF" if doc.lower().endswith(".pdf") else "Markdown" for doc in question.docs}
    return " and ".join(sorted(kinds)) if kinds else ""


def word_overlap(question: str, answering: Sequence[str]) -> float:
    """The share of a question's content words (stop words out, stemmed as BM25 reads them) that
    occur in its answering text: the gold quotes, each the answering sentence or its key part. The
    best of the quotes counts: any one of them answers."""

    terms = QueryTerms()
    asked = set(terms(question))
    if not asked or not answering:
        return 0.0
    return max(len(asked & set(terms(text))) / len(asked) for text in answering)


def overlap_band(share: float) -> str:
    return next(name for name, low, high in OVERLAP_BANDS if low <= share < high)


def quote_starts_in(sentence: str, quote: str) -> bool:
    """Whether a quote's first words (its first quarter) are in a sentence: a quote spread over two
    answer sentences starts in the first."""
    head = normalise(quote)[: max(12, len(normalise(quote)) // 4)]
    return bool(head) and head in normalise(sentence)


def holds_quote(text: str, quote: str) -> bool:
    """Whether a text (an answer, a passage) holds a gold quote, compared as `normalise` does."""
    return normalise(quote) in normalise(text)


def auroc(positives: Sequence[float], negatives: Sequence[float]) -> float | None:
    """Probability that a random positive scores above a random negative (ties count half)."""
    if not positives or not negatives:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


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
    """The nearest-rank percentile: the smallest value with at least p% of the values at or below it."""
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))
    return ordered[index]


def percentiles(values: Sequence[float]) -> dict:
    """p50, p95 and p99 of latencies, the way every benchmark and evaluation reports them."""
    return {f"p{p}": percentile(values, p) for p in (50, 95, 99)}


def evaluate_retrieval(retriever, questions: Sequence[Question], modes: Sequence[str] = ("dense", "lexical", "hybrid"), k: int = 10) -> dict:
    """Per mode: metrics overall, per question kind and per document over the answerable questions
    (a question counts under each document of its gold), the share of questions with gold from two
    documents that get every quote in the top 5, the mean length of the top-5 passages, and latency."""
    judge = RelevanceJudge(retriever.index.chunks)
    answerable = [q for q in questions if q.answerable and q.gold]
    results: dict = {"modes": {}, "unmatched_quotes": judge.unmatched(answerable), "questions": len(questions), "answerable": len(answerable)}
    retriever.search("warm up the model", k=k)
    for mode in modes:
        retriever.embedder.clear_query_cache()  # time each mode's query encoding, not a cache hit
        per_kind: dict[str, list[dict]] = defaultdict(list)
        per_doc: dict[str, list[dict]] = defaultdict(list)
        per_source: dict[str, list[dict]] = defaultdict(list)
        per_overlap: dict[str, list[dict]] = defaultdict(list)
        latencies = []
        per_question = {}
        passage_words = []
        multi_doc = []
        for q in answerable:
            started = time.perf_counter()
            hits = retriever.search(q.query, k=k, mode=mode)
            latencies.append((time.perf_counter() - started) * 1000)
            gold_sets = [judge.chunks_for(doc, quote) for doc, quote in q.gold]
            ranked = [h.chunk.chunk_id for h in hits]
            m = score_ranking(ranked, gold_sets)
            per_kind[q.kind].append(m)
            per_kind["all"].append(m)
            for doc in q.docs:
                per_doc[doc].append(m)
            per_source[source_of(q)].append(m)
            per_overlap[overlap_band(word_overlap(q.question, [quote for _, quote in q.gold]))].append(m)
            per_question[q.id] = m | {"top5": ranked[:5]}
            passage_words.extend(len(h.chunk.text.split()) for h in hits[:5])
            if len(q.docs) > 1:
                multi_doc.append(m["recall@5"] == 1.0)
        results["modes"][mode] = {
            "metrics": {kind: {name: mean([m[name] for m in rows]) for name in METRICS} | {"n": len(rows)} for kind, rows in per_kind.items()},
            "by_doc": {doc: {name: mean([m[name] for m in rows]) for name in METRICS} | {"n": len(rows)} for doc, rows in sorted(per_doc.items())},
            "by_source": {src: {name: mean([m[name] for m in rows]) for name in METRICS} | {"n": len(rows)} for src, rows in sorted(per_source.items())},
            "by_overlap": {band: {name: mean([m[name] for m in per_overlap[band]]) for name in METRICS} | {"n": len(per_overlap[band])}
                           for band, _, _ in OVERLAP_BANDS if per_overlap[band]},
            "two_documents_in_top5": {"hit": sum(multi_doc), "n": len(multi_doc)},
            "passage_words_top5": mean(passage_words),
            "latency_ms": {"p50": percentile(latencies, 50), "p95": percentile(latencies, 95)},
            "per_question": per_question,
        }
    return results


def evaluate_coverage(answerer, questions: Sequence[Question]) -> dict:
    """Answers as an official gets them: answered when the documents cover the question, declined
    when they do not (and the balanced accuracy of the two), how well the confidence separates the
    two (AUROC), the share of answerable questions whose answer text holds a gold quote, and length."""
    rows = []
    latencies = []
    answers: dict[str, dict] = {}
    for q in questions:
        answerer.retriever.embedder.clear_query_cache()
        started = time.perf_counter()
        answer = answerer.ask(q.question, history=q.history)
        latencies.append((time.perf_counter() - started) * 1000)
        text = " ".join(s.text for s in answer.sentences) if answer.answerable else ""
        holds = any(holds_quote(text, quote) for _, quote in q.gold) if text else False
        # the answer leads with the answer: its first sentence holds a gold quote, or one that
        # straddles it and the next sentence starts in it
        first = answer.sentences[0].text if text else ""
        leads = bool(first) and any(holds_quote(first, quote) or (holds_quote(text, quote) and quote_starts_in(first, quote)) for _, quote in q.gold)
        rows.append((q, answer.answerable, answer.confidence, holds, len(text.split())))
        answers[q.id] = {"answer": text, "lacks": answer.lacks, "docs": list(dict.fromkeys(h.doc_id for h in answer.hits[:5])), "leads_with_gold": leads}
    answerable = [ok for q, ok, *_ in rows if q.answerable]
    unanswerable = [not ok for q, ok, *_ in rows if not q.answerable]
    a_acc, u_acc = mean([float(x) for x in answerable]), mean([float(x) for x in unanswerable])
    words = [n for _, ok, _, _, n in rows if ok]
    return {
        "answerable_accuracy": a_acc,
        "unanswerable_accuracy": u_acc,
        "balanced_accuracy": (a_acc + u_acc) / 2 if unanswerable else a_acc,
        "auroc": auroc([c for q, _, c, *_ in rows if q.answerable], [c for q, _, c, *_ in rows if not q.answerable]),
        "answer_holds_gold": mean([float(h) for q, _, _, h, _ in rows if q.answerable]),
        "answer_leads_with_gold": mean([float(answers[q.id]["leads_with_gold"]) for q, *_ in rows if q.answerable]),
        "answer_holds_gold_by_source": {
            src: mean([float(h) for q, _, _, h, _ in rows if q.answerable and source_of(q) == src])
            for src in sorted({source_of(q) for q, *_ in rows if q.answerable})
        },
        "answer_words": mean(words),
        "n_answerable": len(answerable),
        "n_unanswerable": len(unanswerable),
        "confidences": [(q.id, q.answerable, conf) for q, _, conf, *_ in rows],
        "per_question": {q.id: {"answered": ok, "confidence": conf, "holds_gold": h} | answers[q.id] for q, ok, conf, h, _ in rows},
        "answer_latency_ms": {"p50": percentile(latencies, 50), "p95": percentile(latencies, 95)},
    }


def question_rows(label: str, questions: Sequence[Question], retrieval: dict, coverage: dict) -> list[dict]:
    """One row per question of a set: what it asked, what the answer was and whether it held a gold
    quote, and where each search mode ranked the gold passages; for reading failures one by one
    (`python -m retrieval eval --answers FILE`)."""
    out = []
    for q in questions:
        answer = coverage["per_question"].get(q.id, {})
        ranks = {
            mode: {name: result["per_question"][q.id][name] for name in ("recall@5", "mrr@10")}
            for mode, result in retrieval["modes"].items()
            if q.id in result["per_question"]
        }
        top5 = next((result["per_question"][q.id]["top5"] for result in retrieval["modes"].values() if q.id in result["per_question"]), [])
        out.append({
            "set": label, "id": q.id, "split": q.split, "kind": q.kind, "question": q.question, "answerable": q.answerable,
            "gold": [{"doc": doc, "quote": quote} for doc, quote in q.gold],
            "word_overlap": round(word_overlap(q.question, [quote for _, quote in q.gold]), 3) if q.gold else None,
            "answered": answer.get("answered"), "confidence": answer.get("confidence"), "holds_gold": answer.get("holds_gold"),
            "leads_with_gold": answer.get("leads_with_gold"),
            "lacks": answer.get("lacks", ""), "answer": answer.get("answer", ""), "answer_docs": answer.get("docs", []),
            "ranks": ranks, "top5": top5,
        })
    return out
