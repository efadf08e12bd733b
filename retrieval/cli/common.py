"""What every command of `python -m retrieval` shares: the error a user can fix, the --corpus and --index
flags, and the settings they and the environment give."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from retrieval.config import Settings
from retrieval.store.backend import StoreSettingError, is_milvus
from retrieval.store.backend import describe as describe_location


class UserError(Exception):
    """A problem the user can fix: printed as one line, exit code 2."""


def location_flags(parser: argparse.ArgumentParser) -> None:
    """--corpus and --index, for every command that reads or writes the index."""
    parser.add_argument("--corpus", type=Path, default=None, help="corpus folder (default: corpus/, or RAG_CORPUS_DIR)")
    parser.add_argument("--index", type=Path, default=None, help="index folder (default: index/, or RAG_INDEX_DIR)")


def settings_from(args: argparse.Namespace) -> Settings:

    settings = Settings.from_env(corpus_dir=getattr(args, "corpus", None), index_dir=getattr(args, "index", None))
    try:
        milvus = is_milvus(settings)
    except StoreSettingError as exc:
        raise UserError(str(exc)) from exc
    if milvus and getattr(args, "index", None) is not None:
        print(f"note: --index names the FAISS folder; with RAG_STORE=milvus the index is in {describe(settings)}, so --index is ignored", file=sys.stderr)
    return settings


def describe(settings: Settings) -> str:
    """Where the index is: its folder, or the Milvus URI and collection."""

    return describe_location(settings)
