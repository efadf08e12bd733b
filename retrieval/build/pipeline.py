"""The build pipeline: corpus folder -> documents -> chunks -> vectors -> a new index version.

Incremental: an unchanged file (same content hash, same settings) reuses its chunks without being
read again, and any chunk whose embedding input is unchanged reuses its vector, so only new or
changed text reaches the model; after a parser or chunker upgrade every file is read again and
vectors are still reused by embedding input. One bad document is reported and skipped; it never
stops the others.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from retrieval.build.journal import EmbeddingJournal
from retrieval.build.progress import Progress, ProgressCallback
from retrieval.build.reuse import previous_index, unchanged
from retrieval.build.vectors import embed_passages_and_sentences
from retrieval.config import Settings
from retrieval.model.embedding import Embedder, resolve_backend
from retrieval.store import index as index_files
from retrieval.store.backend import StoreSettingError, open_store
from retrieval.store.index import BuiltIndex, IndexStore
from retrieval.text.chunking import Chunk, answer_sentences, chunk_document
from retrieval.text.digest import file_sha256
from retrieval.text.documents import SUPPORTED_SUFFIXES, Document, DocumentError, load_catalogue
from retrieval.text.workers import LimitExceeded, parse_isolated


class BuildError(Exception):
    """The build cannot run at all (no corpus folder, lock held); the live index is untouched."""


@dataclass
class BuildReport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)
    chunks: int = 0
    embedded: int = 0
    sentences_embedded: int = 0
    sentences: int = 0
    #: vectors taken from the journal of an interrupted build instead of the model (`embedding_journal`)
    resumed: int = 0
    seconds: float = 0.0
    #: wall seconds of each stage: parse (reading, cleaning, chunking and sentence splitting, all in the
    #: workers), chunk (putting the chunks together), embed, write (the BM25 index and the new version; the benchmark reads them)
    stages: dict[str, float] = field(default_factory=dict)
    version: str = ""
    full: bool = False

    def summary(self) -> str:
        lines = [
            f"documents: {len(self.added)} added, {len(self.changed)} changed, {len(self.removed)} removed, "
            f"{len(self.unchanged)} unchanged, {len(self.failed)} failed"
            + (f", {len(self.duplicates)} duplicate" if self.duplicates else ""),
            f"chunks: {self.chunks} ({self.embedded} embedded, {self.chunks - self.embedded if self.embedded <= self.chunks else 0} reused)",
            f"sentences: {self.sentences} ({self.sentences_embedded} embedded)",
            f"seconds: {self.seconds:.1f}",
        ]
        if self.resumed:
            lines.insert(3, f"resumed: {self.resumed} vectors embedded by an interrupted build were used, not embedded again")
        for name, reason in self.failed:
            lines.append(f"failed: {name}: {reason}")
        for name, original in self.duplicates:
            lines.append(f"duplicate: {name}: same content as {original}, indexed once")
        for name, warning in self.warnings:
            lines.append(f"warning: {name}: {warning}")
        if self.removed:
            lines.append("removed: " + ", ".join(self.removed))
        if self.stages:
            lines.append("stage seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in self.stages.items()))
        return "\n".join(lines)


@dataclass
class PreparedDocument:
    """A document read in a worker: the Document, its chunks, and each chunk's quotable sentences
    (spans inside the chunk's text)."""

    document: Document
    chunks: list[Chunk]
    sentences: list[list[tuple[int, int]]]


def prepare_document(doc: Document, count, chunk_tokens: int, overlap_tokens: int) -> PreparedDocument:
    """Everything a build does with one document's text, run in the worker under its limits."""
    chunks = chunk_document(doc, count, chunk_tokens, overlap_tokens)
    return PreparedDocument(doc, chunks, [answer_sentences(c.text) for c in chunks])


def corpus_files(corpus_dir: Path) -> list[Path]:
    """Every candidate document in the folder (not recursive), sorted by name; hidden files and the catalogue skipped."""
    return sorted(
        (p for p in Path(corpus_dir).iterdir() if not p.name.startswith(".") and p.name != "catalogue.toml" and (p.is_file() or p.is_symlink())),
        key=lambda p: p.name,
    )


def _check_file(path: Path, corpus_dir: Path, max_bytes: int) -> str | None:
    """A reason to refuse the file before reading it, or None."""
    if path.is_symlink():
        target = path.resolve()
        if not target.is_relative_to(Path(corpus_dir).resolve()):
            return "symbolic link to a file outside the corpus folder: not followed"
        if not target.is_file():
            return "broken symbolic link"
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        return f"unsupported file type {path.suffix or '(no suffix)'!r}: use PDF, Markdown or text"
    size = path.stat().st_size
    if size > max_bytes:
        return f"file too large ({size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.0f} MB, set RAG_MAX_FILE_MB)"
    return None


def build_index(
    settings: Settings,
    full: bool = False,
    embedder: Embedder | None = None,
    progress: bool = True,
    on_progress: ProgressCallback | None = None,
) -> BuildReport:
    """Build or update the index of `settings.corpus_dir` in `settings.index_dir`.

    `progress` shows bars on stderr; `on_progress(stage, done, total)` receives the same counts.
    Raises BuildError when the build cannot start; the live index is never left half-written.
    """
    corpus_dir, index_dir = Path(settings.corpus_dir), Path(settings.index_dir)
    if not corpus_dir.is_dir():
        raise BuildError(f"corpus folder not found: {corpus_dir}")
    try:
        store = open_store(settings)
        with store.build_lock():
            return _build(settings, store, corpus_dir, index_dir, full, embedder, progress, on_progress)
    except (index_files.BuildLocked, index_files.StoreUnavailable, StoreSettingError) as exc:
        raise BuildError(str(exc)) from exc


def _build(
    settings: Settings, store: IndexStore, corpus_dir: Path, index_dir: Path, full: bool, embedder: Embedder | None, progress: bool, on_progress: ProgressCallback | None
) -> BuildReport:
    started = time.perf_counter()
    report = BuildReport(full=full)
    embedder = embedder or Embedder.from_settings(settings)
    previous, vector_source, sentence_source = previous_index(settings, store, full, report.warnings)
    # what an interrupted build of the same model embedded is not embedded again (`--full` starts afresh)
    journal = EmbeddingJournal.for_index(index_dir, {
        "model": embedder.model_name, "precision": embedder.precision, "backend": resolve_backend(embedder.backend, embedder.precision)})
    if full:
        journal.discard()
    # what the live index held, also after a parser upgrade (then every document counts as changed)
    previous_entries = {e["doc"]: e for e in sentence_source.manifest["documents"]} if sentence_source else {}
    catalogue = load_catalogue(corpus_dir)

    parsed: dict[str, PreparedDocument] = {}
    reused: dict[str, PreparedDocument] = {}
    failures: dict[str, str] = {}
    duplicates: dict[str, str] = {}
    seen_hashes: dict[str, str] = {}
    to_parse: list[Path] = []
    hashes: dict[str, str] = {}
    # documents cut off for time or memory: not read again until their content or the limits change
    previous_failures = {} if full or not previous else {
        e["doc"]: e["limit_failure"] for e in previous.manifest.get("not_indexed", []) if isinstance(e.get("limit_failure"), dict)
    }
    limit_failures: dict[str, dict] = {}
    files = corpus_files(corpus_dir)
    bar = Progress(len(files), "parsing", progress, on_progress)
    for path in files:
        name = path.name
        reason = _check_file(path, corpus_dir, int(settings.max_file_mb * 1e6))
        if reason:
            failures[name] = reason
            bar.update(1)
            continue
        sha = file_sha256(path)
        if sha in seen_hashes:
            duplicates[name] = seen_hashes[sha]
            bar.update(1)
            continue
        seen_hashes[sha] = name
        old = previous_entries.get(name)
        if previous and old and old.get("sha256") == sha and name in previous.documents and _catalogue_same(old, catalogue.get(name, {})):
            reused[name] = _prepared_from(previous, name)
            bar.update(1)
        elif (limit_failure := _earlier_limit_failure(previous_failures.get(name), sha, settings)) is not None:
            failures[name] = limit_failure
            limit_failures[name] = previous_failures[name]
            bar.update(1)
        else:
            hashes[name] = sha
            to_parse.append(path)
    if to_parse:
        _ = embedder.tokenizer  # loaded once here, so each forked worker has it
    prepare = functools.partial(prepare_document, count=embedder.count_tokens, chunk_tokens=settings.chunk_tokens, overlap_tokens=settings.overlap_tokens)
    for path, result in parse_isolated(
        to_parse, catalogue, workers=settings.workers, timeout_s=settings.parse_timeout_s, memory_mb=settings.parse_memory_mb,
        on_done=lambda p: (bar.set_postfix_str(p.name[:40]), bar.update(1)), prepare=prepare,
    ):
        if isinstance(result, DocumentError):
            failures[path.name] = str(result)
            if isinstance(result, LimitExceeded):
                limit_failures[path.name] = {
                    "sha256": hashes[path.name], "reason": str(result),
                    "limits": {"timeout_s": settings.parse_timeout_s, "memory_mb": settings.parse_memory_mb},
                }
        else:
            parsed[path.name] = result
    bar.close()
    mark = _stage(report, "parse", started)

    documents: list[Document] = []
    doc_chunks: dict[str, list[Chunk]] = {}
    chunk_sentences: dict[str, list[list[tuple[int, int]]]] = {}
    failed_entries: list[dict] = []
    for path in files:
        name = path.name
        if name in duplicates:
            report.duplicates.append((name, duplicates[name]))
            failed_entries.append({"doc": name, "status": "duplicate", "reason": f"same content as {duplicates[name]}"})
            continue
        if name in reused:
            prepared = reused[name]
            report.unchanged.append(name)
        elif name in parsed:
            prepared = parsed[name]
            (report.changed if name in previous_entries else report.added).append(name)
        else:
            reason = failures[name]
            if previous and name in previous.documents:
                # a corrupt new version never costs the good old one: it stays searchable
                reason += "; the previously indexed version stays in the index"
                kept = _prepared_from(previous, name)
                documents.append(kept.document)
                doc_chunks[name] = kept.chunks
                chunk_sentences[name] = kept.sentences
            report.failed.append((name, reason))
            entry = {"doc": name, "status": "failed", "reason": reason}
            if name in limit_failures:
                entry["limit_failure"] = limit_failures[name]
            failed_entries.append(entry)
            continue
        doc = prepared.document
        documents.append(doc)
        doc_chunks[name] = prepared.chunks
        chunk_sentences[name] = prepared.sentences
        report.warnings.extend((name, w) for w in doc.warnings)
    names = {p.name for p in files}
    report.removed = sorted(n for n in previous_entries if n not in names)

    chunks = [c for doc in documents for c in doc_chunks[doc.doc_id]]
    sentences = [spans for doc in documents for spans in chunk_sentences[doc.doc_id]]
    mark = _stage(report, "chunk", mark)
    vectors, sentence_spans, sentence_vectors, report.embedded, report.sentences_embedded, report.resumed = embed_passages_and_sentences(
        chunks, sentences, vector_source, embedder, progress, on_progress, journal, journal.for_sentences(embedder), sentence_source
    )
    mark = _stage(report, "embed", mark)
    short_titles = {doc.doc_id: str(catalogue.get(doc.doc_id, {}).get("short_title") or doc.title) for doc in documents}
    lexical_texts = [lexical_text(short_titles[c.doc_id], c) for c in chunks]
    dimension = vectors.shape[1]
    sentence_dimension = sentence_vectors.shape[1] if sentence_vectors.ndim == 2 and sentence_vectors.shape[1] else embedder.sentence_dimension
    manifest = index_files.identity(embedder.model_name, int(dimension), settings.chunk_tokens, settings.overlap_tokens,
                                    embedder.sentence_model_name, int(sentence_dimension))
    manifest.update(
        built_at=datetime.now(UTC).isoformat(timespec="seconds"),
        chunks=len(chunks),
        documents=[_doc_entry(doc, len(doc_chunks[doc.doc_id]), catalogue.get(doc.doc_id, {})) for doc in documents],
        not_indexed=failed_entries,
        sentences=len(sentence_spans),
        build={"embedded": report.embedded, "sentences_embedded": report.sentences_embedded, "full": full, "precision": embedder.precision, "backend": embedder.backend},
    )
    report.chunks = len(chunks)
    report.sentences = len(sentence_spans)
    manifest["build"]["seconds"] = round(time.perf_counter() - started, 2)
    if unchanged(previous, manifest, store, len(chunks)):
        # nothing changed: the live version stays, so links and conversations made with it stay
        # current across a restart (`make run` builds first); only a killed build's leftovers go
        report.version = previous.version
        store.clear_leftovers(previous.version)
    else:
        built = BuiltIndex(manifest, documents, chunks, vectors, lexical_texts, sentence_spans, sentence_vectors)
        report.version = store.write_version(built, previous)
    journal.discard()  # the live version holds every vector now
    _stage(report, "write", mark)
    report.seconds = time.perf_counter() - started
    return report


def _stage(report: BuildReport, name: str, since: float) -> float:
    now = time.perf_counter()
    report.stages[name] = now - since
    return now


def lexical_text(short_title: str, chunk: Chunk) -> str:
    """What BM25 indexes: the document's short title, the section prefix and the text. Questions often
    name the document ("the Dublin Regulation", "the INTERACT report"); with the title indexed they
    find its passages (Recall@5 0.829 against 0.779 without, docs/evaluation.md)."""
    return f"{short_title}\n{chunk.embed_text}"


def _prepared_from(index, doc_id: str) -> PreparedDocument:
    """A document of the previous index as it was prepared then: no text is read or split again."""
    rows = [int(row) for row in index.rows_by_doc.get(doc_id, ())]
    sentences = [[(int(index.sentence_spans[i][1]), int(index.sentence_spans[i][2])) for i in index.sentences_of(row)] for row in rows]
    return PreparedDocument(index.documents[doc_id], index.chunks_at(rows), sentences)


def _earlier_limit_failure(failure: dict | None, sha: str, settings: Settings) -> str | None:
    """The reason to skip a document an earlier build cut off for time or memory, when neither its
    content nor the limits have grown since; None to read it."""
    if not failure or failure.get("sha256") != sha:
        return None
    limits = failure.get("limits") or {}
    if settings.parse_timeout_s > float(limits.get("timeout_s", 0)) or settings.parse_memory_mb > int(limits.get("memory_mb", 0)):
        return None
    return (
        f"{failure.get('reason', 'cut off')} in an earlier build; not read again until the file changes "
        "(or the limits RAG_PARSE_TIMEOUT_S / RAG_PARSE_MEMORY_MB are raised, or `build --full`)"
    )


def _catalogue_same(old_entry: dict, catalogue_entry: dict) -> bool:
    return all(str(catalogue_entry.get(key, "")) == str(old_entry.get(f"catalogue_{key}", "")) for key in ("title", "short_title", "author", "year", "source")) and [
        str(a) for a in catalogue_entry.get("aliases") or []
    ] == list(old_entry.get("aliases") or [])


def _doc_entry(doc: Document, n_chunks: int, catalogue_entry: dict) -> dict:
    entry = {
        "doc": doc.doc_id,
        "title": doc.title,
        "short_title": str(catalogue_entry.get("short_title") or doc.title),
        "author": doc.author,
        "year": doc.year,
        "source": doc.source,
        "kind": doc.kind,
        "pages": doc.pages,
        "chunks": n_chunks,
        "sha256": doc.sha256,
        "status": "indexed",
        "warnings": list(doc.warnings),
        #: other names the document goes by, for questions that name it (retrieval/ask/naming.py)
        "aliases": [str(a) for a in catalogue_entry.get("aliases") or []],
    }
    entry.update({f"catalogue_{key}": str(catalogue_entry.get(key, "")) for key in ("title", "short_title", "author", "year", "source")})
    return entry
