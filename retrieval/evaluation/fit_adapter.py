"""Fit the query adapters (retrieval/ask/query_adapter.py) on the dev splits of the blind sets and write
them beside that module: `python -m retrieval.evaluation.fit_adapter --index .cache/eval-index`, the
first step of `make fit-answers`. The test splits are never read here; `make eval-blind` reports them.

Each answerable dev question whose gold quotes are all found in the index is one example. For the
passages' adapter: its plain vector from the passage model, and the rows of the passages holding its
gold quotes. For the sentences' adapter: its vector from the sentence model, and the sentences of those
passages that hold, start or lie within a gold quote. The adapter q' = normalise(q + q U V) is fitted
so that the softmax over every passage's (or sentence's) cosine with q' (at TEMPERATURE) puts its mass
on those, with an L2 penalty on U V that keeps it near the identity. The rank, penalty and steps were chosen by five-fold cross-validation on dev: dense Recall@5
on the held-out folds rose by 0.10 to 0.11 at rank 32 and penalty 0.1 (rank 32 or full, penalty 0.001 /
0.01 / 0.1, 100 or 300 steps; the weakest penalty lowered it, -0.13 to +0.03). The fit prints that
estimate again for what it writes. The sentences' adapter takes the same settings, not tuned again.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from retrieval.ask.query_adapter import QueryAdapter, adapter_path
from retrieval.ask.search import Retriever
from retrieval.config import Settings
from retrieval.evaluation.evaluate import Question, RelevanceJudge, holds_quote, quote_starts_in
from retrieval.evaluation.fit import FIT_SETS, dev_questions
from retrieval.store.index import sentence_model_of

ADAPTER_RANK = 32
PENALTY = 0.1
TEMPERATURE = 0.05
STEPS = 100
LEARNING_RATE = 0.01
FOLDS = 5


def examples(retriever: Retriever, questions: list[Question]) -> tuple[list[Question], list[list[int]]]:
    """The answerable questions whose every gold quote is in some passage, and those passages' rows."""
    judge = RelevanceJudge(retriever.index.chunks)
    kept, gold = [], []
    for q in questions:
        sets = [judge.chunks_for(doc, quote) for doc, quote in q.gold]
        if q.answerable and sets and all(sets):
            kept.append(q)
            gold.append(sorted({retriever.index.row_of[c] for s in sets for c in s}))
    return kept, gold


def gold_sentences(retriever: Retriever, question: Question, rows: list[int]) -> list[int]:
    """The sentences of these passages that hold or start a gold quote, or (a sentence of over 30
    characters) lie within one: a quote may run over several sentences."""
    index = retriever.index
    out = []
    for row in rows:
        for i in index.sentences_of(row):
            text = index.sentence_text(i)
            if any(holds_quote(text, quote) or quote_starts_in(text, quote) or (len(text) > 30 and holds_quote(quote, text)) for _, quote in question.gold):
                out.append(i)
    return out


def fit_adapter(passages: np.ndarray, queries: np.ndarray, gold: list[list[int]], rank: int = ADAPTER_RANK, penalty: float = PENALTY,
                temperature: float = TEMPERATURE, steps: int = STEPS, learning_rate: float = LEARNING_RATE, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(U, V) minimising the mean over questions of -log(softmax mass on its gold passages) + penalty * |U V|^2."""
    import torch

    torch.manual_seed(seed)
    p = torch.as_tensor(np.array(passages, dtype=np.float32))  # a copy: a memory-mapped array is read-only
    q = torch.as_tensor(np.asarray(queries, dtype=np.float32))
    dimension = p.shape[1]
    u = (torch.randn(dimension, rank) * 1e-3).requires_grad_()
    v = torch.zeros(rank, dimension, requires_grad=True)
    mask = torch.zeros(len(gold), len(p), dtype=torch.bool)
    for i, rows in enumerate(gold):
        mask[i, rows] = True
    optimiser = torch.optim.Adam([u, v], lr=learning_rate)
    for _ in range(steps):
        optimiser.zero_grad()
        moved = q + (q @ u) @ v
        logits = (moved / moved.norm(dim=1, keepdim=True)) @ p.T / temperature
        loss = (torch.logsumexp(logits, 1) - torch.logsumexp(logits.masked_fill(~mask, -1e9), 1)).mean() + penalty * ((u @ v) ** 2).sum()
        loss.backward()
        optimiser.step()
    return u.detach().numpy().copy(), v.detach().numpy().copy()


def recall_at_5(passages: np.ndarray, queries: np.ndarray, gold: list[list[int]]) -> float:
    """The share of questions with a gold passage among the five most similar (dense ranking alone)."""
    top = np.argsort(-(np.asarray(queries) @ np.asarray(passages).T), axis=1)[:, :5]
    return float(np.mean([bool(set(rows) & set(t.tolist())) for rows, t in zip(gold, top)]))


def adapted(queries: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    moved = queries + (queries @ u) @ v
    return moved / np.linalg.norm(moved, axis=1, keepdims=True)


def cross_validated_gain(passages: np.ndarray, queries: np.ndarray, gold: list[list[int]], folds: int = FOLDS) -> float:
    """Dense Recall@5 on each held-out fold with the adapter fitted on the others, minus the plain question's."""
    gains = []
    for part in folds_of(len(gold), folds):
        held = set(part.tolist())
        train = [i for i in range(len(gold)) if i not in held]
        u, v = fit_adapter(passages, queries[train], [gold[i] for i in train])
        held_gold = [gold[i] for i in part]
        gains.append(len(part) * (recall_at_5(passages, adapted(queries[part], u, v), held_gold) - recall_at_5(passages, queries[part], held_gold)))
    return float(sum(gains) / len(gold))


def folds_of(n: int, folds: int = FOLDS) -> list[np.ndarray]:
    """The cross-validation folds over n examples (the same split every run)."""
    return np.array_split(np.random.default_rng(0).permutation(n), folds)


def out_of_fold_adapters(retriever: Retriever, questions: list[Question], folds: int = FOLDS) -> dict[tuple[str, str], tuple[QueryAdapter, QueryAdapter]]:
    """For each answerable question that the adapters learn from: the two adapters fitted without its
    fold, so that the answer models (fit.py) are fitted on retrieval as a question the adapters never
    saw meets it. Fitted on the adapters' own examples, a question's passages come first almost always
    (dev Recall@5 0.97), and the answer models would learn to trust a ranking that test questions do
    not get."""
    def fitted_without(ex: Examples, held: set) -> QueryAdapter:
        train = [i for i, q in enumerate(ex.questions) if (q.id, q.question) not in held]
        return QueryAdapter(*fit_adapter(ex.targets, ex.queries[train], [ex.gold[i] for i in train]), {"fold": "out"})

    passages, sentences = training_examples(retriever, questions)
    out = {}
    for part in folds_of(len(passages.gold), folds):
        held = {(passages.questions[i].id, passages.questions[i].question) for i in part}
        adapters = (fitted_without(passages, held), fitted_without(sentences, held))
        out.update(dict.fromkeys(held, adapters))
    return out


@dataclass(frozen=True)
class Examples:
    """What one adapter learns from: the vectors it ranks, each question's vector and the rows of its gold ones."""

    kind: str
    model: str
    targets: np.ndarray
    queries: np.ndarray
    gold: list[list[int]]
    questions: list[Question]


def training_examples(retriever: Retriever, questions: list[Question]) -> tuple[Examples, Examples]:
    """The passages' adapter's examples and the sentences' (the questions with a gold sentence)."""
    index = retriever.index
    kept, gold = examples(retriever, questions)
    texts = [" ".join(q.question.split()) for q in kept]
    passages = Examples("passages", index.model, np.asarray(index.store.vectors(), dtype=np.float32),
                        np.stack([retriever.embedder.embed_query(t) for t in texts]), gold, kept)
    sentences = [gold_sentences(retriever, q, rows) for q, rows in zip(kept, gold)]
    with_sentences = [i for i, found in enumerate(sentences) if found]
    return passages, Examples("sentences", sentence_model_of(index.manifest), np.array(index.sentence_vectors, dtype=np.float32),
                              np.stack([retriever.embedder.embed_query(texts[i], kind="sentence") for i in with_sentences]),
                              [sentences[i] for i in with_sentences], [kept[i] for i in with_sentences])


def fit_and_write(examples: Examples, directory: Path | None, out) -> None:
    kind, model, targets, queries, gold = examples.kind, examples.model, examples.targets, examples.queries, examples.gold
    print(f"{kind} ({model}): {len(gold)} dev questions, {len(targets)} {kind}; fitting rank {ADAPTER_RANK} ...", file=out, flush=True)
    gain = cross_validated_gain(targets, queries, gold)
    u, v = fit_adapter(targets, queries, gold)
    before, after = recall_at_5(targets, queries, gold), recall_at_5(targets, adapted(queries, u, v), gold)
    about = {
        "model": model, "kind": kind, "fitted_on": [f"{Path(p).name} (dev)" for p in FIT_SETS], "questions": len(gold), kind: len(targets),
        "date": date.today().isoformat(), "rank": ADAPTER_RANK, "penalty": PENALTY, "temperature": TEMPERATURE, "steps": STEPS,
        "dev_recall_at_5": {"plain": round(before, 3), "adapted": round(after, 3), "cross_validated_gain": round(gain, 3)},
    }
    path = adapter_path(model, kind, directory)
    QueryAdapter(u, v, about).save(path)
    print(f"  Recall@5 of the {kind} alone on dev {before:.3f} -> {after:.3f} (fitted on them); on held-out folds {gain:+.3f}; written to {path}", file=out)


def main(argv: list[str] | None = None, out=sys.stdout) -> int:
    parser = argparse.ArgumentParser(prog="python -m retrieval.evaluation.fit_adapter", description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, default=Path(".cache/eval-index"), help="an index of the blind sets' documents (make eval-blind builds it)")
    parser.add_argument("--out-dir", type=Path, default=None, help="where to write the adapters (default: beside query_adapter.py, where searches read them)")
    args = parser.parse_args(argv)
    retriever = Retriever.open(Settings.from_env(index_dir=args.index, query_adapter=False))
    for examples_of_kind in training_examples(retriever, dev_questions(retriever.index.rows_by_doc)):
        fit_and_write(examples_of_kind, args.out_dir, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
