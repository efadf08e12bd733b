"""The Milvus Lite rows of the benchmarks: the same index as the FAISS files, copied into Milvus Lite
(vectors, text, metadata; nothing re-embedded), then written, searched and loaded the same way.

`python -m retrieval.bench --milvus` runs it beside the FAISS rows; `python -m retrieval.bench.milvus
INDEX_DIR...` measures given FAISS index folders alone. Numbers are reported, never asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from retrieval.ask.search import Retriever
from retrieval.build.pipeline import lexical_text
from retrieval.config import REPO, Settings
from retrieval.evaluation.evaluate import load_questions, percentiles
from retrieval.model.embedding import Embedder
from retrieval.store.files import open_index
from retrieval.store.index import BuiltIndex
from retrieval.store.milvus import MilvusLocation
from retrieval.store.milvus_search import MilvusVectorStore


def copy_into_milvus(index_dir: Path, uri: str, prefix: str = "bench", index_type: str = "FLAT") -> tuple[float, str]:
    """Write the FAISS index at `index_dir` into Milvus as a build would: (seconds, version)."""

    index = open_index(index_dir)
    short = {e["doc"]: e.get("short_title") or e["doc"] for e in index.manifest.get("documents", [])}
    texts = [lexical_text(short.get(c.doc_id, c.doc_id), c) for c in index.chunks]
    built = BuiltIndex(dict(index.manifest), list(index.documents.values()), list(index.chunks), index.store.vectors(), texts,
                       index.sentence_spans, np.asarray(index.sentence_vectors))
    location = MilvusLocation(uri, prefix=prefix, index_type=index_type)
    started = time.perf_counter()
    version = location.write_version(built)
    seconds = time.perf_counter() - started
    location.close(release=True)
    return seconds, version


def _settings(uri: str, prefix: str, index_type: str = "FLAT"):

    return Settings(store="milvus", milvus_uri=uri, milvus_collection=prefix, milvus_index=index_type)


def bench_milvus(index_dir: Path, work: Path, repeats: int = 1, hnsw: bool = False) -> dict:
    """Write, search (p50/p95, the same questions as the FAISS rows), top-10 overlap with FAISS, RSS."""

    work.mkdir(parents=True, exist_ok=True)
    uri = str(work / f"milvus-{index_dir.name}.db")
    shutil.rmtree(uri, ignore_errors=True)
    write_s, _ = copy_into_milvus(index_dir, uri)
    embedder = Embedder.from_settings(Settings.from_env())
    files = Retriever.open(Settings(index_dir=index_dir), embedder=embedder)
    milvus = Retriever.open(_settings(uri, "bench"), embedder=embedder)
    questions = [q.question for q in load_questions()]
    milvus.search(questions[0], 10)  # warm
    latencies, overlap, same = [], [], 0
    for _ in range(repeats):
        for q in questions:
            embedder.embed_query(q)  # the encoder is timed in the FAISS rows; here the store
            started = time.perf_counter()
            got = [h.chunk.chunk_id for h in milvus.search(q, 10)]
            latencies.append((time.perf_counter() - started) * 1000)
            want = [h.chunk.chunk_id for h in files.search(q, 10)]
            overlap.append(len(set(got) & set(want)) / max(1, len(want)))
            same += got == want
    milvus.index.store.location.close(release=True)  # the RSS process opens the same Milvus Lite folder
    result = {
        "chunks": len(milvus.index.chunks), "sentences": len(milvus.index.sentence_spans), "write_s": write_s,
        "search_ms": percentiles(latencies), "top10_overlap": float(np.mean(overlap)), "same_top10": same / (repeats * len(questions)),
        "rss_mb": loaded_rss_mb(uri, "bench"), "disk_mb": sum(p.stat().st_size for p in Path(uri).rglob("*") if p.is_file()) / 1e6,
    }
    if hnsw:
        result["hnsw"] = hnsw_recall(index_dir, work, embedder, questions)
    return result


def hnsw_recall(index_dir: Path, work: Path, embedder, questions: list[str]) -> dict:
    """Recall@10 of Milvus HNSW (what a server deployment would use) against exact search, dense only."""

    uri = str(work / f"milvus-hnsw-{index_dir.name}.db")
    shutil.rmtree(uri, ignore_errors=True)
    write_s, version = copy_into_milvus(index_dir, uri, prefix="hnsw", index_type="HNSW")
    exact_store = open_index(index_dir).store
    location = MilvusLocation(uri, prefix="hnsw", index_type="HNSW")
    location.client.load_collection(version)
    store = MilvusVectorStore(location, version, "row", exact_store.dimension, len(exact_store))
    queries = embedder.embed(questions)
    _, exact = exact_store.search(queries, 10, exact=True)
    latencies, recall = [], []
    for q, want in zip(queries, exact):
        started = time.perf_counter()
        _, got = store.search(q, 10)
        latencies.append((time.perf_counter() - started) * 1000)
        recall.append(len(set(got[0].tolist()) & set(want.tolist())) / 10)
    location.close(release=True)

    return {"write_s": write_s, "recall_at_10": float(np.mean(recall)), "dense_ms": percentiles(latencies), "params": location.describe_index()}


def loaded_rss_mb(uri: str, prefix: str) -> float:
    """Peak RSS of a fresh process that loads the model and the Milvus index (Milvus Lite runs inside
    it) and answers one question."""
    code = (
        "import sys; from retrieval.config import Settings; from retrieval.ask.search import Retriever;"
        "from retrieval.ask.answer import Answerer;"
        "r=Retriever.open(Settings(store='milvus', milvus_uri=sys.argv[1], milvus_collection=sys.argv[2]));"
        "Answerer(r).ask('What rights do refugees have to housing?');"
        "print(next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM:'))/1024)"
    )
    out = subprocess.run([sys.executable, "-c", code, uri, prefix], capture_output=True, text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def render(milvus: dict, search: dict, memory: dict) -> list[str]:
    """The Milvus Lite section of docs/benchmarks.md, beside the FAISS figures of the same indexes."""
    if not milvus:
        return []
    lines = [
        "## Milvus Lite beside FAISS",
        "",
        "The same index copied into Milvus Lite 3 (embedded, pure Python, in the benchmark's process): write is "
        "inserting the chunks, sentences and records (the build's last stage; embedding is the same for both stores); "
        "Milvus search is `Retriever.search` with the question's vector cached (the store and fusion); the FAISS column is "
        "the search row of the table above, which also encodes the question (~9 ms). "
        "Top 10 compares the Milvus and FAISS results for each evaluation question.",
        "",
        "| chunks | sentences | Milvus write s | Milvus search p50 / p95 ms | FAISS search p50 / p95 ms | same top 10 (set / order) | Milvus loaded RSS MB | FAISS loaded RSS MB | Milvus on disk MB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, m in milvus.items():
        f = search.get(name, {}).get("search", {})
        mem = memory.get(name, {})
        faiss_search = f"{f['p50']:.1f} / {f['p95']:.1f}" if f else ""
        faiss_rss = f"{mem['rss_mb']:.0f}" if mem.get("rss_mb") else ""
        lines.append(
            f"| {m['chunks'] if name == 'corpus' else name} | {m['sentences']} | {m['write_s']:.1f} | {m['search_ms']['p50']:.1f} / {m['search_ms']['p95']:.1f} | {faiss_search} "
            f"| {m['top10_overlap']:.3f} / {m['same_top10']:.3f} | {m['rss_mb']:.0f} | {faiss_rss} | {m['disk_mb']:.0f} |"
        )
    lines += [
        "",
        "At corpus scale both stores search exactly and give the same passages (the one order difference is two passages whose best "
        "sentences score equal to seven digits). From 50,000 sentences on, the FAISS files back end no longer scans every sentence "
        "(it re-scores the dense and BM25 candidates) and from 50,000 chunks its dense search is an inverted file, while Milvus "
        "searches every sentence, grouped by chunk: the 100,000-chunk row compares an approximate search with an exact one. The scale "
        "indexes are also made of recombined copies of the same chunks with a little noise, so many passages tie or nearly tie; "
        "their order is not meaningful. Milvus Lite is pure Python: its search time is the engine's, not Milvus's (a Milvus server "
        "runs the same searches in C++; docs/scaling.md), and it holds the whole collection in the process's memory.",
    ]
    hnsw = [(name, m["hnsw"]) for name, m in milvus.items() if "hnsw" in m]
    if hnsw:
        lines += ["", "Approximate search in Milvus (HNSW, as a server deployment would use; docs/scaling.md), dense ranking only, against exact search:", ""]
        lines += ["| chunks | index | recall@10 vs exact | dense search p50 / p95 ms |", "|---|---|---|---|"]
        for name, h in hnsw:
            lines.append(f"| {milvus[name]['chunks']} | {h['params'].split(' in Milvus')[0]} | {h['recall_at_10']:.3f} | {h['dense_ms']['p50']:.1f} / {h['dense_ms']['p95']:.1f} |")
    return lines + [""]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m retrieval.bench.milvus", description=__doc__.splitlines()[0])
    parser.add_argument("index_dirs", type=Path, nargs="+", help="FAISS index folders (index/ is the corpus)")
    parser.add_argument("--hnsw", action="store_true", help="also measure Milvus HNSW against exact search")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    work = Path(tempfile.mkdtemp(prefix="rag-bench-milvus-"))
    try:
        for folder in args.index_dirs:
            result = bench_milvus(folder, work, hnsw=args.hnsw)
            print(folder, {k: v for k, v in result.items()}, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
