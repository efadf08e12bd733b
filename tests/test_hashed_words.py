"""The logic tier's small encoder, hashed-words: deterministic, normalised, word overlap scores higher,
and selected by its name like any model (the build records it; search and answers run on it)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from retrieval import Embedder
from retrieval.model import hashed_words

TEXTS = [
    "The municipality offers free language courses to newly arrived refugees.",
    "Newly arrived refugees can attend language courses offered by the municipality, free of charge.",
    "A transfer under the Dublin Regulation must take place within six months.",
    "?!?",
    "",
]


@pytest.fixture(scope="module")
def small() -> Embedder:
    return Embedder(hashed_words.NAME, sentence_model=hashed_words.NAME)


def test_vectors_are_normalised_and_of_the_fixed_dimension(small):
    vectors = small.embed(TEXTS)
    assert vectors.shape == (len(TEXTS), hashed_words.DIMENSION) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    assert small.dimension == small.sentence_dimension == hashed_words.DIMENSION


def test_the_same_text_gives_the_same_vector_in_another_process(small):
    code = ("import json, sys; from retrieval.model.hashed_words import HashedWordsEncoder; "
            "print(json.dumps(HashedWordsEncoder().encode(json.loads(sys.argv[1])).tolist()))")
    # another process has another str hash salt: the buckets must not depend on it
    env = {"PYTHONHASHSEED": "12345", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", code, json.dumps(TEXTS)], check=True, capture_output=True, text=True, env=env,
                          cwd=hashed_words.__file__.rsplit("/retrieval/", 1)[0])
    assert np.array_equal(np.array(json.loads(done.stdout), dtype=np.float32), small.embed(TEXTS))


def test_texts_that_share_words_score_higher_than_texts_that_share_none(small):
    courses, paraphrase, dublin, *_ = small.embed(TEXTS)
    assert courses @ paraphrase > 0.7
    assert courses @ dublin < hashed_words.SHARED + 0.15
    question = small.embed_query("Do refugees get language courses?")
    assert question @ courses > question @ dublin + 0.2
    # stemmed: a word's other forms count as the word
    assert small.embed_query("transferring within six months") @ dublin > small.embed_query("transferring") @ dublin > question @ dublin


def test_a_text_with_no_words_still_gets_a_unit_vector_of_its_own(small):
    nothing, empty = small.embed(TEXTS[3:])
    assert nothing @ empty < 0.99
    assert np.array_equal(small.embed_query("?!?"), nothing)


def test_selected_by_name_it_loads_no_model_and_counts_word_pieces_as_minilm(small):
    assert small.model_name == small.sentence_model_name == "hashed-words" and small.sentences is None
    assert isinstance(small.encoder, hashed_words.HashedWordsEncoder)
    minilm = Embedder("all-MiniLM-L6-v2")
    assert small.count_tokens(TEXTS) == minilm.count_tokens(TEXTS)
    assert minilm._encoder is None  # counting loaded its tokenizer only


def test_an_index_built_on_it_records_it_and_answers_from_it(tmp_path, small):
    from retrieval import Answerer, Retriever, Settings, build_index
    from retrieval.store.files import open_index

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "courses.md").write_text("# Courses\n\n" + TEXTS[0] + " Courses start within three months of arrival.\n")
    (corpus / "dublin.md").write_text("# Transfers\n\n" + TEXTS[2] + "\n")
    settings = Settings.from_env(corpus_dir=corpus, index_dir=tmp_path / "index", model="hashed-words", sentence_model="hashed-words")
    build_index(settings, embedder=small, progress=False)
    manifest = open_index(settings.index_dir).manifest
    assert (manifest["model"], manifest["dimension"]) == ("hashed-words", hashed_words.DIMENSION)
    assert (manifest["sentence_model"], manifest["sentence_dimension"]) == ("hashed-words", hashed_words.DIMENSION)
    answer = Answerer(Retriever.open(settings, embedder=small)).ask("When do the language courses for refugees start?")
    assert answer.answerable and answer.citations[0].doc == "courses.md"
    assert any("three months" in s.text for s in answer.sentences)
