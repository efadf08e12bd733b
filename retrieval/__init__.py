"""Offline question answering over migration-policy documents.

The library behind `python -m retrieval` and the Streamlit app, in rooms by stage (each a sub-package;
pyproject.toml's import-linter contract keeps every import pointing down this list):

    cli/, bench/   the commands: `python -m retrieval`, `python -m retrieval.bench`
    serve/         the engine behind the app: one model, the live index, jobs, conversations,
                   uploads, sign-in, page images, what the app shows
    evaluation/    the question sets, metrics, reports and comparisons
    build/, ask/   building an index from the corpus; searching it and composing answers
    store/         the index and where it lives (files or Milvus), behind one seam
    model/         the encoders, loaded offline
    text/          reading and cleaning documents, sections, chunking
    config.py      the settings

The names below are the public API: the app and the tests import them from here, so a module can
move inside the package without rippling out. They load on first use (a parser worker that imports
retrieval.text does not load the model or the store).
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: public name -> the module that defines it
_PUBLIC = {
    "Settings": "retrieval.config",
    "Embedder": "retrieval.model.embedding",
    "ModelError": "retrieval.model.embedding",
    "load_document": "retrieval.text.documents",
    "Document": "retrieval.text.documents",
    "DocumentError": "retrieval.text.documents",
    "CatalogueError": "retrieval.text.documents",
    "set_catalogue_entry": "retrieval.text.documents",
    "chunk_document": "retrieval.text.chunking",
    "Chunk": "retrieval.text.chunking",
    "open_store": "retrieval.store.backend",
    "Index": "retrieval.store.index",
    "IndexStore": "retrieval.store.index",
    "BuiltIndex": "retrieval.store.index",
    "IndexLoadError": "retrieval.store.index",
    "IndexMissing": "retrieval.store.index",
    "IndexMismatch": "retrieval.store.index",
    "build_index": "retrieval.build.pipeline",
    "BuildError": "retrieval.build.pipeline",
    "BuildReport": "retrieval.build.pipeline",
    "Retriever": "retrieval.ask.search",
    "Hit": "retrieval.ask.search",
    "Answerer": "retrieval.ask.answer",
    "NOT_COVERED": "retrieval.ask.cited_answer",
    "load_questions": "retrieval.evaluation.evaluate",
    "Engine": "retrieval.serve.engine",
    "ConversationStore": "retrieval.serve.conversations",
    "UploadError": "retrieval.serve.uploads",
}

__all__ = list(_PUBLIC)


def __getattr__(name: str):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'retrieval' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC])
