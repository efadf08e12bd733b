"""The model's tokenizer for counting word pieces and for the ONNX encoder's inputs, without transformers.

The `tokenizers` library reads the model's tokenizer.json directly. transformers wraps the same Rust
tokenizer but takes ~2 s to import (it imports torch), which was most of the start-up of a question
asked from the command line. The ids are the same; `tests/test_embedding.py` compares them with
transformers' AutoTokenizer on the whole corpus.

Each configuration (counting: no truncation, no padding; encoding: truncated and padded) has its own
Rust tokenizer, set once and never changed, so both can be used from several threads at once. (One
fast tokenizer keeps padding and truncation as mutable state: sharing it would let a count see an
encoding's truncation.)
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np


class WordPieces:
    def __init__(self, model_path: str | Path) -> None:
        model_path = Path(model_path)
        self._auto = None
        self._lock = threading.Lock()
        if (model_path / "tokenizer.json").exists():
            from tokenizers import Tokenizer

            self._counting = Tokenizer.from_file(str(model_path / "tokenizer.json"))
            # tokenizer.json may carry the settings it was saved with (here: truncate and pad to 128)
            self._counting.no_truncation()
            self._counting.no_padding()
            self._encoding: dict[int, object] = {}
            self._file = model_path / "tokenizer.json"
        else:  # a model with only a slow tokenizer: transformers, one call at a time
            from transformers import AutoTokenizer

            self._auto = AutoTokenizer.from_pretrained(model_path, local_files_only=True)
        self.model_max_length = self._read_max_length(model_path)

    @staticmethod
    def _read_max_length(model_path: Path) -> int:
        import json

        config = model_path / "tokenizer_config.json"
        value = json.loads(config.read_text()).get("model_max_length") if config.exists() else None
        return int(value) if isinstance(value, (int, float)) and value < 1e9 else 512

    def count(self, texts: Sequence[str], special_tokens: bool = False) -> list[int]:
        """Word pieces of each text (with the model's special tokens if asked), never truncated."""
        if not texts:
            return []
        if self._auto is not None:
            with self._lock:
                return [len(ids) for ids in self._auto(list(texts), add_special_tokens=special_tokens, truncation=False)["input_ids"]]
        return [len(e.ids) for e in self._counting.encode_batch(list(texts), add_special_tokens=special_tokens)]

    def _encoder(self, max_length: int):
        tokenizer = self._encoding.get(max_length)
        if tokenizer is None:
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(self._file))
            tokenizer.enable_truncation(max_length=max_length)
            pad = tokenizer.padding or {}
            tokenizer.enable_padding(pad_id=pad.get("pad_id", 0), pad_type_id=pad.get("pad_type_id", 0), pad_token=pad.get("pad_token", "[PAD]"))
            with self._lock:
                tokenizer = self._encoding.setdefault(max_length, tokenizer)
        return tokenizer

    def encode(self, texts: Sequence[str], max_length: int) -> dict[str, np.ndarray]:
        """Model inputs for a batch: input_ids, attention_mask, token_type_ids, padded to the longest
        text and truncated at `max_length` word pieces (special tokens included)."""
        if self._auto is not None:
            with self._lock:
                batch = self._auto(list(texts), padding=True, truncation=True, max_length=max_length, return_tensors="np")
            return {k: np.asarray(v, dtype=np.int64) for k, v in batch.items()}
        encodings = self._encoder(max_length).encode_batch(list(texts))
        return {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
