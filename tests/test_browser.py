"""End to end in a real browser: `streamlit run app.py` on a free local port, driven by Debian's
Chromium through the playwright package (no browser download).

Outside CI a missing /usr/bin/chromium skips the test with the reason; with CI=true it fails,
because .ci/run installs Chromium. Timings (process start to first answer, one warm chat turn) are
printed and written to the test's temporary folder as timings.json; set RAG_SCREENSHOT=path to
also copy the screenshot of the answered question there (docs/screenshot.png in the README).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"]

QUESTION = "How long can an EU citizen stay in another Member State without conditions?"
DOCUMENT = "Guidance on the right of free movement"  # the Commission Notice C/2023/1392
FILE = "eu-commission-notice-free-movement-guidance-2023.pdf"
PAGE = 27  # "... for a period of up to 3 months without any conditions ..." is on page 27 of the PDF
FOLLOW_UP = "What are the three dimensions of integration policies?"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium; session-scoped so that a skip comes before the corpus index is built."""
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {CHROMIUM} is missing: .ci/run installs it with `apt-get install -y chromium`")
        pytest.skip(f"Debian's Chromium is not installed at {CHROMIUM} (apt-get install -y chromium); the end-to-end browser test needs it")
    pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed (pip install -r requirements-dev.txt)")
    return CHROMIUM


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, server: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"streamlit exited with code {server.returncode} before answering its health check")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"no answer from {url} after {timeout:.0f} s")


def stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=15)


def test_answer_with_citation_in_chromium(chromium, corpus_index, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = os.environ | {
        "RAG_INDEX_DIR": str(corpus_index),
        "RAG_CORPUS_DIR": str(REPO / "corpus"),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
    }
    log = (tmp_path / "streamlit.log").open("w")
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(REPO / "app.py"), "--server.address", "127.0.0.1",
         "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    timings: dict[str, float] = {}
    try:
        wait_healthy(f"{url}_stcore/health", server)
        timings["health_s"] = time.perf_counter() - started
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 1100})
                page.goto(url)
                box = page.get_by_test_id("stChatInputTextArea")
                box.wait_for(timeout=60_000)
                timings["first_paint_s"] = time.perf_counter() - started
                box.fill(QUESTION)
                box.press("Enter")
                answers = page.locator(".rag-answer, .rag-notcovered")
                expect(answers).to_have_count(1, timeout=120_000)
                card = page.locator(".rag-card").filter(has_text=DOCUMENT).first
                card.wait_for(timeout=30_000)
                timings["start_to_first_answer_s"] = time.perf_counter() - started

                text = card.inner_text()
                assert FILE in text
                pages = re.search(r"\bpp?\. (\d+)(?:\u2013(\d+))?", text)
                assert pages, text
                first, last = int(pages.group(1)), int(pages.group(2) or pages.group(1))
                assert first <= PAGE <= last, text
                assert page.locator(".rag-answer").first.inner_text().strip(), "an answer with sentences"

                page.wait_for_timeout(300)  # let the last elements settle before the picture
                page.get_by_test_id("stChatMessage").first.scroll_into_view_if_needed()
                shot = tmp_path / "answer.png"
                page.screenshot(path=str(shot))
                assert shot.stat().st_size > 10_000
                if os.environ.get("RAG_SCREENSHOT"):
                    shutil.copyfile(shot, os.environ["RAG_SCREENSHOT"])

                box.fill(FOLLOW_UP)
                turn_started = time.perf_counter()
                box.press("Enter")
                expect(answers).to_have_count(2, timeout=60_000)
                page.locator(".rag-card").filter(has_text="Budapest Process").first.wait_for(timeout=30_000)
                timings["warm_turn_s"] = time.perf_counter() - turn_started

            finally:
                browser.close()
    finally:
        stop(server)
        log.close()
    (tmp_path / "timings.json").write_text(json.dumps(timings, indent=2))
    print("browser timings:", json.dumps({k: round(v, 3) for k, v in timings.items()}))
    assert server.returncode is not None
