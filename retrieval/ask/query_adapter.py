"""Learned query adapters: the question's vector moved towards the passages (or sentences) that answer
questions put that way, before the dense and best-sentence searches rank passages by it.

Officials ask in their own words ("how long is too long for a consulate ...") and the documents
answer in theirs ("as quickly as possible ... should not exceed ..."): the encoder places the two
apart. The adapter is a low-rank linear map learnt from questions whose answering passages are
known, the blind sets' dev splits (`python -m retrieval.evaluation.fit_adapter`, run by `make
fit-answers`): q' = normalise(q + q U V), with U and V of rank 32, fitted so that each dev question's
gold passages come first among every passage of the evaluation corpus ("passages", for the passage
model's vectors) or its gold sentences among every sentence ("sentences", for the sentence model's). It
is applied to the question only, so nothing is re-embedded and an index need not be rebuilt.

It changes the rankings only: the dense and best-sentence scores a hit reports are still the plain
question's cosines, the similarities the answer models weigh and the page shows. An adapter is kept
per model and kind (its file names both); a model without one (a local folder; all-MiniLM-L6-v2 as the
passage model) searches with the plain question, as does RAG_QUERY_ADAPTER=off.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.store.index import Index, sentence_dimension_of, sentence_model_of

#: where the adapters are kept: query_adapter.<model>.<kind>.npz beside this module
ADAPTER_DIR = Path(__file__).parent
#: what an adapter ranks: passages (by the passage model's vectors) or sentences (the sentence model's)
KINDS = ("passages", "sentences")


def adapter_path(model: str, kind: str = "passages", directory: Path | None = None) -> Path:
    if kind not in KINDS:
        raise ValueError(f"an adapter ranks one of {', '.join(KINDS)}, not {kind!r}")
    return Path(directory or ADAPTER_DIR) / f"query_adapter.{model}.{kind}.npz"


@dataclass(frozen=True)
class QueryAdapter:
    """q -> normalise(q + (q @ u) @ v): u is (dimension, rank), v is (rank, dimension)."""

    u: np.ndarray
    v: np.ndarray
    #: what it was fitted on and what it measured there, as written by the fit
    about: dict

    @property
    def dimension(self) -> int:
        return int(self.u.shape[0])

    def adapt(self, vector: np.ndarray) -> np.ndarray:
        vector = np.asarray(vector, dtype=np.float32)
        moved = vector + (vector @ self.u) @ self.v
        norm = float(np.linalg.norm(moved))
        return (moved / norm).astype(np.float32) if norm > 0 else vector

    def save(self, path: Path) -> None:
        with open(path, "wb") as f:  # np.savez_compressed would add ".npz" to a path lacking it
            np.savez_compressed(f, u=self.u.astype(np.float32), v=self.v.astype(np.float32), about=np.array(json.dumps(self.about, sort_keys=True)))

    @classmethod
    def load(cls, path: Path) -> QueryAdapter:
        with np.load(path, allow_pickle=False) as data:
            u, v, about = data["u"], data["v"], json.loads(str(data["about"]))
        if u.ndim != 2 or v.shape != (u.shape[1], u.shape[0]):
            raise ValueError(f"{path}: u {u.shape} and v {v.shape} are not a low-rank map of one dimension")
        return cls(u.astype(np.float32), v.astype(np.float32), about)


def adapter_for(model: str, dimension: int, kind: str = "passages", directory: Path | None = None) -> QueryAdapter | None:
    """The adapter fitted for this model, vector size and kind, or None where there is none."""
    path = adapter_path(model, kind, directory)
    if not path.is_file():
        return None
    adapter = QueryAdapter.load(path)
    return adapter if adapter.dimension == dimension else None


def adapters_of(index: Index) -> dict[str, QueryAdapter | None]:
    """The adapters fitted for an index's passage model and its sentence model, by kind (None where there is none)."""
    return {"passages": adapter_for(index.model, index.store.dimension, "passages"),
            "sentences": adapter_for(sentence_model_of(index.manifest), sentence_dimension_of(index.manifest), "sentences")}

