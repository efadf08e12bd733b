"""The process-wide engine behind the app: one model, the live index, and background jobs.

One `Engine` per process (the app keeps it with `st.cache_resource`) is shared by every session:

- The model loads in a background thread from the moment the engine exists, so the page paints
  first; `ask` waits for it. Calls into the model go one at a time (the embedder's `model_lock`,
  held for the model call only): the search and answer work around it runs in each session's own
  thread, so a session's slow question never delays another's by more than one model call.
- The live index is read from `index/CURRENT` on every call (one small file) and opened again only
  when the version changed: when a rebuild completes, the next question is answered from the new
  index with no restart, and a question already running finishes on the old one.
- A rebuild or an evaluation runs as a `Job` in a thread with its own second model instance, so
  sessions keep answering from the current index meanwhile; `build_index` writes the new version
  beside the live one and switches atomically at the end.
- A live index built with other models than the settings name (the quick first index of the light
  model that `make run` builds on a fresh machine, or an index from before a model change) is
  answered with its own models while the settings' index is built in the background, then switched
  to with no restart.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from retrieval.ask.answer import Answerer
from retrieval.ask.language import other_language
from retrieval.ask.search import Retriever
from retrieval.build.pipeline import build_index, corpus_files
from retrieval.config import Settings
from retrieval.evaluation.evaluate import METRICS
from retrieval.evaluation.report import format_report
from retrieval.evaluation.run import evaluate_sets, evaluation_sets
from retrieval.model.embedding import Embedder, ModelError, model_id
from retrieval.serve.jobs import Job
from retrieval.serve.pages import page_text, render_page
from retrieval.serve.presentation import window
from retrieval.serve.uploads import kept_documents, remove_document, restore_document, store_upload, validate_upload
from retrieval.store import lexical
from retrieval.store.backend import open_store
from retrieval.store.index import IndexLoadError, IndexMismatch, identity, sentence_model_of
from retrieval.text.digest import file_sha256

#: how many index versions stay open: the live one and the one before it (turns asked before a
#: rebuild still show their surrounding text)
KEEP_VERSIONS = 2


@functools.cache
def _common_words() -> frozenset[str]:
    """bm25s's fuller English stopword list, as written and as stemmed (made once per process)."""
    from bm25s.stopwords import STOPWORDS_EN_PLUS

    return frozenset(STOPWORDS_EN_PLUS) | frozenset(lexical.stem(w) for w in STOPWORDS_EN_PLUS)


@dataclass(frozen=True)
class EvaluationResult:
    version: str
    report: str  # Markdown tables from retrieval.evaluation.evaluate.format_report
    rows: list[dict]  # one row per set (and split) and search mode: the overall metrics


@dataclass(frozen=True)
class Context:
    """A window of the document around a passage, with offsets into `text`."""

    text: str
    passage: tuple[int, int]
    quoted: tuple[tuple[int, int], ...]


class Engine:
    def __init__(self, settings: Settings, embedder: Embedder | None = None, load_model: bool = True) -> None:
        self.settings = settings
        self.embedder = embedder or Embedder.from_settings(settings)
        self._lock = threading.RLock()  # the open versions, the jobs
        self._spare_lock = threading.Lock()  # the background jobs' model
        self._spare: Embedder | None = None
        self._open: dict[str, object] = {}  # version -> Retriever, most recent last
        self._answerers: dict[str, object] = {}
        self._hashes: dict[tuple[str, int, int], str] = {}
        self._contexts: dict[tuple[str, str], Context] = {}
        self.build_job: Job | None = None
        self.eval_job: Job | None = None
        #: the model of a live index built with other models than the settings', answered with its own
        #: while the settings' index is built in the background (None when the live index is the settings')
        self.upgrading_from: str | None = None
        self._as_built: dict[tuple[str, str], Embedder] = {}
        self.model_error: str | None = None
        self._model_ready = threading.Event()
        if load_model:
            threading.Thread(target=self._load_model, name="rag-model", daemon=True).start()
        else:
            self._model_ready.set()

    # ----------------------------------------------------------------------- the model

    def _load_model(self) -> None:
        try:
            self.embedder.load()
            self.embedder.embed_query("warm up the model")
            self.embedder.embed(["This sentence warms up the model before the first question."])
        except ModelError as exc:
            self.model_error = str(exc)
        except Exception as exc:
            self.model_error = f"cannot load the model: {type(exc).__name__}: {exc}"
        finally:
            self._model_ready.set()

        other_language("This loads the language detector before the first question.")

    @property
    def model_ready(self) -> bool:
        return self._model_ready.is_set()

    def wait_for_model(self, timeout: float | None = None) -> bool:
        ready = self._model_ready.wait(timeout)
        if ready and self.model_error:
            raise ModelError(self.model_error)
        return ready

    def _spare_embedder(self) -> Embedder:
        if self._spare is None:
            self._spare = Embedder.from_settings(self.settings)
        return self._spare

    # ----------------------------------------------------------------------- the index

    def live_version(self) -> str | None:
        """The live version's name (read from the store at each call: an app server notices a build
        made by another process or machine)."""
        return open_store(self.settings).live_version()

    def retriever(self, version: str | None = None):
        """The retriever of the live index (or of an open `version`); raises IndexLoadError."""

        with self._lock:
            if version is not None and version in self._open:
                return self._open[version]
            live = self.live_version()
            if live is not None and live in self._open:
                return self._open[live]
            try:
                retriever = Retriever.open(self.settings, embedder=self.embedder)
                self.upgrading_from = None
            except IndexMismatch:
                retriever = self._open_as_built()
            opened = retriever.index.version
            self._open[opened] = retriever
            while len(self._open) > KEEP_VERSIONS:
                dropped = next(iter(self._open))
                self._open.pop(dropped)
                self._answerers.pop(dropped, None)
            return retriever

    def _open_as_built(self):
        """The live index, built with other models than the settings': answered with its own models
        while the settings' index is built in the background. One of another chunker or format is
        refused as before (IndexMismatch)."""

        store = open_store(self.settings)
        index = store.open()
        manifest = index.manifest
        as_built = replace(self.settings, model=manifest["model"], sentence_model=sentence_model_of(manifest))
        expected = identity(model_id(as_built.model), manifest.get("dimension"), as_built.chunk_tokens, as_built.overlap_tokens, model_id(as_built.sentence_model))
        store.check_compatible(manifest, expected)
        key = (as_built.model, as_built.sentence_model)
        if key not in self._as_built:
            self._as_built[key] = Embedder.from_settings(as_built)
        self.upgrading_from = manifest["model"]
        if self.build_job is None:
            self.start_build()
        return Retriever(index, self._as_built[key], query_adapter=self.settings.query_adapter, sentence_adapter=self.settings.query_adapter)

    def answerer(self, retriever=None):
        retriever = retriever or self.retriever()
        with self._lock:
            version = retriever.index.version
            if version not in self._answerers:
                self._answerers[version] = Answerer(retriever)
            return self._answerers[version]

    def index_or_none(self):
        """The live Index, or None when there is none or it cannot be opened."""
        try:
            return self.retriever().index
        except IndexLoadError:
            return None

    def resolve_docs(self, docs: Sequence[str]) -> tuple[list[str], list[str]]:
        """(documents the live index holds, documents it does not) of a filter."""
        index = self.retriever().index
        known = [d for d in docs if d in index.rows_by_doc]
        return known, [d for d in docs if d not in index.rows_by_doc]

    # ----------------------------------------------------------------------- questions

    def ask(self, question: str, history: Sequence[str] = (), docs: Sequence[str] | None = None, timeout: float | None = 120):
        """(Answer, index version) for a question; waits for the model if it is still loading."""
        if not self.wait_for_model(timeout):
            raise ModelError("the model is still loading; try again in a moment")
        retriever = self.retriever()
        answerer = self.answerer(retriever)
        # no lock here: the embedder takes its model lock around each model call only
        answer = answerer.ask(question, history=list(history), docs=list(docs) if docs else None)
        return answer, retriever.index.version

    @staticmethod
    def stem(word: str) -> str:
        return lexical.stem(word)

    def question_terms(self, question: str) -> set[str]:
        """The question's stemmed search terms, as the lexical index reads them, less the common
        words a trainer would not call search terms ("what", "does", "about": BM25 keeps them, with
        weights so low they hardly count, so they are not marked)."""
        retriever = self.retriever()
        terms = set(retriever.index.lexical.query_terms(question))
        return terms - _common_words()

    def context(self, citation, version: str | None = None) -> Context:
        """The passage with the passages before and after it, from the document text."""
        try:
            index = self.retriever(version).index
        except IndexLoadError:
            index = None
        key = (index.version if index else "", citation.chunk_id)
        if key not in self._contexts:
            if len(self._contexts) > 512:
                self._contexts.clear()
            self._contexts[key] = self._context(index, citation)
        return self._contexts[key]

    @staticmethod
    def _context(index, citation) -> Context:
        doc = index.documents.get(citation.doc) if index else None
        if doc is None or doc.text[citation.start : citation.end] != citation.text:
            return Context(citation.text, (0, len(citation.text)), tuple(citation.quoted))
        rows = index.rows_by_doc.get(citation.doc, [])
        chunks = sorted(index.chunks_at(rows), key=lambda c: (c.start, c.end))
        spans = [(c.start, c.end) for c in chunks]
        at = next((i for i, c in enumerate(chunks) if c.chunk_id == citation.chunk_id), None)
        start, end = window(spans, at) if at is not None else (citation.start, citation.end)
        start, end = min(start, citation.start), max(end, citation.end)
        shift = citation.start - start
        return Context(
            doc.text[start:end],
            (shift, shift + len(citation.text)),
            tuple((s + shift, e + shift) for s, e in citation.quoted),
        )

    # ----------------------------------------------------------------------- original pages

    def source_path(self, doc: str) -> Path | None:
        """The corpus file of an indexed document, only if it still has the content that was indexed."""
        index = self.index_or_none()
        entry = next((e for e in (index.document_entries() if index else []) if e["doc"] == doc), None)
        path = Path(self.settings.corpus_dir) / doc
        if entry is None or not path.is_file() or path.name != doc:
            return None
        if entry.get("sha256") and self._sha256(path) != entry["sha256"]:
            return None
        return path

    def page_image(self, doc: str, page: int, quotes: Sequence[str] = ()) -> bytes | None:
        """The PDF page as a PNG with the quoted sentences marked on it; None for a document that
        has no pages or whose file changed since it was indexed."""

        path = self.source_path(doc)
        if path is None or path.suffix.lower() != ".pdf":
            return None
        return render_page(path, page, quotes)

    def page_text(self, doc: str, page: int, version: str | None = None) -> str | None:
        try:
            document = self.retriever(version).index.documents.get(doc)
        except IndexLoadError:
            return None
        return page_text(document, page) if document else None

    def _sha256(self, path: Path) -> str:
        stat = path.stat()
        key = (str(path), stat.st_mtime_ns, stat.st_size)
        if key not in self._hashes:
            self._hashes[key] = file_sha256(path)
        return self._hashes[key]

    # ----------------------------------------------------------------------- the Index page

    def document_rows(self) -> list[dict]:
        """Every document the maintainers should know about: indexed, failed (with the reason), new
        in the folder and not indexed yet, changed since indexing, or gone from the folder."""

        index = self.index_or_none()
        manifest = index.manifest if index else {"documents": [], "not_indexed": []}
        corpus = Path(self.settings.corpus_dir)
        files = {p.name: p for p in corpus_files(corpus)} if corpus.is_dir() else {}
        rows, seen = [], set()
        for e in manifest.get("documents", []):
            seen.add(e["doc"])
            status, reason = "indexed", "; ".join(e.get("warnings") or [])
            path = files.get(e["doc"])
            if path is None:
                status, reason = "removed", "the file is no longer in the corpus folder: rebuild to drop it"
            elif e.get("sha256") and path.is_file() and self._sha256(path) != e["sha256"]:
                status, reason = "changed", "the file changed since it was indexed: rebuild to update it"
            rows.append({"document": e["doc"], "title": e.get("title", ""), "year": str(e.get("year") or ""), "pages": e.get("pages") or None,
                         "passages": e.get("chunks", 0), "status": status, "reason": reason})
        for e in manifest.get("not_indexed", []):
            seen.add(e["doc"])
            rows.append({"document": e["doc"], "title": "", "year": "", "pages": None, "passages": 0,
                         "status": e.get("status", "failed"), "reason": e.get("reason", "")})
        for name in sorted(set(files) - seen):
            rows.append({"document": name, "title": "", "year": "", "pages": None, "passages": 0,
                         "status": "new", "reason": "not indexed yet: rebuild to add it"})
        return rows

    def remove_document(self, name: str) -> Path:
        """Take a document out of the corpus folder (kept, restorable); raises UploadError."""

        return remove_document(Path(self.settings.corpus_dir), name, keep_versions=self.settings.kept_versions)

    def kept_documents(self) -> list[dict]:
        return kept_documents(Path(self.settings.corpus_dir))

    def restore_document(self, kept: str, replace: bool = False) -> Path:
        return restore_document(Path(self.settings.corpus_dir), kept, replace=replace, keep_versions=self.settings.kept_versions)

    def save_upload(self, name: str, data: bytes, replace: bool = False) -> Path:
        """Validate an uploaded file and store it in the corpus folder; raises UploadError."""

        upload = validate_upload(
            name, data, int(self.settings.max_file_mb * 1e6), timeout_s=self.settings.parse_timeout_s, memory_mb=self.settings.parse_memory_mb
        )
        return store_upload(Path(self.settings.corpus_dir), upload, replace=replace, keep_versions=self.settings.kept_versions)

    # ----------------------------------------------------------------------- background jobs

    def start_build(self, full: bool = False, on_done: Callable[[Job], object] | None = None) -> Job:
        """Start a rebuild in the background (or return the one running); `on_done(job)` is called
        when it ends, in either way (the Index page records the outcome in the audit log)."""
        with self._lock:
            if self.build_job is not None and self.build_job.running:
                return self.build_job
            self.build_job = Job("build", lambda job: self._build(job, full), on_done=on_done).start()
            return self.build_job

    def _build(self, job: Job, full: bool):
        with self._spare_lock:
            job.progress("loading the model", 0, 0)
            spare = self._spare_embedder()
            report = build_index(self.settings, full=full, embedder=spare, progress=False, on_progress=job.progress)
        job.progress("opening the new index", 1, 1)
        try:
            self.retriever()  # open it now, so the next question does not wait for it
        except IndexLoadError:
            pass
        return report

    def start_evaluation(self) -> Job:
        with self._lock:
            if self.eval_job is not None and self.eval_job.running:
                return self.eval_job
            self.eval_job = Job("evaluation", self._evaluate).start()
            return self.eval_job

    def _evaluate(self, job: Job) -> EvaluationResult:
        """`python -m retrieval eval`'s run (retrieval/evaluation/run.py): every set, each split apart."""
        sets = evaluation_sets()
        with self._spare_lock:
            # its own copy of the index: the lexical stemmer must not be shared with the sessions' thread
            retriever = Retriever.open(self.settings, embedder=self._spare_embedder())
            started = iter(range(len(sets)))
            results, _ = evaluate_sets(retriever, sets, on_set=lambda label, *_: job.progress(label, next(started), len(sets)))
            job.progress("done", len(sets), len(sets))
        if not results:
            raise ValueError("no answerable question of the evaluation sets is on a document of this index")
        rows = [{"set": r.label, "mode": mode} | {name: round(m["metrics"]["all"][name], 3) for name in METRICS} | {"search p50 ms": round(m["latency_ms"]["p50"], 1)}
                for r in results for mode, m in r.retrieval["modes"].items()]
        return EvaluationResult(retriever.index.version, format_report(results), rows)
