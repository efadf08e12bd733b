"""Upload validation: type by content, size limit, safe stored names, no overwriting."""

from __future__ import annotations

import pytest

from retrieval.uploads import UploadError, detect_kind, safe_name, store_upload, validate_upload

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
    assert sorted(p.name for p in corpus.iterdir()) == ["Notes-ete.md"]  # no temporary file left behind
