"""Where the index lives, chosen once from RAG_STORE: files under index/ (FAISS + bm25s) or Milvus.

`open_store(settings)` is the one place that reads the setting; it returns an `IndexStore`
(retrieval/store/index.py) that the build, the CLI, search and the app hand around. Nothing else knows
which back end is in use.
"""

from __future__ import annotations

import re
import threading

from retrieval.config import Settings
from retrieval.store import files, milvus
from retrieval.store.files import FileStore
from retrieval.store.index import IndexLoadError, IndexStore
from retrieval.store.milvus import MilvusLocation

STORES = ("faiss", "milvus")
#: one Milvus connection per (uri, token, prefix, index type) in a process: the app's sessions, its
#: background build and its evaluation share it (Milvus Lite allows one opener of a data folder)
_milvus: dict[tuple, MilvusLocation] = {}
_milvus_lock = threading.Lock()


#: a version name of either back end (what a shared answer link may carry)
VERSION_NAMES = re.compile(f"{files.VERSION_NAME.pattern}|{milvus.VERSION_NAME.pattern}")


class StoreSettingError(IndexLoadError):
    pass


def open_store(settings: Settings) -> IndexStore:
    """The store of these settings (RAG_STORE): a FileStore on settings.index_dir, or the process's one
    connection to the Milvus location of RAG_MILVUS_URI / _TOKEN / _COLLECTION / _INDEX."""
    store = (settings.store or "faiss").lower()
    if store not in STORES:
        raise StoreSettingError(f"RAG_STORE {settings.store!r} is not one of {', '.join(STORES)}")
    if store == "faiss":
        return FileStore(settings.index_dir)
    key = (str(settings.milvus_uri), settings.milvus_token, settings.milvus_collection, settings.milvus_index.upper())
    with _milvus_lock:
        if key not in _milvus:
            _milvus[key] = MilvusLocation.from_settings(settings)
        return _milvus[key]
