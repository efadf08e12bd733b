"""Shared fixtures: the tier's embedder (loaded once), the shared documents, PDFs made on the fly,
and the real project corpus built once into a temporary index.

Two tiers. The logic tier (chunking, fusion, answer composition, the app's flows) runs on the small
deterministic encoder hashed-words (retrieval/model/hashed_words.py): no model to load, so it is fast
to iterate on (`make test-fast`). Tests that check what the real model reads (paraphrases, answers
on real text, the evaluation's figures, the encoders themselves) are marked `real_model` and run on
all-MiniLM-L6-v2; those marked `default_model` on all-mpnet-base-v2. `make test` runs both.

A test's tier is its closest mark: `embedder` and `corpus_index` are its tier's. A module-scoped
fixture takes `module_embedder` and `module_corpus_index`, the module's tier's, so a test marked
apart from its module may not use it (the guard below says so).

No test touches the repository's own index/: RAG_INDEX_DIR points at a temporary folder.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

# Before anything imports transformers or sentence-transformers: no network, ever.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
MINILM = "all-MiniLM-L6-v2"
#: the logic tier's encoder (passages and sentences alike)
SMALL = "hashed-words"
#: the marks of the integration tier's model tests (`default_model` sets its own model in its tests)
REAL_MARKS = ("real_model", "default_model")
#: the marks that put a test in the integration tier (`make test` runs it; `make test-fast` does not)
INTEGRATION_MARKS = (*REAL_MARKS, "browser", "milvus", "real_pdfs")


def is_real(node) -> bool:
    """Whether a test (or a module) is in the real-model tier."""
    return any(node.get_closest_marker(mark) for mark in REAL_MARKS)


def tier_models(real: bool) -> dict[str, str | None]:
    """The model settings of a tier, as environment variables (None: unset, the settings' default).
    The real tier runs on all-MiniLM-L6-v2 for passages and sentences (RAG_TEST_MODEL: another)."""
    if real:
        return {"RAG_MODEL": os.environ.get("RAG_TEST_MODEL", MINILM), "RAG_SENTENCE_MODEL": None}
    return {"RAG_MODEL": SMALL, "RAG_SENTENCE_MODEL": SMALL}


# Set here, before any test starts a command or a server, so they inherit it; each test then gets
# its own tier's (the fixture below), which commands and servers it starts inherit.
os.environ.update({k: v for k, v in tier_models(False).items() if v is not None})

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parents[2] / "shared"


#: the modules that take longest, longest first. `make test` runs the suite on two pytest-xdist workers
#: with --dist loadfile (a module and its module fixtures on one worker) in collection order
#: (--no-loadscope-reorder): these start first, and the many short modules even out the end
SLOW_MODULES = (
    "test_browser.py", "test_milvus.py", "test_real_documents.py", "test_resume.py", "test_eval.py", "test_bad_input.py",
    "test_default_model.py", "test_cli.py", "test_app.py", "test_answer_decisions.py", "test_embedding.py", "test_quick_start.py",
)


def pytest_collection_modifyitems(items):
    """Every test with a mark of the integration tier is marked `integration`: -m "not integration" is the logic tier.
    Under pytest-xdist, the slow modules come first (each module keeps its own order)."""
    for item in items:
        if any(item.get_closest_marker(mark) for mark in INTEGRATION_MARKS):
            item.add_marker(pytest.mark.integration)
    if os.environ.get("PYTEST_XDIST_WORKER"):
        rank = {name: i for i, name in enumerate(SLOW_MODULES)}
        items.sort(key=lambda item: rank.get(item.path.name, len(SLOW_MODULES)))


def _set_models(monkeypatch, real: bool) -> None:
    for name, value in tier_models(real).items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)


@pytest.fixture(scope="module", autouse=True)
def _module_tier(request):
    """The module's tier's models while its module-scoped fixtures are made (before any test's own)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        _set_models(monkeypatch, is_real(request.node))
        yield


@pytest.fixture(autouse=True)
def _offline_and_isolated(request, monkeypatch, tmp_path_factory):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    real = is_real(request.node)
    _set_models(monkeypatch, real)
    module = request.node.getparent(pytest.Module)
    shared = {"module_embedder", "module_corpus_index"} & set(request.fixturenames)
    if shared and module is not None and is_real(module) != real:
        pytest.fail(f"{request.node.name} is marked apart from its module but uses a module-scoped fixture of the "
                    f"module's tier ({', '.join(sorted(shared))}): mark the module, or move the test")
    # settings read RAG_-prefixed variables: a command run without --index writes here, not to index/
    monkeypatch.setenv("RAG_INDEX_DIR", str(tmp_path_factory.mktemp("default-index")))
    # the audit log goes to a temporary folder too, and no maintainer password is set unless a test sets one
    monkeypatch.setenv("RAG_DATA_DIR", str(tmp_path_factory.mktemp("data")))
    monkeypatch.delenv("RAG_MAINTAINER_PASSWORD_HASH", raising=False)
    # the files back end unless a test asks for Milvus (a developer's own RAG_STORE=milvus stays out)
    for name in ("RAG_STORE", "RAG_MILVUS_URI", "RAG_MILVUS_TOKEN", "RAG_MILVUS_COLLECTION", "RAG_MILVUS_INDEX"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _fresh_sign_in_limits():
    """The process's wrong-password counts (per address, per server) start empty in every test."""
    from retrieval.serve.sign_in_limits import LIMITS

    LIMITS.reset()
    yield
    LIMITS.reset()


# --------------------------------------------------------------------------- the model


@pytest.fixture(scope="session")
def _embedders() -> dict:
    """The embedder of each tier's model, made once per session on first use."""
    return {}


def _tier_embedder(real: bool, embedders: dict):
    from retrieval import Embedder

    models = tier_models(real)
    if models["RAG_MODEL"] not in embedders:
        embedders[models["RAG_MODEL"]] = Embedder(models["RAG_MODEL"], sentence_model=models["RAG_SENTENCE_MODEL"] or MINILM)
    return embedders[models["RAG_MODEL"]]


@pytest.fixture
def embedder(request, _embedders):
    """The test's tier's embedder: hashed-words, or the real packaged model (all-MiniLM-L6-v2), each
    made (loaded) once for the whole session."""
    return _tier_embedder(is_real(request.node), _embedders)


@pytest.fixture(scope="module")
def module_embedder(request, _embedders):
    """`embedder` for a module-scoped fixture: the module's tier's."""
    return _tier_embedder(is_real(request.node), _embedders)


# --------------------------------------------------------------------------- shared documents


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return SHARED


@pytest.fixture(scope="session")
def shared_pdfs(shared_dir) -> list[Path]:
    folder = shared_dir / "pdfs"
    if not folder.is_dir():
        pytest.skip("../shared/pdfs not present")
    return sorted(folder.glob("*.pdf"))


@pytest.fixture(scope="session")
def seed_docs(shared_dir) -> list[Path]:
    folder = shared_dir / "corpus"
    if not folder.is_dir():
        pytest.skip("../shared/corpus not present")
    return sorted(p for p in folder.glob("*.md") if p.name != "SOURCES.md")


# --------------------------------------------------------------------------- the real corpus, built once


@pytest.fixture(scope="session")
def _corpus_indexes() -> dict:
    """The project corpus's index folder for each tier's model, built once per run on first use."""
    return {}


def _run_folder(tmp_path_factory) -> Path:
    """The temporary folder of the whole run: under pytest-xdist (`make test` runs two workers) the
    folder that every worker's own base folder is in, so the workers share what is made there."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """Held by one process of the run at a time (an flock: released if its holder dies)."""
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _tier_corpus_index(embedder, indexes: dict, tmp_path_factory) -> Path:
    """Built once per run and model: the first worker that needs it builds it while any other waits,
    then every worker opens the same folder (read only: a test that changes an index copies it)."""
    from retrieval import Settings, build_index

    if embedder.model_name not in indexes:
        index_dir = _run_folder(tmp_path_factory) / f"corpus-index-{re.sub(r'[^A-Za-z0-9.-]', '_', embedder.model_name)}"
        built = index_dir.with_name(index_dir.name + ".built")
        with _exclusive(index_dir.with_name(index_dir.name + ".lock")):
            if not built.exists():
                shutil.rmtree(index_dir, ignore_errors=True)  # what a build that failed in another worker left
                settings = Settings.from_env(corpus_dir=REPO / "corpus", index_dir=index_dir, model=embedder.model_name,
                                             sentence_model=embedder.sentence_model_name)
                report = build_index(settings, embedder=embedder, progress=False)
                assert not report.failed, report.summary()
                built.touch()
        indexes[embedder.model_name] = index_dir
    return indexes[embedder.model_name]


@pytest.fixture
def corpus_index(embedder, _corpus_indexes, tmp_path_factory) -> Path:
    """The project corpus (corpus/) built once per run (per tier) into a temporary index folder: that folder."""
    return _tier_corpus_index(embedder, _corpus_indexes, tmp_path_factory)


@pytest.fixture(scope="module")
def module_corpus_index(module_embedder, _corpus_indexes, tmp_path_factory) -> Path:
    """`corpus_index` for a module-scoped fixture: the module's tier's."""
    return _tier_corpus_index(module_embedder, _corpus_indexes, tmp_path_factory)


@pytest.fixture
def small_retriever(tmp_path, embedder):
    """Builds a Retriever over a corpus of Markdown documents given as {name: text}, in tmp_path."""
    from retrieval import Retriever, Settings, build_index

    def build(documents: dict[str, str]):
        corpus = tmp_path / "corpus"
        corpus.mkdir()
        for name, text in documents.items():
            (corpus / name).write_text(text, encoding="utf-8")
        settings = Settings.from_env(corpus_dir=corpus, index_dir=tmp_path / "index")
        build_index(settings, embedder=embedder, progress=False)
        return Retriever.open(settings, embedder=embedder)

    return build


# --------------------------------------------------------------------------- PDFs made in the test

RUNNING_HEADER = "Journal of Migration Policy"


def make_pdf(
    path: Path,
    pages: Sequence[Sequence[str]],
    header: str | None = RUNNING_HEADER,
    footer: bool = True,
    title: str | None = None,
) -> Path:
    """Write a PDF with one text line per entry (line ends exactly where given), a running header on
    every page and a "Page N of M" footer. Core fonts only: Latin-1 text."""
    from fpdf import FPDF

    class _PDF(FPDF):
        def header(self) -> None:
            if header:
                self.set_font("Helvetica", size=9)
                self.cell(0, 8, header, new_x="LMARGIN", new_y="NEXT")
                self.set_font("Helvetica", size=11)

        def footer(self) -> None:
            if footer:
                self.set_y(-15)
                self.set_font("Helvetica", size=9)
                self.cell(0, 8, f"Page {self.page_no()} of {{nb}}")

    pdf = _PDF()
    if title:
        pdf.set_title(title)
    pdf.set_font("Helvetica", size=11)
    for lines in pages:
        pdf.add_page()
        for line in lines:
            pdf.cell(0, 7, line, new_x="LMARGIN", new_y="NEXT")
    path = Path(path)
    pdf.output(str(path))
    return path


@pytest.fixture(scope="session")
def pdf_factory():
    """`make_pdf(path, pages, header=..., footer=..., title=...)` for tests in other files."""
    return make_pdf
