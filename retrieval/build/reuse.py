"""What a build takes from the live index: the index whose documents it may reuse, the indexes whose
passage and sentence vectors it may reuse, and whether the build changed anything at all (then the
live version stays, so links and conversations made with it stay current)."""

from __future__ import annotations

import json

from retrieval.config import Settings
from retrieval.model.embedding import model_id
from retrieval.store import index as index_files
from retrieval.store.index import IndexStore


def previous_index(settings: Settings, store: IndexStore, full: bool, warnings: list[tuple[str, str]]):
    """(the live index whose documents an incremental build may reuse, the index whose passage
    vectors it may reuse, the index whose sentence vectors it may reuse). An index made by another
    chunker or parser version lends only its vectors: every document is read and chunked again, and
    a passage or sentence whose embedding input is unchanged keeps its vector (same model, same
    text, same vector), so such an upgrade costs the reading, not the embedding. An index of another
    passage model lends its sentence vectors where their model is the settings' (the quick first
    index of the light model, upgraded: only the passages are embedded again). Another index format
    lends nothing."""
    if full:
        return None, None, None
    try:
        previous = store.open()
    except index_files.IndexMissing:
        return None, None, None
    except index_files.StoreUnavailable:
        raise
    except index_files.IndexLoadError as exc:
        warnings.append(("index", f"previous index unusable, rebuilding everything ({exc})"))
        return None, None, None
    chunker = index_files.identity(model_id(settings.model), previous.manifest.get("dimension", 0), settings.chunk_tokens, settings.overlap_tokens,
                                   model_id(settings.sentence_model), previous.manifest.get("sentence_dimension"))
    try:
        store.check_compatible(previous.manifest, chunker)
    except index_files.IndexMismatch:
        same_format = previous.manifest.get("format_version") == chunker["format_version"]
        same_sentences = same_format and index_files.sentence_model_of(previous.manifest) == chunker["sentence_model"]
        if same_sentences and previous.manifest.get("model") == chunker["model"]:  # the dimensions are the old one's
            warnings.append(("index", "previous index was built with other chunker settings: every document is read again; unchanged passages keep their vectors"))
            return None, previous, previous
        if same_sentences:
            warnings.append(("index", f"previous index was built with the passage model {previous.manifest.get('model')}: "
                                             "every passage is embedded again; unchanged sentences keep their vectors"))
            return None, None, previous
        warnings.append(("index", "previous index was built with other settings: rebuilding everything"))
        return None, None, None
    return previous, previous, previous


#: what a manifest records of the build itself rather than of the index it describes
_BUILD_ONLY = ("built_at", "build", "store")


def same_index(previous: dict, manifest: dict) -> bool:
    """Whether a build's manifest describes the index `previous` describes: the same settings, the
    same documents with the same content and catalogue entries, the same passages and failures.
    When it does, the chunks, vectors and BM25 made from them are the previous version's too."""
    def described(m: dict) -> str:
        return json.dumps({k: v for k, v in m.items() if k not in _BUILD_ONLY}, sort_keys=True, ensure_ascii=False, default=str)

    return described(previous) == described(manifest)


def unchanged(previous, manifest: dict, store: IndexStore, n_chunks: int) -> bool:
    """Whether a build's result is the live index `previous` already: the same manifest, and the same
    kind of store (a corpus grown past the IVF threshold, or another Milvus index type, is written)."""
    return previous is not None and same_index(previous.manifest, manifest) and str(previous.manifest.get("store", "")).startswith(
        store.planned_store(n_chunks))
