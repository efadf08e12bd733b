"""Benchmark: crafted input against the build and the question path (issue 13's attacks).

Builds a corpus of the Markdown seed documents plus crafted documents (a 300 KB run-on word, `<sup>`
and 20,000 spaces, 50,000 dots, a 60 KB word before "! But", runs of brackets) with the real command
line, and asks a 500 KB question through `ask --queries`; prints the wall seconds of each and what
became of every crafted document.

    python -m retrieval.bench.bad_input [--work DIR] [--pdfs]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from retrieval.config import REPO

#: file name -> content: each once made a text function backtrack (docs/bad-input.md)
CRAFTED = {
    "crafted-run-on-word.md": "# A run-on word\n\n" + "a" * 300_000 + "! But this goes on.\n",
    "crafted-60k-word.md": "# Another run-on word\n\n" + "b" * 60_000 + "! But this goes on.\n",
    "crafted-sup-spaces.md": "# Spaces\n\nText <sup>" + " " * 20_000 + "x</sup> and more text follows here.\n",
    "crafted-dots.md": "# Dots\n\nContents " + "." * 50_000 + " 5\n\nA real sentence follows the dots here.\n",
    "crafted-brackets.md": "# Brackets\n\n" + "[" * 50_000 + "\n\n" + "![" * 25_000 + "\n",
}


def crafted_corpus(folder: Path, with_pdfs: bool) -> list[str]:
    """The seed documents (Markdown only, or all) and the crafted ones in `folder`; returns the
    names of the good documents."""
    folder.mkdir(parents=True, exist_ok=True)
    good = []
    for path in sorted((REPO / "corpus").iterdir()):
        if path.name == "catalogue.toml" or path.suffix == ".md" or (with_pdfs and path.suffix == ".pdf"):
            shutil.copy2(path, folder / path.name)
            if path.name != "catalogue.toml":
                good.append(path.name)
    for name, text in CRAFTED.items():
        (folder / name).write_text(text, encoding="utf-8")
    return good


def _run(args: list[str]) -> tuple[float, subprocess.CompletedProcess]:
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "retrieval", *args], cwd=REPO, env=env, capture_output=True, text=True, check=False)
    return time.perf_counter() - started, done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m retrieval.bench.bad_input", description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one)")
    parser.add_argument("--pdfs", action="store_true", help="also put the seed PDFs in the corpus")
    parser.add_argument("--question-kb", type=int, default=500, help="size of the long question")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="rag-bad-input-"))
    corpus, index = work / "corpus", work / "index"
    shutil.rmtree(corpus, ignore_errors=True)
    shutil.rmtree(index, ignore_errors=True)
    good = crafted_corpus(corpus, args.pdfs)

    build_s, built = _run(["build", "--corpus", str(corpus), "--index", str(index), "--quiet"])
    if built.returncode != 0:
        print(built.stdout, built.stderr, sep="\n", file=sys.stderr)
        return 1
    rebuild_s, _ = _run(["build", "--corpus", str(corpus), "--index", str(index), "--quiet"])
    # the same good documents without the crafted ones: what the crafted ones add is the difference
    baseline = work / "baseline"
    shutil.rmtree(baseline, ignore_errors=True)
    crafted_corpus(baseline / "corpus", args.pdfs)
    for name in CRAFTED:
        (baseline / "corpus" / name).unlink()
    baseline_s, _ = _run(["build", "--corpus", str(baseline / "corpus"), "--index", str(baseline / "index"), "--quiet"])
    version = (index / "CURRENT").read_text().strip()
    manifest = json.loads((index / version / "manifest.json").read_text())
    indexed = {d["doc"]: d["chunks"] for d in manifest["documents"]}
    named = {d["doc"]: d["reason"] for d in manifest.get("not_indexed", [])}

    queries = work / "long-question.jsonl"
    phrase = "What does the integration programme offer to newcomers who arrive "
    words = phrase * -(-args.question_kb * 1000 // len(phrase))
    queries.write_text(json.dumps({"id": "long", "question": words}) + "\n", encoding="utf-8")
    ask_s, asked = _run(["ask", "--index", str(index), "--queries", str(queries)])

    print(f"corpus: {len(good)} good documents ({'Markdown and PDF' if args.pdfs else 'Markdown'}) and {len(CRAFTED)} crafted")
    print("| step | wall seconds |\n|---|---|")
    print(f"| build (full, from nothing, the real command line) | {build_s:.1f} |")
    print(f"| the same good documents alone, for comparison | {baseline_s:.1f} |")
    print(f"| rebuild with nothing changed | {rebuild_s:.1f} |")
    print(f"| `ask --queries`, one {len(words) // 1000} KB question (process start and model load included) | {ask_s:.1f} |")
    print()
    print("| document | outcome |\n|---|---|")
    for name in [*good, *CRAFTED]:
        outcome = f"indexed, {indexed[name]} chunks" if name in indexed else f"named: {named.get(name, 'missing!')}"
        print(f"| {name} | {outcome} |")
    missing_good = [name for name in good if name not in indexed]
    unaccounted = [name for name in CRAFTED if name not in indexed and name not in named]
    note = next((line for line in asked.stderr.splitlines() if "shortened" in line or "characters" in line), "")
    print(f"\nask exit code {asked.returncode}; {note.strip() or 'no note on stderr'}")
    if missing_good or unaccounted or asked.returncode != 0:
        print(f"FAILED: good documents not indexed {missing_good}, crafted neither indexed nor named {unaccounted}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
