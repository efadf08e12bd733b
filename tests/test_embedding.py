"""The two ways the model runs: ONNX Runtime (the default where installed) and torch give the same
vectors; the ONNX export is made once and cached; impossible settings are refused at once."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import tier_models

from retrieval import Embedder, ModelError
from retrieval.model.embedding import resolve_backend
from retrieval.model.onnx_encoder import OnnxUnsupported, export, int8_file, pooling_mode
from retrieval.model.quantize import smoothed

# the encoders themselves: ONNX Runtime against torch, int8, the exports, the word pieces
pytestmark = pytest.mark.real_model

#: the test tier's model (conftest.py): these tests check the two backends, not a model's quality
TEST_MODEL = tier_models(real=True)["RAG_MODEL"]  # all-MiniLM-L6-v2 (RAG_TEST_MODEL: another)

TEXTS = [
    "Integration is a dynamic, two-way process of mutual accommodation by all immigrants and residents.",
    "Member States shall ensure that beneficiaries of international protection have access to employment.",
    "Reintegration assistance",
    "The applicant shall be informed in writing, in a language he or she understands, of the decision taken "
    "and of the possibility to appeal against it within the time limits laid down in national law. " * 3,
]


@pytest.fixture(scope="module")
def torch_embedder():
    return Embedder(TEST_MODEL, backend="torch")


def test_default_backend_is_onnx_when_onnxruntime_is_installed(embedder):
    pytest.importorskip("onnxruntime")
    embedder.load()
    assert embedder.backend == "onnx"


def test_onnx_and_torch_give_the_same_vectors(embedder, torch_embedder, tmp_path):
    onnx = Embedder(TEST_MODEL, backend="onnx", cache_dir=tmp_path)
    a, b = onnx.embed(TEXTS), torch_embedder.embed(TEXTS)
    assert a.shape == b.shape == (len(TEXTS), 384)
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    assert (a * b).sum(axis=1).min() > 0.9999
    # a query too, and the long text is truncated at the same place (256 word pieces)
    assert float(onnx.embed_query(TEXTS[0]) @ torch_embedder.embed_query(TEXTS[0])) > 0.9999
    assert onnx.max_seq_length == torch_embedder.max_seq_length == 256


def test_the_export_is_made_once_and_reused(tmp_path):
    first = Embedder(TEST_MODEL, backend="onnx", cache_dir=tmp_path)
    first.load()
    files = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    assert [p.name for p in files] == ["model.onnx"]  # no temporary file left behind
    stamp = files[0].stat().st_mtime_ns
    second = Embedder(TEST_MODEL, backend="onnx", cache_dir=tmp_path)
    second.load()
    assert second.encoder.path == files[0] and files[0].stat().st_mtime_ns == stamp
    assert np.array_equal(first.embed(TEXTS[:2]), second.embed(TEXTS[:2]))


def test_a_changed_model_gets_its_own_export(tmp_path):
    model = tmp_path / "model"
    shutil.copytree(Embedder(TEST_MODEL).path, model)
    first = export(model, tmp_path / "cache")
    config = json.loads((model / "config.json").read_text())
    config["layer_norm_eps"] = 1e-6
    (model / "config.json").write_text(json.dumps(config))
    second = export(model, tmp_path / "cache")
    assert first != second and first.exists() and second.exists()


def test_int8_keeps_the_fp32_vectors_closely(torch_embedder, tmp_path):
    pytest.importorskip("onnx")
    int8 = Embedder(TEST_MODEL, backend="onnx", precision="int8", cache_dir=tmp_path)
    a, b = int8.embed(TEXTS), torch_embedder.embed(TEXTS)
    cosines = (a * b).sum(axis=1)
    assert int8.encoder.path.name == int8_file() and int8_file().startswith("model-int8-smoothed-")
    # plain dynamic quantisation of every MatMul gives 0.5-0.9 here (no VNNI); smoothed, 7-bit, the
    # down-projections in fp32: close, but not the same vectors
    assert cosines.min() > 0.99 and cosines.min() < 0.99999
    assert not [p for p in tmp_path.rglob("*") if ".tmp" in p.name or p.name.endswith(".smoothed")]


def test_int8_chosen_by_auto_that_cannot_be_made_falls_back_to_fp32(monkeypatch, tmp_path, caplog):
    from retrieval.model import embedding, onnx_encoder

    def out_of_memory(*args, **kwargs):
        raise MemoryError("quantising needs more memory than this machine has")

    monkeypatch.setattr(embedding, "cpu_has_fast_bf16", lambda: False)
    monkeypatch.setattr(onnx_encoder, "quantize", out_of_memory)
    chosen = Embedder(TEST_MODEL, precision="auto", cache_dir=tmp_path)
    assert chosen.precision == "int8"
    with caplog.at_level("WARNING"):
        vectors = chosen.embed(TEXTS[:2])
    assert chosen.precision == "fp32" and chosen.encoder.path.name == "model.onnx" and vectors.shape == (2, 384)
    assert "in int8" in caplog.text and "using fp32" in caplog.text
    # asked for by name, int8 that cannot be made is an error, not a silent fp32
    with pytest.raises(ModelError, match="quantising needs more memory"):
        Embedder(TEST_MODEL, precision="int8", cache_dir=tmp_path).embed(TEXTS[:1])


def test_smoothing_moves_outliers_into_the_weights_without_changing_the_vectors(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    fp32 = Embedder(TEST_MODEL, backend="onnx", cache_dir=tmp_path)
    encoder = fp32.encoder
    config = json.loads((Path(fp32.path) / "config.json").read_text())
    model, to_quantize = smoothed(encoder.path, encoder.tokenizer, encoder.max_seq_length, config["intermediate_size"])
    names = {n.name for n in model.graph.node}
    # six layers: q, k, v, the attention output and the up-projection smoothed; the down-projection is not
    assert len(to_quantize) == 6 * 5 and all(f"{n}/smooth" in names for n in to_quantize)
    batch = encoder.tokenizer.encode(TEXTS, encoder.max_seq_length)
    runs = []
    for graph in (str(encoder.path), model.SerializeToString()):
        session = ort.InferenceSession(graph, providers=["CPUExecutionProvider"])
        runs.append(session.run(None, {i.name: batch[i.name] for i in session.get_inputs()})[0])
    mask = batch["attention_mask"].astype(bool)
    assert np.allclose(runs[0][mask], runs[1][mask], atol=1e-3)


@pytest.mark.parametrize(("backend", "precision"), [("torch", "int8"), ("onnx", "bf16"), ("tensorflow", "fp32")])
def test_impossible_settings_are_refused_before_loading(backend, precision):
    with pytest.raises(ModelError):
        Embedder(TEST_MODEL, backend=backend, precision=precision)


def test_auto_uses_torch_for_bf16():
    assert resolve_backend("auto", "bf16") == "torch"


def test_models_onnx_cannot_reproduce_are_recognised(tmp_path):
    (tmp_path / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"},
    ]))
    with pytest.raises(OnnxUnsupported, match="Dense"):
        pooling_mode(tmp_path)
    (tmp_path / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]))
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}))
    assert pooling_mode(tmp_path) == "cls"
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_max_tokens": True}))
    with pytest.raises(OnnxUnsupported, match="max"):
        pooling_mode(tmp_path)


def test_auto_falls_back_to_torch_when_the_onnx_export_fails(monkeypatch, tmp_path, caplog):
    from retrieval.model import onnx_encoder

    def broken_export(*args, **kwargs):
        raise RuntimeError("exporter crashed (injected)")

    monkeypatch.setattr(onnx_encoder, "export", broken_export)
    auto = Embedder(TEST_MODEL, backend="auto", cache_dir=tmp_path)
    assert auto.embed(TEXTS[:1]).shape == (1, 384)
    assert auto.backend == "torch" and "exporter crashed" in caplog.text
    with pytest.raises(ModelError, match="exporter crashed"):
        Embedder(TEST_MODEL, backend="onnx", cache_dir=tmp_path).load()


def test_a_failed_export_leaves_no_file_behind(tmp_path):
    from retrieval.model.onnx_encoder import _temporary

    target = tmp_path / "model.onnx"
    with pytest.raises(RuntimeError), _temporary(target) as tmp:
        tmp.write_bytes(b"half an export")
        raise RuntimeError("killed mid-export")
    assert list(tmp_path.iterdir()) == []
    with _temporary(target) as tmp:
        tmp.write_bytes(b"a whole export")
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"] and target.read_bytes() == b"a whole export"


def test_word_pieces_match_transformers_on_the_whole_corpus(corpus_index, embedder):
    """The tokenizers-based counts and model inputs are those of transformers' AutoTokenizer."""
    from transformers import AutoTokenizer

    from retrieval.build.vectors import sentence_table
    from retrieval.store.files import open_index

    index = open_index(corpus_index)
    _, sentences = sentence_table(index.chunks)
    texts = [c.embed_text for c in index.chunks] + sentences + ["", "naïve café – “quoted” 1951/1967 Art. 4(2)(b)", "word " * 400]
    auto = AutoTokenizer.from_pretrained(embedder.path, local_files_only=True)
    ours = embedder.tokenizer
    assert ours.count(texts) == [len(ids) for ids in auto(texts, add_special_tokens=False, truncation=False)["input_ids"]]
    assert ours.count(texts[:50], special_tokens=True) == [len(ids) for ids in auto(texts[:50])["input_ids"]]
    for start in range(0, 64, 16):  # a long text in the batch: truncated at 256, the rest padded to it
        batch = texts[start : start + 16] + [texts[-1]]
        mine = ours.encode(batch, 256)
        theirs = auto(batch, padding=True, truncation=True, max_length=256, return_tensors="np")
        for name in ("input_ids", "attention_mask", "token_type_ids"):
            assert np.array_equal(mine[name], theirs[name]), name
