"""The real project corpus (corpus/), built once per session by the `corpus_index` fixture."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retrieval.store.files import open_index
from retrieval.store.index import identity

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def index(module_corpus_index, module_embedder):
    return open_index(module_corpus_index, expected=identity(module_embedder.model_name, module_embedder.dimension, 200, 40))


def test_every_corpus_document_is_indexed(index):
    files = sorted(p.name for p in (REPO / "corpus").iterdir() if p.name != "catalogue.toml" and not p.name.startswith("."))
    assert sorted(index.documents) == files
    assert sorted(index.rows_by_doc) == files
    assert index.manifest["not_indexed"] == []
    # catalogue titles reach the index
    assert index.short_title("eu-regulation-604-2013-dublin-iii.pdf") == "Dublin III Regulation (EU) No 604/2013"


def test_chunks_are_slices_of_their_documents(index):
    assert len(index.store) == len(index.chunks) == index.manifest["chunks"]
    for chunk in index.chunks:
        assert index.documents[chunk.doc_id].text[chunk.start : chunk.end] == chunk.text


def test_stored_vectors_belong_to_their_rows(index, embedder):
    rows = np.linspace(0, len(index.chunks) - 1, 12).astype(int)
    fresh = embedder.embed([index.chunks[r].embed_text for r in rows])
    assert np.allclose(index.store.vectors(rows), fresh, atol=1e-4)
