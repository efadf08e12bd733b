"""The vector store at scale: exact below the threshold, IVF above it; filters stay exact; a saved
IVF store loads with its rows readable; an incremental build reuses the trained lists."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np
import pytest

from retrieval import Retriever, Settings
from retrieval.store import vectors as store_module
from retrieval.store.vectors import FaissStore, ivf_lists

# the stores on the real model's vectors of the corpus: their spread decides what IVF finds
pytestmark = pytest.mark.real_model

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def real_vectors(module_corpus_index):
    """Real chunk and sentence vectors of the project corpus (about 6,000)."""
    from retrieval.store.files import open_index

    index = open_index(module_corpus_index)
    return np.vstack([index.store.vectors(), np.asarray(index.sentence_vectors)])


@pytest.fixture(scope="module")
def queries(module_embedder):
    return module_embedder.embed([
        "What are the three dimensions of integration policies?",
        "Which Member State examines an application when the applicant holds a visa?",
        "How are returning migrants helped to find work?",
        "What rights do refugees have to public education?",
    ])


def test_small_stores_are_exact_and_large_ones_approximate(real_vectors):
    exact = FaissStore.from_vectors(real_vectors, 384)
    assert not exact.approximate and exact.describe().startswith("exact")
    ivf = FaissStore.from_vectors(real_vectors, 384, approximate_from=1000)
    assert ivf.approximate and f"{ivf_lists(len(real_vectors))} lists" in ivf.describe()
    assert len(ivf) == len(real_vectors)


def test_ivf_finds_most_of_the_exact_neighbours_and_exact_mode_finds_all(real_vectors, queries):
    exact = FaissStore.from_vectors(real_vectors, 384)
    ivf = FaissStore.from_vectors(real_vectors, 384, approximate_from=1000)
    _, truth = exact.search(queries, 10)
    _, approx = ivf.search(queries, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(approx, truth)])
    assert recall >= 0.8
    _, full = ivf.search(queries, 10, exact=True)
    assert [set(r) for r in full] == [set(r) for r in truth]


def test_a_filtered_search_is_exact_even_on_ivf(real_vectors, queries):
    ivf = FaissStore.from_vectors(real_vectors, 384, approximate_from=1000)
    allowed = np.arange(3000, 3400)
    scores, rows = ivf.search(queries, 5, allowed)
    for q, got_rows, got_scores in zip(queries, rows, scores):
        exact = np.sort(real_vectors[allowed] @ q)[::-1][:5]
        assert set(got_rows) <= set(allowed.tolist())
        # the exact top 5 by score; passages with equal vectors (overlapping chunks) may swap places
        assert np.allclose(got_scores, exact, atol=1e-5)
        assert np.allclose(real_vectors[got_rows] @ q, got_scores, atol=1e-5)


def test_ivf_store_saves_loads_and_reads_rows_back(real_vectors, tmp_path):
    ivf = FaissStore.from_vectors(real_vectors, 384, approximate_from=1000)
    ivf.save(tmp_path)
    loaded = FaissStore.load(tmp_path)
    assert loaded.approximate and loaded.describe() == ivf.describe()
    assert np.allclose(loaded.vectors(), real_vectors, atol=1e-6)
    assert np.allclose(loaded.vectors(np.array([7, 4000])), real_vectors[[7, 4000]], atol=1e-6)


def centroids(store: FaissStore) -> np.ndarray:
    return faiss.downcast_index(store._ivf.quantizer).reconstruct_n(0, store._ivf.nlist)


def test_a_store_of_similar_size_reuses_the_trained_lists(real_vectors):
    first = FaissStore.from_vectors(real_vectors[:5000], 384, approximate_from=1000)
    grown = FaissStore.from_vectors(real_vectors, 384, previous=first, approximate_from=1000)
    assert np.array_equal(centroids(first), centroids(grown)) and len(grown) == len(real_vectors)
    tiny = FaissStore.from_vectors(real_vectors[:1500], 384, approximate_from=1000)
    retrained = FaissStore.from_vectors(real_vectors, 384, previous=tiny, approximate_from=1000)
    assert retrained._ivf.nlist == ivf_lists(len(real_vectors)) != tiny._ivf.nlist


def test_a_built_index_above_the_threshold_searches_through_ivf(corpus_index, embedder, tmp_path, monkeypatch):
    """The whole path: a build over the threshold writes an IVF store (here a rebuild of the corpus
    index, which reuses every vector), and hybrid search and the document filter work through it."""
    import shutil

    from retrieval import build_index
    from retrieval.store.files import open_index

    monkeypatch.setattr(store_module, "APPROXIMATE_FROM", 500)
    settings = Settings.from_env(corpus_dir=REPO / "corpus", index_dir=tmp_path / "index")
    shutil.copytree(corpus_index, settings.index_dir)
    report = build_index(settings, embedder=embedder, progress=False)
    assert report.embedded == 0
    index = open_index(settings.index_dir)
    assert index.store.approximate and index.manifest["store"].startswith("approximate")
    retriever = Retriever(index, embedder)
    hits = retriever.search("What are the three dimensions of integration policies?", k=5)
    assert hits[0].doc_id == "budapest-process-integration-reintegration-2016.md"
    only = retriever.search("reintegration assistance", k=5, docs=["interact-expert-survey-2015.md"])
    assert only and {h.doc_id for h in only} == {"interact-expert-survey-2015.md"}
