"""How an answer weighs its evidence: two small learned linear models over signals the index already
holds, instead of hand-set bonuses and penalties.

- Which sentence answers: each candidate sentence of the top passages gets a score from its
  similarity to the question, plain and with the question moved by the sentences' query adapter
  (query_adapter.py: learnt from the dev questions' gold sentences), the share of the question's rare terms it holds, whether it gives the
  kind of answer asked for (a figure, a date), its passage's rank and fused score, how much it only
  restates the question, and its length. The best-scored sentence leads the answer.
- Whether the documents answer at all: the answer's confidence is the probability, from the
  similarity of its best sentence and passages, its lexical match, and whether the names, the figure
  or the countries asked about are missing, that the documents answer the question. The model
  learnt from near-topic questions, so a question far from every passage (its best sentence or
  passage less similar than nearly every answerable dev question's) is declined before it.

Both are fitted on the dev splits of the two blind sets (`python -m retrieval.evaluation.fit`; the
coefficients, what they were fitted on and what they score are in answer_weights.json), the
confidence as a logistic regression, the sentence model as a conditional logit: it learns to put a
question's gold sentence first among that question's candidates, which is how the answer uses it.
The dev splits only: the test splits report.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

WEIGHTS_FILE = Path(__file__).with_name("answer_weights.json")

#: the signals of a candidate sentence, in the order of the weights
SENTENCE_FEATURES = ("similarity", "adapted_similarity", "gives_kind", "passage_rank", "passage_dense", "passage_fused", "rare_terms", "novelty", "log_words")
#: the signals of a whole answer
#: (what kind of answer a question asks for is not one: the blind sets' unanswerable questions ask
#: for figures more often than their answerable ones, and with it the team's set lost answers it has
#: evidence for, AUROC 0.966 -> 0.907; nor how many of the top passages one document holds)
COVERAGE_FEATURES = (
    "best_similarity", "top_dense", "max_dense", "log_lexical", "missing_names", "missing_figure",
    "tells_a_case", "log_terms", "names_none_asked",
)


@dataclass(frozen=True)
class LinearModel:
    """A linear model over named features: score = weights . x + bias."""

    features: tuple[str, ...]
    weights: np.ndarray
    bias: float

    def scores(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(rows, dtype=np.float64) @ self.weights + self.bias

    def probability(self, row: np.ndarray) -> float:
        return 1.0 / (1.0 + math.exp(-float(self.scores(np.asarray(row)[None, :])[0])))

    def as_json(self) -> dict:
        return {"features": list(self.features), "weights": [round(float(w), 6) for w in self.weights], "bias": round(float(self.bias), 6)}

    @classmethod
    def from_json(cls, row: dict, expected: tuple[str, ...], source: str = WEIGHTS_FILE.name) -> LinearModel:
        if tuple(row["features"]) != expected:
            raise ValueError(f"{source}: features {row['features']} are not {list(expected)}")
        return cls(expected, np.asarray(row["weights"], dtype=np.float64), float(row["bias"]))


@dataclass(frozen=True)
class Weights:
    sentence: LinearModel
    coverage: LinearModel
    #: the confidence below which a question counts as not covered
    threshold: float
    #: a question whose best sentence or best passage is less similar than these is far from every
    #: passage: declined before it is weighed (the coverage model learnt from near-topic questions)
    similarity_floor: float = 0.0
    dense_floor: float = 0.0

    def confidence(self, coverage: np.ndarray) -> float:
        """The probability that the documents answer, from an answer's signals (COVERAGE_FEATURES);
        for a question far from every passage, below the threshold by how far it is."""
        probability = self.coverage.probability(coverage)
        similarity = float(coverage[COVERAGE_FEATURES.index("best_similarity")])
        dense = float(coverage[COVERAGE_FEATURES.index("max_dense")])
        closeness = min(similarity / self.similarity_floor if self.similarity_floor else 1.0, dense / self.dense_floor if self.dense_floor else 1.0)
        if closeness < 1.0:
            return min(probability, self.threshold * max(0.0, closeness))
        return probability


def load_weights(path: Path = WEIGHTS_FILE) -> Weights:
    row = json.loads(Path(path).read_text(encoding="utf-8"))
    return Weights(
        LinearModel.from_json(row["sentence"], SENTENCE_FEATURES, str(path)),
        LinearModel.from_json(row["coverage"], COVERAGE_FEATURES, str(path)),
        float(row["threshold"]),
        float(row.get("similarity_floor", 0.0)),
        float(row.get("dense_floor", 0.0)),
    )


def signal_row(signals: dict[str, float], names: tuple[str, ...]) -> np.ndarray:
    """Named signals in the order a model's weights take them (a name missing is a KeyError, not a shift)."""
    return np.array([signals[name] for name in names], dtype=np.float64)


def rare_term_share(sentence_terms: set[str], question_terms: set[str], idf: dict[str, float]) -> float:
    """The share of the question's terms a sentence holds, each weighted by its inverse document frequency."""
    total = sum(idf.get(t, 0.0) for t in question_terms)
    if not total:
        return 0.0
    return sum(idf.get(t, 0.0) for t in question_terms & sentence_terms) / total


def inverse_document_frequency(document_frequency: int, documents: int) -> float:
    return math.log(1 + max(1, documents) / (1 + document_frequency))
