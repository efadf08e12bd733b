"""The limits users feel, measured: `python -m retrieval.bench.limits [--corpus corpus] [--sessions 20]`.

- a full build of the corpus with the default models, and the quick first index of the light model
  that `make run` answers from on a fresh machine (its time to the first answer: build, model load,
  one question);
- a warm answer for one user: p50 / p95 over the blind dev questions, asked one at a time through
  the app's engine;
- 20 sessions asking at once: the app serves every browser session from one engine in one process,
  each in its own thread, so 20 threads each ask their questions at the same moment; p95 of the
  answer time each session waits.

Prints the figures as JSON and, with --report, writes them as a Markdown section for
docs/benchmarks.md. Nothing here is a test: the numbers are reported, never asserted.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

from retrieval.bench.scale import machine
from retrieval.build.pipeline import build_index
from retrieval.config import REPO, Settings
from retrieval.evaluation.evaluate import BLIND_QUESTIONS, BLIND_QUESTIONS_2, load_questions, percentiles
from retrieval.model.packaged_models import MINILM
from retrieval.serve.engine import Engine


def questions(n: int) -> list[str]:
    """The dev questions of both blind sets (never the test splits), up to n."""
    out = [q.question for path in (BLIND_QUESTIONS, BLIND_QUESTIONS_2) if path.exists() for q in load_questions(path, split="dev")]
    return out[:n]


def timed_build(settings: Settings) -> dict:

    started = time.perf_counter()
    report = build_index(settings, full=True, progress=False)
    return {"seconds": time.perf_counter() - started, "chunks": report.chunks, "sentences": report.sentences,
            "stages": dict(report.stages), "model": settings.model, "sentence_model": settings.sentence_model}


def first_answer_s(settings: Settings, question: str) -> float:
    """From nothing loaded to the first answer: the engine's model load and one question."""

    started = time.perf_counter()
    engine = Engine(settings)
    engine.ask(question, timeout=600)
    return time.perf_counter() - started


def warm_answers(settings: Settings, asked: list[str]) -> dict:

    engine = Engine(settings)
    engine.ask("warm up", timeout=600)
    times = []
    for question in asked:
        engine.embedder.clear_query_cache()
        started = time.perf_counter()
        engine.ask(question)
        times.append((time.perf_counter() - started) * 1000)
    return {"n": len(times), **{k: round(v) for k, v in percentiles(times).items()}}


def concurrent_sessions(settings: Settings, asked: list[str], sessions: int, per_session: int = 3) -> dict:
    """`sessions` threads on one engine, released together, each asking `per_session` questions."""

    engine = Engine(settings)
    engine.ask("warm up", timeout=600)
    engine.embedder.clear_query_cache()
    start = threading.Barrier(sessions)
    times: list[float] = []
    lock = threading.Lock()

    def session(i: int) -> None:
        mine = [asked[(i * per_session + j) % len(asked)] for j in range(per_session)]
        start.wait()
        for question in mine:
            t0 = time.perf_counter()
            engine.ask(question, timeout=600)
            with lock:
                times.append((time.perf_counter() - t0) * 1000)

    threads = [threading.Thread(target=session, args=(i,)) for i in range(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"sessions": sessions, "answers": len(times), **{k: round(v) for k, v in percentiles(times).items()}}


def render(results: dict, command: str) -> str:
    m, b, q = results["machine"], results["build"], results["quick_start"]
    lines = [
        "## The limits users feel",
        "",
        f"Command: `{command}`. Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GiB, Python {m['python']}.",
        "",
        "| limit | target | measured |",
        "|---|---|---|",
        f"| full build of corpus/ ({b['chunks']} passages with {b['model']}, {b['sentences']} sentences with {b['sentence_model']}) | <= 300 s | {b['seconds']:.0f} s (embedding {b['stages'].get('embed', 0):.0f} s) |",
        f"| fresh clone: `make run` to the first answer (quick first index of {MINILM}: build {q['build_s']:.0f} s, model load and one answer {q['first_answer_s']:.0f} s) | <= 120 s | {q['build_s'] + q['first_answer_s']:.0f} s |",
        f"| warm answer, one user ({results['warm']['n']} blind dev questions) | p95 <= 300 ms | p50 {results['warm']['p50']} ms, p95 {results['warm']['p95']} ms |",
        f"| {results['concurrent']['sessions']} sessions asking at once ({results['concurrent']['answers']} answers) | p95 <= 3 s | p50 {results['concurrent']['p50']} ms, p95 {results['concurrent']['p95']} ms |",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m retrieval.bench.limits", description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=REPO / "corpus")
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--questions", type=int, default=60, help="blind dev questions asked by one user")
    parser.add_argument("--report", type=Path, default=None, help="also write the Markdown section here")
    args = parser.parse_args(argv)
    asked = questions(args.questions)
    results: dict = {"machine": machine()}
    with tempfile.TemporaryDirectory(prefix="bench-limits-") as work:
        work = Path(work)
        settings = Settings.from_env(corpus_dir=args.corpus, index_dir=work / "index", data_dir=work / "data")
        light = replace(settings, model=MINILM, sentence_model=MINILM, index_dir=work / "light")
        print("quick first index ...", file=sys.stderr)
        quick = timed_build(light)
        results["quick_start"] = {"build_s": quick["seconds"], "first_answer_s": first_answer_s(light, asked[0])}
        print("full build with the default models ...", file=sys.stderr)
        results["build"] = timed_build(settings)
        print("one user ...", file=sys.stderr)
        results["warm"] = warm_answers(settings, asked)
        print(f"{args.sessions} sessions at once ...", file=sys.stderr)
        results["concurrent"] = concurrent_sessions(settings, asked, args.sessions)
    print(json.dumps(results, indent=2))
    if args.report:
        args.report.write_text(render(results, "python -m retrieval.bench.limits " + " ".join(argv or sys.argv[1:])), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
