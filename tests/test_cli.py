"""`python -m retrieval build` and `info`, through `main(argv)` in-process."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil

import pytest

from retrieval.cli.main import main
from retrieval.store import files as index_folder

# the commands as a user runs them, on the light model: their output names it (and these tests pass unchanged)
pytestmark = pytest.mark.real_model

NOTES = (
    "Integration course attendance in the district\n\n"
    "The district office keeps a register of integration course attendance. "
    "Attendance rose after the evening classes were introduced.\n"
)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A tiny corpus built once through the CLI; returns (corpus, index, stdout, stderr, exit code)."""
    root = tmp_path_factory.mktemp("cli")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "notes.txt").write_text(NOTES, encoding="utf-8")
    (corpus / "broken.pdf").write_bytes(b"this is not a pdf at all")
    (corpus / "catalogue.toml").write_text('["notes.txt"]\ntitle = "District notes"\nyear = "2024"\n', encoding="utf-8")
    index = root / "index"
    # capsys is per test: capture this module-wide build by hand
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["build", "--corpus", str(corpus), "--index", str(index), "--quiet"])
    return corpus, index, out.getvalue(), err.getvalue(), code


def test_build_prints_the_summary(built):
    _, index, out, _, code = built
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "documents: 1 added, 0 changed, 0 removed, 0 unchanged, 1 failed"
    assert re.fullmatch(r"chunks: 1 \(1 embedded, 0 reused\)", lines[1])
    assert re.fullmatch(r"sentences: \d+ \(\d+ embedded\)", lines[2])
    assert re.fullmatch(r"seconds: \d+\.\d", lines[3])
    assert any(line.startswith("failed: broken.pdf: not a PDF") for line in lines)
    version = (index / index_folder.CURRENT).read_text(encoding="utf-8").strip()
    assert lines[-1] == f"index: {index} ({version})"


def test_build_quiet_shows_no_progress_bars(built):
    _, _, _, err, _ = built
    assert err == ""


def test_second_build_reuses_everything(built, capsys):
    corpus, index, _, _, _ = built
    assert main(["build", "--corpus", str(corpus), "--index", str(index), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "documents: 0 added, 0 changed, 0 removed, 1 unchanged, 1 failed"
    assert out.splitlines()[1] == "chunks: 1 (0 embedded, 1 reused)"


def test_info_json(built, capsys):
    _, index, _, _, _ = built
    assert main(["info", "--index", str(index), "--json"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    info = json.loads(captured.out)
    assert info["model"] == "all-MiniLM-L6-v2"
    assert info["dimension"] == 384
    from retrieval.text.chunking import CHUNKER_VERSION
    from retrieval.text.documents import PARSER_VERSION

    assert info["chunker"] == {"version": CHUNKER_VERSION, "parser": PARSER_VERSION, "chunk_tokens": 200, "overlap_tokens": 40}
    assert info["chunks"] == 1
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", info["built_at"])
    assert [(d["doc"], d["title"], d["pages"], d["chunks"]) for d in info["documents"]] == [("notes.txt", "District notes", 0, 1)]
    assert not any(k.startswith("catalogue_") for d in info["documents"] for k in d)
    assert [(e["doc"], e["status"]) for e in info["not_indexed"]] == [("broken.pdf", "failed")]


def test_info_text(built, capsys):
    _, index, _, _, _ = built
    assert main(["info", "--index", str(index)]) == 0
    out = capsys.readouterr().out
    assert "model all-MiniLM-L6-v2 (384 dimensions)" in out
    assert "1 documents, 1 chunks" in out
    assert "notes.txt: District notes (2024; text; 1 chunks)" in out
    assert "broken.pdf: not indexed: not a PDF" in out


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    return lines[0]


def test_build_with_missing_corpus_folder(tmp_path, capsys):
    code = main(["build", "--corpus", str(tmp_path / "no-such-folder"), "--index", str(tmp_path / "index"), "--quiet"])
    captured = capsys.readouterr()
    assert code == 2
    assert "no-such-folder" in one_error_line(captured.err)
    assert captured.out == ""


def test_info_on_an_empty_folder(tmp_path, capsys):
    code = main(["info", "--index", str(tmp_path)])
    captured = capsys.readouterr()
    assert code == 2
    assert "python -m retrieval build" in one_error_line(captured.err)
    assert captured.out == ""


def test_info_uses_the_index_setting_from_the_environment(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RAG_INDEX_DIR", str(tmp_path / "from-env"))
    assert main(["info"]) == 2
    assert str(tmp_path / "from-env") in one_error_line(capsys.readouterr().err)


def test_info_on_a_corrupt_index(built, tmp_path, capsys):
    _, index, _, _, _ = built
    damaged = tmp_path / "index"
    shutil.copytree(index, damaged)
    version = (damaged / index_folder.CURRENT).read_text(encoding="utf-8").strip()
    (damaged / version / "manifest.json").write_text("{not json at all", encoding="utf-8")
    code = main(["info", "--index", str(damaged), "--json"])
    captured = capsys.readouterr()
    assert code == 2
    line = one_error_line(captured.err)
    assert "rebuild" in line and "--full" in line
    assert captured.out == ""


def test_info_on_an_index_with_a_missing_vector_file(built, tmp_path, capsys):
    _, index, _, _, _ = built
    damaged = tmp_path / "index"
    shutil.copytree(index, damaged)
    version = (damaged / index_folder.CURRENT).read_text(encoding="utf-8").strip()
    (damaged / version / "vectors.faiss").unlink()
    assert main(["info", "--index", str(damaged)]) == 2
    assert "rebuild" in one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize("store", ["faiss", "milvus"])
def test_a_build_that_changes_nothing_writes_no_version(tmp_path, store):
    """Issue 29, item 11: `make run` builds before it starts the app; with nothing changed, the second
    start's build wrote a new version, and every shared link and kept conversation then said "the
    index has changed". Two real `python -m retrieval build` processes (a restart): the second keeps
    the live version, in both stores; a changed description still makes a new one."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "notes.txt").write_text(NOTES, encoding="utf-8")
    (corpus / "broken.pdf").write_bytes(b"this is not a pdf at all")  # a failure is part of what stays the same
    (corpus / "catalogue.toml").write_text('["notes.txt"]\ntitle = "District notes"\n', encoding="utf-8")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(repo), "RAG_CORPUS_DIR": str(corpus), "RAG_INDEX_DIR": str(tmp_path / "index")}
    if store == "milvus":
        env.update(RAG_STORE="milvus", RAG_MILVUS_URI=str(tmp_path / "milvus.db"))

    def run(*args):
        result = subprocess.run([sys.executable, "-m", "retrieval", *args], cwd=repo, env=env, check=False, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def live():
        return json.loads(run("info", "--json"))["version"]

    run("build", "--quiet")
    first = live()
    folders = sorted(p.name for p in (tmp_path / "index").iterdir()) if store == "faiss" else None
    out = run("build", "--quiet")
    assert out.startswith("documents: 0 added, 0 changed, 0 removed, 1 unchanged, 1 failed"), out
    assert live() == first and out.splitlines()[-1].endswith(f"({first})")
    if store == "faiss":
        assert sorted(p.name for p in (tmp_path / "index").iterdir()) == folders
    (corpus / "catalogue.toml").write_text('["notes.txt"]\ntitle = "District notes, revised"\n', encoding="utf-8")
    run("build", "--quiet")
    assert live() != first
