"""Upload validation: type by content, size limit, safe stored names, no overwriting."""

from __future__ import annotations

import hashlib
import threading

import pytest

from retrieval.serve.uploads import (
    UploadError,
    detect_kind,
    kept_documents,
    remove_document,
    restore_document,
    safe_name,
    store_upload,
    validate_upload,
)

LIMIT = 1_000_000


@pytest.fixture(scope="module")
def pdf_bytes(tmp_path_factory, pdf_factory) -> bytes:
    path = pdf_factory(tmp_path_factory.mktemp("pdf") / "a.pdf", [["Integration policy in one line of text."]])
    return path.read_bytes()


def test_text_named_pdf_is_refused(tmp_path):
    with pytest.raises(UploadError, match="not a PDF"):
        validate_upload("report.pdf", b"This is plain text pretending to be a PDF.", LIMIT)


def test_binary_and_office_files_are_refused():
    with pytest.raises(UploadError, match="PNG image"):
        validate_upload("notes.txt", b"\x89PNG\r\n\x1a\n" + b"\x00" * 50, LIMIT)
    with pytest.raises(UploadError, match="ZIP archive or an Office document"):
        validate_upload("report.docx", b"PK\x03\x04" + b"\x00" * 50, LIMIT)
    with pytest.raises(UploadError, match="binary content"):
        validate_upload("notes.md", b"text\x00with a zero byte", LIMIT)
    with pytest.raises(UploadError, match="unsupported file type '.exe'"):
        validate_upload("tool.exe", b"echo hello", LIMIT)


def test_too_large_and_empty_files_are_refused():
    with pytest.raises(UploadError, match="too large: 2.0 MB, the limit is 1 MB"):
        validate_upload("big.txt", b"a" * 2_000_000, LIMIT)
    with pytest.raises(UploadError, match="empty"):
        validate_upload("empty.md", b"  \n", LIMIT)


def test_broken_pdf_is_refused(pdf_bytes):
    with pytest.raises(UploadError, match="unreadable PDF"):
        validate_upload("cut.pdf", pdf_bytes[:200], LIMIT)


def test_the_pdf_check_runs_in_a_child_process_under_the_limits(pdf_bytes, monkeypatch):
    """Issue 13, item 7: a crafted PDF's check (pypdf on a broken cross-reference table took 4.7 s
    and 900 MB in the app's process) is cut off by the time and memory limits, in another process."""
    import os
    import time

    from retrieval.serve import uploads

    seen = []
    real = uploads._check_pdf
    monkeypatch.setattr(uploads, "_check_pdf", lambda data: (seen.append(os.getpid()), real(data))[1])
    assert validate_upload("a.pdf", pdf_bytes, LIMIT).kind == "pdf"
    assert seen == []  # the check ran in a child: nothing was appended in this process

    monkeypatch.setattr(uploads, "_check_pdf", lambda data: time.sleep(30))
    with pytest.raises(UploadError, match="took longer than 1 s: cut off"):
        validate_upload("slow.pdf", pdf_bytes, LIMIT, timeout_s=1)

    monkeypatch.setattr(uploads, "_check_pdf", lambda data: bytearray(400 * 1024 * 1024))
    with pytest.raises(UploadError, match="memory limit \\(100 MB\\)"):
        validate_upload("big.pdf", pdf_bytes, LIMIT, memory_mb=100)


def test_type_comes_from_content(pdf_bytes):
    assert detect_kind("anything.txt", pdf_bytes) == "pdf"
    upload = validate_upload("scan.txt", pdf_bytes, LIMIT)
    assert (upload.kind, upload.name) == ("pdf", "scan.pdf")
    assert validate_upload("notes.md", "# Título\n\nTexto en español.".encode(), LIMIT).kind == "markdown"
    assert validate_upload("notes.txt", b"Plain text.", LIMIT).kind == "text"
    with pytest.raises(UploadError, match="not UTF-8"):
        validate_upload("latin.txt", "café".encode("latin-1") + b" \xff\xfe", LIMIT)


@pytest.mark.parametrize(
    ("given", "kind", "expected"),
    [
        ("../../etc/passwd", "text", "passwd.txt"),
        ("..\\..\\windows\\system32\\evil.md", "markdown", "evil.md"),
        ("Rapport d'intégration été 2024.pdf", "pdf", "Rapport-d-integration-ete-2024.pdf"),
        ("  spaces   and\ttabs .md", "markdown", "spaces-and-tabs.md"),
        (".hidden.md", "markdown", "hidden.md"),
        ("...", "text", "document.txt"),
        ("Ελληνικά.pdf", "pdf", "document.pdf"),
        ("report.PDF", "pdf", "report.pdf"),
        ("notes.markdown", "markdown", "notes.markdown"),
        ("a" * 300 + ".txt", "text", "a" * 96 + ".txt"),
        ("<script>alert(1)</script>.md", "markdown", "script.md"),  # "/" ends a folder name
        ("<b onclick=x>name.md", "markdown", "b-onclick-x-name.md"),
    ],
)
def test_safe_names(given, kind, expected):
    assert safe_name(given, kind) == expected


def test_store_writes_inside_the_corpus_and_never_overwrites(tmp_path):
    corpus = tmp_path / "corpus"
    upload = validate_upload("../../etc/Notes été.md", b"# Notes\n\nSome text about integration.", LIMIT)
    path = store_upload(corpus, upload)
    assert path == (corpus / "Notes-ete.md").resolve() and path.read_bytes() == upload.data
    assert not (tmp_path / "etc").exists()
    with pytest.raises(UploadError, match="already in the corpus with the same content"):
        store_upload(corpus, upload)
    other = validate_upload("Notes été.md", b"# Other\n\nDifferent text.", LIMIT)
    with pytest.raises(UploadError, match="already exists"):
        store_upload(corpus, other)
    assert store_upload(corpus, other, replace=True).read_bytes() == other.data
    # no temporary file left behind; the replaced version is kept, hidden from the build
    assert sorted(p.name for p in corpus.iterdir()) == [".kept", "Notes-ete.md"]
    assert [r["document"] for r in kept_documents(corpus)] == ["Notes-ete.md"]


def test_replaced_and_removed_documents_are_kept_and_restorable(tmp_path):
    corpus = tmp_path / "corpus"
    first = validate_upload("a.md", b"# A\n\nThe first version.", LIMIT)
    second = validate_upload("a.md", b"# A\n\nThe second version.", LIMIT)
    store_upload(corpus, first)
    store_upload(corpus, second, replace=True)
    kept = kept_documents(corpus)
    assert len(kept) == 1 and (corpus / ".kept" / kept[0]["kept"]).read_bytes() == first.data
    with pytest.raises(UploadError, match="already exists"):
        restore_document(corpus, kept[0]["kept"])
    restore_document(corpus, kept[0]["kept"], replace=True)
    assert (corpus / "a.md").read_bytes() == first.data
    assert {r["sha256"] for r in kept_documents(corpus)} == {hashlib.sha256(d).hexdigest()[:16] for d in (first.data, second.data)}
    remove_document(corpus, "a.md")
    assert not (corpus / "a.md").exists()
    from retrieval.build.pipeline import corpus_files

    assert corpus_files(corpus) == []  # kept versions are never indexed
    with pytest.raises(UploadError, match="no kept document"):
        restore_document(corpus, "../a.md")


def test_two_uploads_of_one_new_name_at_once_store_exactly_one(tmp_path):
    corpus = tmp_path / "corpus"
    for trial in range(20):
        name = f"race-{trial}.md"
        uploads = [validate_upload(name, f"# Race\n\nVersion {i} of the document.".encode(), LIMIT) for i in (1, 2)]
        barrier = threading.Barrier(2)
        outcomes = []

        def store(upload, barrier=barrier, outcomes=outcomes):
            barrier.wait()
            try:
                store_upload(corpus, upload)
                outcomes.append(upload.data)
            except UploadError:
                outcomes.append(None)

        threads = [threading.Thread(target=store, args=(u,)) for u in uploads]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        saved = [o for o in outcomes if o is not None]
        assert len(saved) == 1 and (corpus / name).read_bytes() == saved[0]


def test_a_link_in_the_corpus_is_never_written_through(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    outside = tmp_path / "outside.md"
    outside.write_text("# Outside\n\nNot part of the corpus.", encoding="utf-8")
    (corpus / "notes.md").symlink_to(outside)
    upload = validate_upload("notes.md", b"# Notes\n\nNew text.", LIMIT)
    with pytest.raises(UploadError, match="link"):
        store_upload(corpus, upload, replace=True)
    assert outside.read_text(encoding="utf-8") == "# Outside\n\nNot part of the corpus."


def _race(corpus, uploads, replace, use_processes=False):
    """Store the uploads at the same moment (threads, or forked processes); what each was told."""
    import multiprocessing

    if use_processes:
        context = multiprocessing.get_context("fork")
        barrier, results = context.Barrier(len(uploads)), context.Queue()
    else:
        barrier, results = threading.Barrier(len(uploads)), __import__("queue").Queue()

    def store(upload):
        barrier.wait()
        try:
            store_upload(corpus, upload, replace=replace)
            results.put(upload.data)
        except UploadError:
            results.put(None)

    workers = [(context.Process if use_processes else threading.Thread)(target=store, args=(u,)) for u in uploads]
    for w in workers:
        w.start()
    told = [results.get(timeout=60) for _ in uploads]
    for w in workers:
        w.join()
    return told


@pytest.mark.parametrize("use_processes", [False, True], ids=["threads", "processes"])
def test_two_replace_uploads_of_one_name_at_once_lose_nothing(tmp_path, use_processes):
    """Issue 29, item 5: two "replace" uploads of one name at once: in 18 of 20 trials an upload told
    "saved" was in neither corpus/ nor corpus/.kept/ (keep, then os.replace, interleaved). Every
    upload told it was saved is now the live file or a kept version, and so is the original."""
    corpus = tmp_path / "corpus"
    for trial in range(20):
        name = f"race-{trial}.md"
        original = validate_upload(name, f"# Race\n\nThe original of trial {trial}.".encode(), LIMIT)
        store_upload(corpus, original)
        uploads = [validate_upload(name, f"# Race\n\nReplacement {i} of trial {trial}.".encode(), LIMIT) for i in (1, 2, 3)]
        told = _race(corpus, uploads, replace=True, use_processes=use_processes)
        assert all(t is not None for t in told)  # every one was told "saved"
        kept = {(corpus / ".kept" / r["kept"]).read_bytes() for r in kept_documents(corpus) if r["document"] == name}
        present = kept | {(corpus / name).read_bytes()}
        lost = [u.data for u in [original, *uploads] if u.data not in present]
        assert not lost, f"trial {trial}: lost {lost}"
    assert not [p for p in corpus.iterdir() if p.name.startswith(".upload-")]  # no temporary file left


def test_kept_versions_are_capped_per_document(tmp_path):
    """Issue 29, item 10: corpus/.kept grew without a cap. Only the last N versions of each document
    stay (RAG_KEPT_VERSIONS; the Engine passes the setting), the most recent ones; other documents'
    versions are untouched; 0 keeps all."""
    corpus = tmp_path / "corpus"
    versions = [validate_upload("a.md", f"# A\n\nVersion {i}.".encode(), LIMIT) for i in range(6)]
    store_upload(corpus, validate_upload("b.md", b"# B\n\nThe only version of b.", LIMIT))
    store_upload(corpus, versions[0], keep_versions=3)
    for version in versions[1:]:
        store_upload(corpus, version, replace=True, keep_versions=3)
    remove_document(corpus, "b.md", keep_versions=3)
    kept = kept_documents(corpus)
    contents = {(corpus / ".kept" / r["kept"]).read_bytes() for r in kept if r["document"] == "a.md"}
    assert contents == {v.data for v in versions[2:5]}  # the three replaced last; the live one is version 5
    assert [r["document"] for r in kept].count("b.md") == 1
    # a removal counts as a version too, and 0 keeps every version
    remove_document(corpus, "a.md", keep_versions=0)
    assert len([r for r in kept_documents(corpus) if r["document"] == "a.md"]) == 4

    from retrieval import Engine, Settings

    engine = Engine(Settings(corpus_dir=corpus, kept_versions=2), embedder=object(), load_model=False)
    restored = next(r["kept"] for r in kept_documents(corpus) if r["document"] == "a.md")
    engine.restore_document(restored)
    engine.save_upload("a.md", b"# A\n\nVersion 6.", replace=True)
    assert len([r for r in kept_documents(corpus) if r["document"] == "a.md"]) == 2
    assert Settings.from_env({"RAG_KEPT_VERSIONS": "7"}).kept_versions == 7
