"""What every command of `python -m retrieval` shares: the error a user can fix, the --corpus and --index
flags, and the settings they and the environment give."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from retrieval.config import Settings
from retrieval.store.backend import StoreSettingError, open_store
from retrieval.store.index import IndexStore


class UserError(Exception):
    """A problem the user can fix: printed as one line, exit code 2."""


def location_flags(parser: argparse.ArgumentParser) -> None:
    """--corpus and --index, for every command that reads or writes the index."""
    parser.add_argument("--corpus", type=Path, default=None, help="corpus folder (default: corpus/, or RAG_CORPUS_DIR)")
    parser.add_argument("--index", type=Path, default=None, help="index folder (default: index/, or RAG_INDEX_DIR)")


def settings_from(args: argparse.Namespace) -> Settings:
    """The settings of the environment with the command's --corpus and --index; an unknown RAG_STORE,
    or a RAG_ variable that does not read as its setting (a number, on / off), is a UserError."""
    try:
        settings = Settings.from_env(corpus_dir=getattr(args, "corpus", None), index_dir=getattr(args, "index", None))
    except ValueError as exc:  # a RAG_ variable that does not read as its setting's type
        raise UserError(str(exc)) from exc
    store = store_of(settings)
    if store.folder is None and getattr(args, "index", None) is not None:
        print(f"note: --index names a FAISS folder; the index is in {store.describe()}, so --index is ignored", file=sys.stderr)
    return settings


def store_of(settings: Settings) -> IndexStore:
    """Where the index of these settings lives (retrieval/store/backend.py)."""
    try:
        return open_store(settings)
    except StoreSettingError as exc:
        raise UserError(str(exc)) from exc


def describe(settings: Settings) -> str:
    """Where the index is: its folder, or the Milvus URI and collection."""
    return store_of(settings).describe()
