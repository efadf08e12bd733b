"""The sentence-transformers model run by ONNX Runtime: the same vectors as torch, about 1.6x faster.

The transformer is exported once from the local weights (no download) into a cache folder, keyed by
the content of the weights and config, and reused by every later process. Pooling and normalising are
done here in NumPy, exactly as the model's sentence-transformers modules do them. Measured on this
corpus (docs/benchmarks.md): cosine to the torch vectors >= 0.99999, so an index built by either
backend can be queried by the other.

`precision="int8"` runs smoothed int8 weights (retrieval.model.quantize): 1.3-1.4x faster on two
cores, vectors at cosine >= 0.996 to fp32 on real passages (docs/benchmarks.md, "Encoders").
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from retrieval.model.quantize import quantize, recipe_digest

#: bump when the export changes in a way that changes the graph, so old cached exports are not reused
EXPORT_VERSION = 1
#: the sentence-transformers modules this runner reproduces; a model with others (Dense layers, ...) runs on torch
SUPPORTED_MODULES = {"sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling", "sentence_transformers.models.Normalize"}


class OnnxUnsupported(Exception):
    """This model, or this machine, cannot run on ONNX Runtime; the caller may fall back to torch."""


def onnxruntime_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("onnxruntime") is not None


def pooling_mode(model_path: Path) -> str:
    """'mean' or 'cls', read from the model's modules; OnnxUnsupported for anything else."""
    modules_file = model_path / "modules.json"
    if not modules_file.exists():
        return "mean"  # a plain transformers folder: sentence-transformers adds mean pooling
    modules = json.loads(modules_file.read_text())
    unknown = {m["type"] for m in modules} - SUPPORTED_MODULES
    if unknown:
        raise OnnxUnsupported(f"modules {sorted(unknown)} are not reproduced on ONNX Runtime")
    pooling = next((m for m in modules if m["type"].endswith(".Pooling")), None)
    if pooling is None:
        raise OnnxUnsupported("the model has no pooling module")
    config = json.loads((model_path / pooling["path"] / "config.json").read_text())
    modes = [k for k, v in config.items() if k.startswith("pooling_mode_") and v]
    if modes == ["pooling_mode_mean_tokens"]:
        return "mean"
    if modes == ["pooling_mode_cls_token"]:
        return "cls"
    raise OnnxUnsupported(f"pooling {modes} is not reproduced on ONNX Runtime")


def weights_digest(model_path: Path) -> str:
    """A short hash of what determines the exported graph: weights, config, exporter version."""
    digest = hashlib.sha256(f"export-v{EXPORT_VERSION}".encode())
    weights = sorted([*model_path.glob("*.safetensors"), *model_path.glob("*.bin")])
    for path in [model_path / "config.json", *weights]:
        if path.exists():
            with path.open("rb") as f:
                digest.update(path.name.encode())
                digest.update(hashlib.file_digest(f, "sha256").digest())
    return digest.hexdigest()[:16]


def int8_file() -> str:
    """The int8 file's name: a new one whenever the quantisation's recipe or calibration text changes."""
    return f"model-int8-smoothed-{recipe_digest()}.onnx"


def export(model_path: Path, cache_dir: Path, precision: str = "fp32", tokenizer=None, max_length: int = 128) -> Path:
    """The cached ONNX file for this model and precision, exported (and quantised) on first use;
    int8 needs the model's `tokenizer` to read its calibration text.

    Written to a temporary name and renamed, so a process that dies mid-export, or two that export
    at once, never leave a broken file under the final name."""
    folder = Path(cache_dir) / "onnx" / f"{model_path.name}-{weights_digest(model_path)}"
    fp32 = folder / "model.onnx"
    target = fp32 if precision == "fp32" else folder / (int8_file() if precision == "int8" else f"model-{precision}.onnx")
    if target.exists():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    if not fp32.exists():
        _export_fp32(model_path, fp32)
    if precision == "int8":
        intermediate_size = json.loads((model_path / "config.json").read_text()).get("intermediate_size")
        with _temporary(target) as tmp:
            quantize(fp32, tmp, tokenizer, max_length, intermediate_size)
    return target


@contextmanager
def _temporary(target: Path):
    """A temporary path beside `target`, renamed to it on success and removed on failure."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _export_fp32(model_path: Path, target: Path) -> None:
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path, local_files_only=True)
    model = AutoModel.from_pretrained(model_path, local_files_only=True).eval()
    names = list(tokenizer.model_input_names)
    sample = tokenizer(["an example sentence", "a second, longer example sentence to export with"], padding=True, return_tensors="pt")

    class LastHiddenState(torch.nn.Module):
        def __init__(self, inner) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *inputs):
            return self.inner(**dict(zip(names, inputs))).last_hidden_state

    dynamic = {n: {0: "batch", 1: "sequence"} for n in [*names, "last_hidden_state"]}
    with _temporary(target) as tmp, warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        # dynamo=False: the TorchScript exporter needs no onnxscript and exports this model in ~1 s
        torch.onnx.export(LastHiddenState(model), tuple(sample[n] for n in names), str(tmp), input_names=names,
                          output_names=["last_hidden_state"], dynamic_axes=dynamic, opset_version=17, dynamo=False)


class OnnxEncoder:
    """Normalised sentence vectors from an exported model; thread-safe (ONNX Runtime sessions are)."""

    def __init__(self, model_path: str | Path, tokenizer, cache_dir: Path, precision: str = "fp32", batch_size: int = 32, threads: int | None = None) -> None:
        if not onnxruntime_available():
            raise OnnxUnsupported("onnxruntime is not installed")
        import onnxruntime as ort

        model_path = Path(model_path)
        self.pooling = pooling_mode(model_path)
        config = json.loads((model_path / "config.json").read_text())
        self.dimension = int(config["hidden_size"])
        st_config = model_path / "sentence_bert_config.json"
        limit = json.loads(st_config.read_text()).get("max_seq_length") if st_config.exists() else None
        self.max_seq_length = int(limit or min(tokenizer.model_max_length, config.get("max_position_embeddings", 512)))
        self.tokenizer = tokenizer  # retrieval.model.wordpieces.WordPieces
        self.batch_size = batch_size
        self.path = export(model_path, cache_dir, precision, tokenizer, self.max_seq_length)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or len(os.sched_getaffinity(0))
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # idle threads sleep instead of spinning, so they leave the cores to parsing and the app
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]

    def encode(self, texts: list[str]) -> np.ndarray:
        """One row per text, in batches of `batch_size` (callers sort texts by length)."""
        parts = [self._encode_batch(texts[i : i + self.batch_size]) for i in range(0, len(texts), self.batch_size)]
        return np.concatenate(parts) if parts else np.zeros((0, self.dimension), dtype=np.float32)

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        batch = self.tokenizer.encode(texts, self.max_seq_length)
        feeds = {name: batch[name] for name in self.input_names}
        hidden = self.session.run(None, feeds)[0]
        if self.pooling == "cls":
            vectors = hidden[:, 0]
        else:
            mask = batch["attention_mask"][..., None].astype(np.float32)
            vectors = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return (vectors / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)
