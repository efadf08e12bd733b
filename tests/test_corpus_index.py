"""The real project corpus (corpus/), built once per session by the `corpus_index` fixture."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retrieval.store.files import open_index
from retrieval.store.index import identity

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def index(corpus_index):
    return open_index(corpus_index, expected=identity("all-MiniLM-L6-v2", 384, 200, 40))


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


def test_a_known_passage_is_found_with_its_section_and_page(index, embedder):
    query = "Member States shall examine any application for international protection by a third-country national or a stateless person"
    _, rows = index.store.search(embedder.embed_query(query), 5)
    hits = [index.chunks[int(r)] for r in rows[0]]
    top = hits[0]
    assert top.doc_id == "eu-regulation-604-2013-dublin-iii.pdf"
    assert top.section == "CHAPTER II GENERAL PRINCIPLES AND SAFEGUARDS > Article 3 Access to the procedure for examining an application for international protection"
    assert top.page_start == 7
