"""The benchmarks' corpora: real paragraphs recombined into new documents (every fifth a PDF), and
search indexes of 10,000 or 100,000 chunks whose vectors are real chunk embeddings with a little
noise (embedding 100,000 chunks would take about an hour on two cores; exact search costs the same
whatever the values, and BM25 runs on the real text). The measuring is in retrieval/bench/scale.py.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from retrieval.build.pipeline import lexical_text
from retrieval.config import REPO, Settings
from retrieval.store.files import open_index, write_version
from retrieval.store.index import identity
from retrieval.store.lexical import LexicalIndex
from retrieval.text.chunking import Chunk, answer_sentences
from retrieval.text.documents import Document, DocumentError, Section, load_catalogue, load_document

# --------------------------------------------------------------------------- the scale corpus


def real_paragraphs() -> list[str]:

    paragraphs = []
    corpus = REPO / "corpus"
    catalogue = load_catalogue(corpus)
    for path in sorted(corpus.iterdir()):
        if path.name == "catalogue.toml":
            continue
        try:
            doc = load_document(path, catalogue)
        except DocumentError:
            continue
        paragraphs += [p.strip() for p in doc.text.split("\n\n") if len(p.split()) >= 25]
    return paragraphs


def _latin1(text: str) -> str:
    replacements = {"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-", "\u2022": "-", "\u2026": "..."}
    for a, b in replacements.items():
        text = text.replace(a, b)
    return text.encode("latin-1", errors="replace").decode("latin-1")


def write_scale_corpus(folder: Path, n_docs: int, paragraphs: list[str], seed: int = 1, per_doc: int = 4) -> None:
    """n_docs documents of recombined real paragraphs under numbered headings; every fifth a PDF."""
    from fpdf import FPDF

    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n_docs):
        picked = rng.sample(paragraphs, per_doc)
        sections = [(f"{j + 1}. Section {j + 1} of document {i}", p) for j, p in enumerate(picked)]
        if i % 5 == 0:
            pdf = FPDF()
            pdf.set_font("Helvetica", size=10)
            for title, text in sections:
                pdf.add_page()
                pdf.multi_cell(0, 5, _latin1(title), new_x="LMARGIN", new_y="NEXT")
                pdf.multi_cell(0, 5, _latin1(text), new_x="LMARGIN", new_y="NEXT", wrapmode="CHAR")
            pdf.output(str(folder / f"doc-{i:05d}.pdf"))
        else:
            body = "\n\n".join(f"## {title}\n\n{text}" for title, text in sections)
            (folder / f"doc-{i:05d}.md").write_text(f"# Document {i}\n\n{body}\n", encoding="utf-8")


def make_scale_index(n_chunks: int, work: Path, seed: int = 2) -> Path:
    """An index of n_chunks chunks of recombined real sentences, vectors from real embeddings + noise."""

    base = open_index(Settings.from_env().index_dir)
    rng = np.random.default_rng(seed)
    base_vectors = base.store.vectors()
    base_sentence_vectors = np.asarray(base.sentence_vectors)
    per_doc = 100
    n_docs = n_chunks // per_doc
    picks = rng.integers(0, len(base.chunks), n_docs * per_doc)
    noise = rng.normal(scale=0.02, size=(len(picks), base_vectors.shape[1])).astype(np.float32)
    documents, chunks, spans, sentence_sources = [], [], [], []
    for d in range(n_docs):
        texts = [base.chunks[int(p)].text for p in picks[d * per_doc : (d + 1) * per_doc]]
        text = "\n\n".join(texts)
        doc_id = f"scale-{d:05d}.md"
        pos = 0
        for t in texts:
            row = len(chunks)
            chunks.append(Chunk(f"{doc_id}#{row % per_doc}", doc_id, "1. Section", pos, pos + len(t), None, None, t, 150))
            for (s, e), j in zip(answer_sentences(t), base.sentences_of(int(picks[row]))):
                spans.append((row, s, e))
                sentence_sources.append(j)
            pos += len(t) + 2
        documents.append(Document(doc_id=doc_id, title=f"Scale document {d}", text=text, sections=(Section(("1. Section",), 0, len(text)),), kind="markdown"))
    # arrays built whole, as the build's own are, so the peak memory measured is the index's, not Python lists'
    spans = np.asarray(spans, dtype=np.int32).reshape(-1, 3)
    chunk_vectors = base_vectors[picks] + noise
    chunk_vectors /= np.linalg.norm(chunk_vectors, axis=1, keepdims=True)
    sentence_vectors = base_sentence_vectors[np.asarray(sentence_sources, dtype=np.int64)]
    for start in range(0, len(sentence_vectors), 50_000):  # in place, a slice at a time: no full-size temporaries
        part = sentence_vectors[start : start + 50_000]
        part += noise[spans[start : start + 50_000, 0]]
        part /= np.linalg.norm(part, axis=1, keepdims=True)
    manifest = identity("all-MiniLM-L6-v2", base_vectors.shape[1], 200, 40)
    manifest.update(built_at="bench", chunks=len(chunks), documents=[{"doc": d.doc_id, "title": d.title, "short_title": d.title, "pages": 0, "chunks": per_doc, "kind": "markdown", "year": "", "sha256": ""} for d in documents], not_indexed=[])
    lexical = LexicalIndex.build([lexical_text(c.doc_id, c) for c in chunks])
    index_dir = work / f"scale-{n_chunks}"
    shutil.rmtree(index_dir, ignore_errors=True)  # one version only, so its size on disk is the index's
    write_version(index_dir, manifest, documents, chunks, chunk_vectors, lexical, spans, sentence_vectors)
    return index_dir


def make_scale_index_measured(n_chunks: int, work: Path) -> tuple[Path, float]:
    """make_scale_index in a fresh process that also holds the model, as a build does: (folder, peak RSS MB)
    of assembling and writing an index of n_chunks (BM25, IVF training, files), everything but embedding."""
    code = (
        "import sys; from pathlib import Path; from retrieval.bench.corpus import make_scale_index; from retrieval.model.embedding import Embedder;"
        "e=Embedder(); e.embed(['load the model']); print(make_scale_index(int(sys.argv[1]), Path(sys.argv[2])));"
        "print(next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM:'))/1024)"
    )
    out = subprocess.run([sys.executable, "-c", code, str(n_chunks), str(work)], capture_output=True, text=True, cwd=REPO,
                         env={**os.environ, "PYTHONPATH": str(REPO)}, check=True)
    folder, rss = out.stdout.strip().splitlines()[-2:]
    return Path(folder), float(rss)
