"""What a build has embedded so far, kept on disk as it goes, so that an interrupted build resumes.

Embedding is most of a build's time (docs/benchmarks.md), and until now a build stopped by a kill, a
crash, a full disk or a restarted app lost all of it: the next build started the model from the first
passage again. Now the build hands each batch of fresh vectors to a journal beside the index, which
writes them out every `FLUSH_TEXTS` texts or `FLUSH_SECONDS` seconds as one segment file: written
under a temporary name, flushed to disk and renamed, so a kill leaves whole segments or none, never a
torn one. The next build reads the journal as one more source of vectors by embedding input, as it
reads the live index's, so work done before the interruption is not done again.

A journal belongs to one model (name, precision and backend, recorded in `model.json`): a build with
another model discards it. A build that completes removes it; so does `build --full`, which re-embeds
everything by definition. Vectors are looked up by the hash of the exact text embedded, so a journal
left by a build of other documents or other settings lends only what is still the same text.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np

FOLDER = ".embedding-journal"
#: a segment is written once this many fresh vectors wait, or this many seconds after the last one:
#: a kill loses at most that much embedding
FLUSH_TEXTS = 256
FLUSH_SECONDS = 10.0
_MODEL = "model.json"
_PREFIX = "segment-"
_SUFFIX = ".npz"


def pending_vectors(index_dir: Path) -> int:
    """How many vectors an interrupted build left in the journal of `index_dir` (0 when none), read
    from the segments' headers only: what the app tells a maintainer the next build will not redo."""
    import zipfile

    total = 0
    for path in sorted((Path(index_dir) / FOLDER).rglob(f"{_PREFIX}*{_SUFFIX}")):
        try:
            with zipfile.ZipFile(path) as archive, archive.open("keys.npy") as fh:
                version = np.lib.format.read_magic(fh)
                read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                shape = read_header(fh)[0]
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):
            continue  # a damaged segment, skipped by the build too
        total += int(shape[0]) if shape else 0
    return total


class EmbeddingJournal:
    """The vectors a build embedded, by text key (`build_vectors.text_key`), on disk in `folder`."""

    def __init__(self, folder: Path, model: dict) -> None:
        self.folder = Path(folder)
        self.model = model
        self._keys: list[str] = []
        self._vectors: list[np.ndarray] = []
        self._last_flush = time.monotonic()
        self._segments = 0
        self.written = 0  # vectors written to disk by this build

    @classmethod
    def for_index(cls, index_dir: Path, model: dict) -> EmbeddingJournal:
        return cls(Path(index_dir) / FOLDER, model)

    def for_sentences(self, embedder) -> EmbeddingJournal:
        """The journal of the sentence vectors: this one, or, where another model embeds sentences, a
        journal of that model's inside this one's folder (discarded with it)."""
        if embedder.sentences is None:
            return self
        sentences = embedder.sentences
        return EmbeddingJournal(self.folder / "sentences", {"model": sentences.model_name, "precision": sentences.precision, "backend": sentences.backend})

    # ------------------------------------------------------------------ reading

    def load(self) -> tuple[dict[str, int], np.ndarray | None]:
        """(text key -> row, vectors) of what earlier, interrupted builds of this model embedded. A
        journal of another model is discarded; a segment that cannot be read is skipped."""
        if not self.folder.is_dir():
            return {}, None
        try:
            recorded = json.loads((self.folder / _MODEL).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            recorded = None
        if recorded != self.model:
            self.discard()
            return {}, None
        keys: dict[str, int] = {}
        parts: list[np.ndarray] = []
        rows = 0
        for path in sorted(self.folder.glob(f"{_PREFIX}*{_SUFFIX}")):
            try:
                with np.load(path, allow_pickle=False) as data:
                    segment_keys, vectors = data["keys"], np.asarray(data["vectors"], dtype=np.float32)
            except (OSError, ValueError, KeyError):
                continue
            if vectors.ndim != 2 or len(segment_keys) != len(vectors) or (parts and vectors.shape[1] != parts[0].shape[1]):
                continue
            for i, key in enumerate(segment_keys.tolist()):
                keys.setdefault(str(key), rows + i)
            parts.append(vectors)
            rows += len(vectors)
        self._segments = max((self._number(p) for p in self.folder.glob(f"{_PREFIX}*{_SUFFIX}")), default=-1) + 1
        return keys, (np.concatenate(parts) if parts else None)

    @staticmethod
    def _number(path: Path) -> int:
        try:
            return int(path.name[len(_PREFIX) : -len(_SUFFIX)])
        except ValueError:
            return -1

    # ------------------------------------------------------------------ writing

    def add(self, keys: list[str], vectors: np.ndarray) -> None:
        """Fresh vectors of the texts with these keys; written out when enough wait or enough time passed."""
        self._keys.extend(keys)
        self._vectors.append(np.asarray(vectors, dtype=np.float32))
        if len(self._keys) >= FLUSH_TEXTS or time.monotonic() - self._last_flush >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Write what waits as one segment: temporary name, fsync, rename (whole or not at all)."""
        self._last_flush = time.monotonic()
        if not self._keys:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        model_file = self.folder / _MODEL
        if not model_file.exists():
            self._write_atomic(model_file, json.dumps(self.model, sort_keys=True).encode("utf-8"))
        keys, vectors = np.asarray(self._keys), np.concatenate(self._vectors)
        final = self.folder / f"{_PREFIX}{self._segments:06d}{_SUFFIX}"
        partial = final.with_name(final.name + ".partial")
        with open(partial, "wb") as fh:
            np.savez(fh, keys=keys, vectors=vectors)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(partial, final)
        self._segments += 1
        self.written += len(keys)
        self._keys, self._vectors = [], []

    @staticmethod
    def _write_atomic(path: Path, data: bytes) -> None:
        partial = path.with_name(path.name + ".partial")
        with open(partial, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(partial, path)

    def discard(self) -> None:
        """Remove the journal: the build completed, or it cannot be used."""
        self._keys, self._vectors = [], []
        shutil.rmtree(self.folder, ignore_errors=True)
