"""Where the index lives, chosen by RAG_STORE: files under index/ (FAISS + bm25s) or Milvus.

The build, the CLI and the app ask this module for the live version, the live index, the build lock
and a new version; nothing else knows which back end is in use.
"""

from __future__ import annotations

import contextlib
import threading

from retrieval.config import Settings
from retrieval.store import index as index_files
from retrieval.store import vectors as store
from retrieval.store.lexical import stemmed_texts
from retrieval.store.milvus import MilvusLocation

STORES = ("faiss", "milvus")
#: one Milvus connection per (uri, token, prefix, index type) in a process: the app's sessions, its
#: background build and its evaluation share it (Milvus Lite allows one opener of a data folder)
_milvus: dict[tuple, object] = {}
_milvus_lock = threading.Lock()


class StoreSettingError(index_files.IndexLoadError):
    pass


def is_milvus(settings: Settings) -> bool:
    store = (settings.store or "faiss").lower()
    if store not in STORES:
        raise StoreSettingError(f"RAG_STORE {settings.store!r} is not one of {', '.join(STORES)}")
    return store == "milvus"


def milvus(settings: Settings):

    key = (str(settings.milvus_uri), settings.milvus_token, settings.milvus_collection, settings.milvus_index.upper())
    with _milvus_lock:
        if key not in _milvus:
            _milvus[key] = MilvusLocation.from_settings(settings)
        return _milvus[key]


def describe(settings: Settings) -> str:
    return milvus(settings).describe() if is_milvus(settings) else str(settings.index_dir)


def live_version(settings: Settings) -> str | None:
    if is_milvus(settings):
        return milvus(settings).read_current()
    return index_files.read_current(settings.index_dir)


def open_live(settings: Settings, expected: dict | None = None) -> index_files.Index:
    """The live index; with `expected` (index.identity()), one made with other settings is refused."""
    if is_milvus(settings):
        return milvus(settings).open(expected)
    return index_files.open_index(settings.index_dir, expected=expected)


def check_compatible(settings: Settings, manifest: dict, expected: dict) -> None:
    if is_milvus(settings):
        location = milvus(settings)
        index_files.check_compatible(manifest, expected, location.describe(), hint=location.rebuild_hint(full=True))
    else:
        index_files.check_compatible(manifest, expected, settings.index_dir)


@contextlib.contextmanager
def build_lock(settings: Settings):
    """One build at a time; raises index.BuildLocked."""
    if is_milvus(settings):
        with milvus(settings).build_lock():
            yield
    else:
        with index_files.build_lock(settings.index_dir):
            yield


def planned_store(settings: Settings, n_chunks: int) -> str:
    """How a version of `n_chunks` would be searched, as the start of its manifest's "store": "exact" or
    "approximate" for the files back end, the whole description of the Milvus index type for Milvus.
    A build that changes nothing else still writes a version when this changes (a corpus grown past
    the IVF threshold, another RAG_MILVUS_INDEX)."""
    if is_milvus(settings):
        return milvus(settings).describe_index()

    return "approximate" if n_chunks >= store.APPROXIMATE_FROM else "exact"


def write_version(settings: Settings, manifest, documents, chunks, vectors, lexical, lexical_texts, sentence_spans, sentence_vectors, previous=None) -> str:
    """Write a complete new version and make it live; returns its name."""
    if is_milvus(settings):

        return milvus(settings).write_version(manifest, documents, chunks, vectors, stemmed_texts(lexical_texts), lexical.document_frequencies(), sentence_spans, sentence_vectors)
    previous_store = previous.store if previous is not None and previous.sentence_store is None else None
    return index_files.write_version(settings.index_dir, manifest, documents, chunks, vectors, lexical, sentence_spans, sentence_vectors, previous_store=previous_store)


def clear_leftovers(settings: Settings, live: str) -> None:
    """What a killed build left beside the live version (a half-written folder, or collections newer
    than the live one), for a build that writes no version; called under the build lock."""
    if is_milvus(settings):
        milvus(settings).drop_versions_after(live)
    else:
        index_files.remove_staging(settings.index_dir)
