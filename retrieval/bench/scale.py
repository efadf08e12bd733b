"""Benchmarks: build throughput against raw encoding, incremental rebuild, search and answer latency
at scale, memory, start-up. `python -m retrieval.bench [--docs 1000] [--scales 10000 100000]`.

Prints a table and writes docs/benchmarks.md with the machine and the command (the tables are
retrieval/bench/report.py's). Nothing here is a test: the numbers are reported, never asserted.

The scale corpus is made from real text: the paragraphs of the project's corpus recombined into new
documents (every fifth one rendered as a multi-page PDF with fpdf2), so parsing, chunking and BM25
see realistic text. Embedding 100,000 chunks would take about an hour on two cores, so the search
indexes at 10,000 and 100,000 chunks take their vectors from real chunk embeddings with a little
noise; exact FAISS search costs the same whatever the values, and BM25 runs on the real text.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from retrieval.ask.answer import Answerer
from retrieval.ask.search import Retriever, rrf
from retrieval.bench.corpus import make_scale_index_measured, real_paragraphs, write_scale_corpus
from retrieval.bench.milvus import bench_milvus
from retrieval.bench.report import STAGES, render
from retrieval.build.pipeline import build_index
from retrieval.build.vectors import sentence_table
from retrieval.config import REPO, Settings
from retrieval.evaluation.evaluate import evaluate_coverage, evaluate_retrieval, load_questions, percentiles
from retrieval.model.embedding import Embedder, cpu_has_fast_bf16
from retrieval.model.onnx_encoder import onnxruntime_available
from retrieval.store.files import open_index
from retrieval.store.vectors import FaissStore

QUESTIONS = [
    "What are the three dimensions of integration policies?",
    "Which Member State is responsible for examining an application when the applicant holds a visa?",
    "What rights do refugees have to public education?",
    "How should countries of origin prepare migrants before departure?",
    "What salary must a Skilled Worker be paid?",
    "Can family members of an EU citizen work in the host Member State?",
    "What is reintegration assistance for returning migrants?",
    "When is detention allowed for the purpose of a Dublin transfer?",
]


def machine() -> dict:
    import torch

    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor()
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(mem_gb, 1), "torch_threads": torch.get_num_threads(), "python": platform.python_version()}


# --------------------------------------------------------------------------- build


def measure_build(corpus: Path, index_dir: Path, embedder) -> tuple[dict, object]:
    """A full build of `corpus`, then the raw encode of the same chunk and distinct sentence texts by
    the same embedder: (figures, build report)."""

    started = time.perf_counter()
    report = build_index(Settings(corpus_dir=corpus, index_dir=index_dir), embedder=embedder, progress=False)
    build_s = time.perf_counter() - started
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    index = open_index(index_dir)
    chunk_texts = [c.embed_text for c in index.chunks]
    _, sentence_texts = sentence_table(index.chunks)
    started = time.perf_counter()
    embedder.embed(chunk_texts)
    encode_chunks_s = time.perf_counter() - started
    started = time.perf_counter()
    embedder.embed(list(dict.fromkeys(sentence_texts)))
    encode_sentences_s = time.perf_counter() - started
    return {
        "docs": len(index.documents),
        "chunks": report.chunks,
        "sentences": report.sentences,
        "build_s": build_s,
        "chunks_per_s": report.chunks / build_s,
        "encode_chunks_s": encode_chunks_s,
        "encode_sentences_s": encode_sentences_s,
        "raw_chunks_per_s": len(chunk_texts) / encode_chunks_s,
        "overhead": build_s / (encode_chunks_s + encode_sentences_s),
        "peak_rss_mb": peak_rss_mb,
        "index_mb": dir_size_mb(index_dir),
        "stages": report.stages,
        "backend": f"{embedder.backend} {embedder.precision}",
    }, report


def bench_real_pdfs(folder: Path, work: Path) -> dict:
    """The build of a folder of real PDFs (../shared/pdfs: ten policy documents, long, two-column and
    tabular pages), where parsing weighs more than in the recombined corpus."""

    embedder = Embedder()
    embedder.embed(["warm up the model"])
    figures, _ = measure_build(folder, work / "index", embedder)
    return figures | {"corpus": str(folder)}


def bench_build(n_docs: int, paragraphs: list[str], work: Path) -> dict:

    corpus, index_dir = work / "corpus", work / "index"
    write_scale_corpus(corpus, n_docs, paragraphs)
    embedder = Embedder()
    embedder.embed(["warm up the model"])
    figures, _ = measure_build(corpus, index_dir, embedder)

    # incremental: change one document of n_docs
    victim = sorted(corpus.glob("*.md"))[len(list(corpus.glob("*.md"))) // 2]
    victim.write_text(victim.read_text(encoding="utf-8").replace("Section 1 of", "Section 1 (revised) of"), encoding="utf-8")
    started = time.perf_counter()
    inc = build_index(Settings(corpus_dir=corpus, index_dir=index_dir), embedder=embedder, progress=False)
    incremental_s = time.perf_counter() - started
    index = open_index(index_dir)
    changed = [c for c in index.chunks if c.doc_id == victim.name]
    _, changed_sentences = sentence_table(changed)
    started = time.perf_counter()
    embedder.embed([c.embed_text for c in changed])
    embedder.embed(changed_sentences)
    victim_embed_s = time.perf_counter() - started
    return figures | {
        "docs": n_docs,
        "incremental_s": incremental_s,
        "incremental_changed": inc.changed,
        "incremental_embedded": inc.embedded,
        "victim_embed_s": victim_embed_s,
    }


def dir_size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file()) / 1e6


def real_vector_recall(index_dirs: list[Path]) -> dict:
    """Recall@10 of the IVF store against exact search on real vectors: the distinct chunk and sentence
    vectors of these indexes, searched with the evaluation questions. The scale indexes' noisy copies
    of corpus vectors cluster more tightly than real text, which flatters an inverted file."""

    parts = []
    for folder in index_dirs:
        index = open_index(folder)
        parts += [index.store.vectors(), np.asarray(index.sentence_vectors)]
    vectors = np.unique(np.vstack(parts).round(5), axis=0).astype(np.float32)
    queries = Embedder().embed([q.question for q in load_questions()])
    _, exact = FaissStore.from_vectors(vectors, vectors.shape[1]).search(queries, 10)
    ivf = FaissStore.from_vectors(vectors, vectors.shape[1], approximate_from=1)
    _, approximate = ivf.search(queries, 10)
    recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(approximate, exact)]))
    return {"vectors": len(vectors), "store": ivf.describe(), "recall_at_10": recall}


def bench_search(index_dir: Path, repeats: int = 2) -> dict:
    """Warm latency of search and whole answers, and each stage of the search alone."""

    retriever = Retriever.open(Settings(index_dir=index_dir))
    answerer = Answerer(retriever)
    answerer.ask("warm up the model and the page cache")
    stages: dict[str, list[float]] = {k: [] for k in STAGES}
    questions = [q.question for q in load_questions()]
    for _ in range(repeats):
        for q in questions:
            retriever.embedder.clear_query_cache()
            t0 = time.perf_counter()
            vector = retriever.embedder.embed_query(q)
            t1 = time.perf_counter()
            d_rows, _ = retriever.dense(vector, 100, None)
            t2 = time.perf_counter()
            l_rows, _ = retriever.lexical(q, 100, None)
            t3 = time.perf_counter()
            cands = np.asarray(list(dict.fromkeys([*d_rows.tolist(), *l_rows.tolist()])), dtype=np.int64)
            s_rows, _ = retriever.best_sentences(vector, 100, None, cands)
            t4 = time.perf_counter()
            rrf([d_rows, l_rows, s_rows], k=retriever.rrf_k)
            t5 = time.perf_counter()
            retriever.index.store.search(vector, 100, exact=True)  # what an exact search would cost (same as faiss when exact)
            t6 = time.perf_counter()
            for name, dt in zip(("encode", "faiss", "bm25", "sentences", "fusion", "faiss exact"), (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5)):
                stages[name].append(dt * 1000)
            retriever.embedder.clear_query_cache()
            t0 = time.perf_counter()
            retriever.search(q, k=10)
            stages["search"].append((time.perf_counter() - t0) * 1000)
            retriever.embedder.clear_query_cache()
            t0 = time.perf_counter()
            answerer.ask(q)
            stages["answer"].append((time.perf_counter() - t0) * 1000)
    store = retriever.index.store
    queries = retriever.embedder.embed(questions)
    _, approximate = store.search(queries, 10)
    _, exact = store.search(queries, 10, exact=True)
    recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(approximate, exact)]))
    return {name: percentiles(values) for name, values in stages.items()} | {
        "chunks": len(retriever.index.chunks), "store": store.describe(), "recall_at_10_vs_exact": recall}


def loaded_rss_mb(index_dir: Path) -> float:
    """Peak RSS of a fresh process that loads the model and the index and answers one question.

    Read from VmHWM, which starts afresh with the new program; getrusage's ru_maxrss can carry the
    parent's size over the fork and exec, which inflated this figure by the benchmark's own size."""
    code = (
        "import sys; from retrieval.config import Settings; from retrieval.ask.search import Retriever;"
        "from retrieval.ask.answer import Answerer; r=Retriever.open(Settings(index_dir=sys.argv[1]));"
        "Answerer(r).ask('What rights do refugees have to housing?');"
        "print(next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM:'))/1024)"
    )
    out = subprocess.run([sys.executable, "-c", code, str(index_dir)], capture_output=True, text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def startup_s(index_dir: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "retrieval", "ask", QUESTIONS[0], "--index", str(index_dir)], capture_output=True, cwd=REPO, check=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    return time.perf_counter() - started


# --------------------------------------------------------------------------- encoder levers


def encoder_configs() -> list[tuple[str, str]]:

    configs = [("torch", "fp32")]
    if cpu_has_fast_bf16():
        configs.append(("torch", "bf16"))
    if onnxruntime_available():
        configs += [("onnx", "fp32"), ("onnx", "int8")]
    return configs


def bench_encoders(live_dir: Path, sample: int = 256) -> list[dict]:
    """Each backend and precision on the live index's real chunks: throughput, query time, closeness to
    torch fp32, and the evaluation set's hybrid Recall@5 / MRR@10 and not-covered accuracy, both for an
    index it built itself and for the torch fp32 index queried with it."""
    from dataclasses import replace


    live = open_index(live_dir)
    questions = load_questions()
    chunk_texts = [c.embed_text for c in live.chunks]
    _, sentence_texts = sentence_table(live.chunks)
    picked = [chunk_texts[i] for i in np.random.default_rng(0).choice(len(chunk_texts), min(sample, len(chunk_texts)), replace=False)]
    rows, reference = [], None

    def quality(index, embedder) -> dict:
        retriever = Retriever(index, embedder)
        hybrid = evaluate_retrieval(retriever, questions, modes=("hybrid",))["modes"]["hybrid"]["metrics"]["all"]
        coverage = evaluate_coverage(Answerer(retriever), questions)
        return {"recall@5": hybrid["recall@5"], "mrr@10": hybrid["mrr@10"], "answerable": coverage["answerable_accuracy"], "unanswerable": coverage["unanswerable_accuracy"]}

    for backend, precision in encoder_configs():
        print(f"encoder lever: {backend} {precision} ...", file=sys.stderr)
        embedder = Embedder(backend=backend, precision=precision)
        embedder.embed(picked[:8])
        started = time.perf_counter()
        sample_vectors = embedder.embed(picked)
        throughput = len(picked) / (time.perf_counter() - started)
        query_ms = []
        for q in questions[:40]:
            embedder.clear_query_cache()
            t0 = time.perf_counter()
            embedder.embed_query(q.question)
            query_ms.append((time.perf_counter() - t0) * 1000)
        index = replace(live, store=FaissStore.from_vectors(embedder.embed(chunk_texts), live.store.dimension), sentence_vectors=embedder.embed(sentence_texts))
        row = {"backend": backend, "precision": precision, "chunks_per_s": throughput, "query_ms_p50": percentiles(query_ms)["p50"], "own_index": quality(index, embedder)}
        if reference is None:
            reference = {"index": index, "vectors": sample_vectors}
        row["min_cosine_to_torch_fp32"] = float((sample_vectors * reference["vectors"]).sum(axis=1).min())
        row["torch_fp32_index"] = quality(reference["index"], embedder)
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m retrieval.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1000, help="documents in the build benchmark (0 skips it)")
    parser.add_argument("--scales", type=int, nargs="*", default=[10_000, 100_000], help="chunk counts for search and memory")
    parser.add_argument("--report", type=Path, default=REPO / "docs" / "benchmarks.md")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one)")
    parser.add_argument("--pdfs", type=Path, default=REPO.parent / "shared" / "pdfs", help="a folder of real PDFs also built (with --docs; skipped if missing)")
    parser.add_argument("--no-encoders", action="store_true", help="skip the comparison of backends and precisions (~5 min)")
    parser.add_argument("--update", action="store_true", help="keep the sections of the existing report that this run does not measure")
    parser.add_argument("--milvus", action="store_true", help="also copy the corpus and scale indexes into Milvus Lite and measure them there")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    work = args.work or Path(tempfile.mkdtemp(prefix="rag-bench-"))
    command = ("python -m retrieval.bench " + " ".join(argv if argv is not None else sys.argv[1:])).strip()
    results: dict = {"search": {}, "memory": {}}
    previous = args.report.with_suffix(".json")
    if args.update and previous.exists():
        results = json.loads(previous.read_text(encoding="utf-8"))
    results["machine"] = machine()
    results["commands"] = [*(results.get("commands", []) if args.update else []), command]
    try:
        if args.docs:
            print(f"build benchmark: {args.docs} documents ...", file=sys.stderr)
            results["build"] = bench_build(args.docs, real_paragraphs(), work / "build")
            if args.pdfs.is_dir():
                print(f"build benchmark: the PDFs in {args.pdfs} ...", file=sys.stderr)
                results["real_pdfs"] = bench_real_pdfs(args.pdfs, work / "real-pdfs")

        live = Settings.from_env().index_dir
        embedder = Embedder.from_settings(Settings.from_env())
        embedder.load()
        results["backend"] = f"{embedder.backend} {embedder.precision}"
        results["search"]["corpus"] = bench_search(live)
        if args.milvus:
            print("milvus benchmark: the corpus ...", file=sys.stderr)
            results.setdefault("milvus", {})["corpus"] = bench_milvus(live, work / "milvus", hnsw=True)
        results["startup_s"] = startup_s(live)
        if not args.no_encoders:
            results["encoders"] = bench_encoders(live)
        build_index_dir = work / "build" / "index"
        results["real_vector_recall"] = real_vector_recall([live, *([build_index_dir] if build_index_dir.exists() else [])])
        for n in args.scales:
            print(f"search benchmark: {n} chunks ...", file=sys.stderr)
            index_dir, write_rss_mb = make_scale_index_measured(n, work)
            results["search"][str(n)] = bench_search(index_dir)
            results["memory"][str(n)] = {"rss_mb": loaded_rss_mb(index_dir), "disk_mb": dir_size_mb(index_dir), "write_rss_mb": write_rss_mb}
            if args.milvus:
                print(f"milvus benchmark: {n} chunks ...", file=sys.stderr)
                results.setdefault("milvus", {})[str(n)] = bench_milvus(index_dir, work / "milvus", hnsw=n <= 10_000)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    text = render(results, "`, then `".join(results["commands"]))
    print(text)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(text, encoding="utf-8")
    (args.report.with_suffix(".json")).write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
