"""Shared fixtures: the real packaged model (loaded once), the shared documents, PDFs made on the fly,
and the real project corpus built once into a temporary index.

No test touches the repository's own index/: RAG_INDEX_DIR points at a temporary folder.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pytest

# Before anything imports transformers or sentence-transformers: no network, ever.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# The tests that check logic, the app and the build run on the light packaged model (fast on two cores);
# the default model (all-mpnet-base-v2) is checked by the tests marked `default_model`. Set here, before
# any test starts a command or a server, so they inherit it. RAG_TEST_MODEL runs the tier on another.
MINILM = "all-MiniLM-L6-v2"
os.environ["RAG_MODEL"] = os.environ.get("RAG_TEST_MODEL", MINILM)

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(autouse=True)
def _offline_and_isolated(monkeypatch, tmp_path_factory):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("RAG_MODEL", os.environ.get("RAG_TEST_MODEL", MINILM))
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
def embedder():
    """The real packaged model of the test tier (all-MiniLM-L6-v2), loaded once for the whole session."""
    from retrieval.model.embedding import Embedder

    return Embedder(os.environ["RAG_MODEL"])


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
def corpus_index(embedder, tmp_path_factory) -> Path:
    """The project corpus (corpus/) built once into a temporary index folder; yields that folder."""
    from retrieval.build.pipeline import build_index
    from retrieval.config import Settings

    index_dir = tmp_path_factory.mktemp("corpus-index")
    report = build_index(Settings.from_env(corpus_dir=REPO / "corpus", index_dir=index_dir), embedder=embedder, progress=False)
    assert not report.failed, report.summary()
    yield index_dir


@pytest.fixture
def small_retriever(tmp_path, embedder):
    """Builds a Retriever over a corpus of Markdown documents given as {name: text}, in tmp_path."""
    from retrieval.ask.search import Retriever
    from retrieval.build.pipeline import build_index
    from retrieval.config import Settings

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
