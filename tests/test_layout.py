"""The package's shape: the public API in retrieval/__init__.py resolves, the layers contract holds, no
module grows past 400 lines, and reading a document loads none of the heavy libraries (a parser worker
starts in a fraction of a second)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import retrieval

REPO = Path(__file__).resolve().parents[1]


def test_every_public_name_resolves_to_what_its_module_defines():
    import importlib

    for name in retrieval.__all__:
        module = importlib.import_module(retrieval._PUBLIC[name])
        assert getattr(retrieval, name) is getattr(module, name), name
    with pytest.raises(AttributeError):
        retrieval.no_such_name  # noqa: B018


def test_no_module_is_over_400_lines_and_each_states_its_concern():
    for path in [*(REPO / "retrieval").rglob("*.py"), *(REPO / "ui").glob("*.py"), REPO / "app.py"]:
        text = path.read_text(encoding="utf-8")
        assert text.count("\n") <= 400, f"{path.relative_to(REPO)} has {text.count(chr(10))} lines"
        if path.name not in ("__main__.py",) and path.stat().st_size > 200:
            assert text.lstrip().startswith('"""'), f"{path.relative_to(REPO)} has no docstring"


def test_reading_a_document_loads_no_model_store_or_app_library():
    code = ("import sys, retrieval.text.workers, retrieval.text.documents, retrieval.text.chunking;"
            "print(sorted(m for m in ('torch', 'faiss', 'sentence_transformers', 'pymilvus', 'streamlit', 'bm25s', 'onnxruntime') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_layers_contract_holds():
    lint_imports = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint_imports, "import-linter is not installed: requirements-dev.txt installs it"
    result = subprocess.run([lint_imports, "--no-cache"], cwd=REPO, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-2000:]
