"""The product works with no network and never tries to reach one: the command line builds and
answers with a guard in every Python process that records and refuses any DNS lookup or connection
beyond this machine (the app's servers in tests/test_browser.py run under the same guard).
HF_HUB_OFFLINE is not set here: the product must set what it needs itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# the real model loads, builds and answers with no network
pytestmark = pytest.mark.real_model

REPO = Path(__file__).resolve().parents[1]
GUARD = Path(__file__).resolve().parent / "network_guard"


def guarded_env(log: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(GUARD), env.get("PYTHONPATH", "")]))
    return env | {"RAG_NETWORK_GUARD_LOG": str(log)} | extra


def test_the_guard_itself_refuses_and_records(tmp_path):
    log = tmp_path / "network.log"
    probe = "import socket\ntry:\n    socket.create_connection(('example.org', 80), timeout=2)\nexcept OSError as e:\n    print('refused', e)\n"
    done = subprocess.run([sys.executable, "-c", probe], env=guarded_env(log), check=False, capture_output=True, text=True, timeout=60)
    assert "refused" in done.stdout and "example.org" in log.read_text()


@pytest.mark.parametrize("store", ["faiss", "milvus"])
def test_build_and_ask_reach_no_network(tmp_path, store):
    """With FAISS files, and with Milvus Lite (its embedded gRPC server listens on 127.0.0.1 only)."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "notes.md").write_text("# Language courses\n\nNewly arrived refugees may attend free language courses for six months.\n", encoding="utf-8")
    log = tmp_path / "network.log"
    env = guarded_env(log, RAG_INDEX_DIR=str(tmp_path / "index"), RAG_CORPUS_DIR=str(corpus), RAG_DATA_DIR=str(tmp_path / "data"),
                      RAG_STORE=store, RAG_MILVUS_URI=str(tmp_path / "milvus.db"))
    build = subprocess.run([sys.executable, "-m", "retrieval", "build", "--quiet"], cwd=REPO, env=env, check=False, capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr[-2000:]
    ask = subprocess.run([sys.executable, "-m", "retrieval", "ask", "--json", "How long may refugees attend language courses?"],
                         cwd=REPO, env=env, check=False, capture_output=True, text=True, timeout=300)
    assert ask.returncode == 0, ask.stderr[-2000:]
    assert json.loads(ask.stdout)["answerable"]
    assert not log.exists(), f"network attempts: {log.read_text()}"
