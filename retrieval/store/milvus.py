"""The index in Milvus: one set of collections per build version, made live by moving an alias.

Where the files back end keeps index/v<time>-<id>/, Milvus keeps three collections per version::

    <prefix>_v<time>_<id>             chunks: row (primary key), doc, the chunk as JSON, the BM25
                                      field (stemmed text, BM25 function -> sparse vector), vector
    <prefix>_v<time>_<id>_sentences   the quotable sentences: id, chunk row, doc, start, end, vector
    <prefix>_v<time>_<id>_meta        the manifest, each document (cleaned text, pages, sections) and
                                      the lexical document frequencies, as JSON split in parts
    alias <prefix>                    names the live chunks collection (moved by alter_alias)
    <prefix>_build_lock               exists while a build runs (retrieval/store/milvus_lock.py)

A build writes a complete new version (the meta collection's "complete" record last) and only then
moves the alias, so a reader never sees half a build and a killed build leaves the alias where it
was. An app server reads the alias on each question and opens a new version when it moves.

The same code talks to Milvus Lite (a local path ending in .db, embedded) and a Milvus server or
cluster (http://host:19530): pymilvus speaks one API to both. What an app server reads through an
opened index (dense, BM25 and best-sentence search; chunks and documents fetched on demand) is in
retrieval/store/milvus_search.py (`MilvusIndex`); fusing the rankings stays in retrieval/ask/search.py.
This class is the Milvus side of the `IndexStore` seam (retrieval/store/index.py).
"""

from __future__ import annotations

import contextlib
import json
import re
import time
import uuid
from pathlib import Path

import numpy as np

from retrieval.store import index as index_files
from retrieval.store.index import BuiltIndex, Index
from retrieval.store.lexical import frequencies, tokenize
from retrieval.store.milvus_connection import BATCH, MilvusConnection, MilvusUnavailable
from retrieval.store.milvus_lock import build_lock
from retrieval.store.milvus_search import (
    BM25_PARAMS,
    SEARCH_PARAMS,
    ChunkRows,
    MilvusChunks,
    MilvusDocuments,
    MilvusIndex,
    MilvusLexical,
    MilvusVectorStore,
    SentenceVectors,
    joined_records,
)

#: Milvus refuses a VARCHAR longer than 65,535 bytes: JSON is stored in parts of at most this many
#: characters (4 bytes each at worst in UTF-8)
PART_CHARS = 16_000
#: the alias is read at most this often per process (each question asks whether it moved)
ALIAS_TTL_S = 1.0
SENTENCES_SUFFIX = "_sentences"
META_SUFFIX = "_meta"
#: the lexical field holds text already tokenised, stop words removed and stemmed the way the files
#: back end's BM25 (bm25s + PyStemmer) does, so both rank alike; Milvus only splits it on spaces
LEXICAL_ANALYZER = {"tokenizer": "standard", "filter": ["lowercase"]}
#: dense index types a deployment may choose (RAG_MILVUS_INDEX); FLAT is exact search
INDEX_TYPES = {"FLAT": {}, "HNSW": {"M": 16, "efConstruction": 200}, "IVF_FLAT": {"nlist": 1024}, "AUTOINDEX": {}}


#: what a build names a version's chunks collection: <prefix>_v<UTC time>_<random hex>, the prefix
#: (RAG_MILVUS_COLLECTION) a collection name: a letter or "_", then letters, digits and "_"
VERSION_SUFFIX = r"_v\d{8}T\d{6}_[0-9a-f]{6}"
VERSION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,120}" + VERSION_SUFFIX)


def version_name(prefix: str) -> str:
    return f"{prefix}_v{time.strftime('%Y%m%dT%H%M%S')}_{uuid.uuid4().hex[:6]}"


def _json_parts(value) -> list[str]:
    text = json.dumps(value, ensure_ascii=False)
    return [text[i : i + PART_CHARS] for i in range(0, len(text), PART_CHARS)] or [""]


class MilvusLocation(MilvusConnection):
    """The index's place in Milvus: connection, alias, lock, versions."""

    def __init__(self, uri: str, token: str = "", prefix: str = "rag", index_type: str = "FLAT") -> None:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,120}", prefix or ""):
            raise MilvusUnavailable(f"RAG_MILVUS_COLLECTION {prefix!r} is not a collection name: letters, digits and _, starting with a letter")
        if index_type.upper() not in INDEX_TYPES:
            raise MilvusUnavailable(f"RAG_MILVUS_INDEX {index_type!r} is not one of {', '.join(INDEX_TYPES)}")
        super().__init__(uri, token)
        self.prefix, self.index_type = prefix, index_type.upper()
        self._alias_at = 0.0
        self._alias_value: str | None = None

    @classmethod
    def from_settings(cls, settings) -> MilvusLocation:
        return cls(settings.milvus_uri, settings.milvus_token, settings.milvus_collection, settings.milvus_index)

    def describe(self) -> str:
        return f"Milvus {'Lite ' if self.is_lite else ''}{self.uri} (collection {self.prefix})"

    def rebuild_hint(self, full: bool = False) -> str:
        return f"RAG_STORE=milvus RAG_MILVUS_URI={self.uri} python -m retrieval build{' --full' if full else ''}"

    # ------------------------------------------------------------------- the live version

    def read_current(self, fresh: bool = False) -> str | None:
        """The live version (the chunks collection the alias names), or None when there is none."""
        now = time.monotonic()
        if not fresh and now - self._alias_at < ALIAS_TTL_S:
            return self._alias_value
        client = self.client
        aliases = self.call("list aliases", client.list_aliases)
        names = aliases.get("aliases", []) if isinstance(aliases, dict) else list(aliases or [])
        value = None
        if self.prefix in names:
            value = self.call("read the alias", client.describe_alias, self.prefix).get("collection_name")
        self._alias_value, self._alias_at = value, now
        return value

    def versions(self) -> list[str]:
        """Every version's chunks collection under this prefix, oldest first."""
        return sorted(c for c in self.call("list collections", self.client.list_collections) if self.is_version_name(c))

    # ------------------------------------------------------------------- the build lock

    def build_lock(self):
        """One build at a time across every machine (retrieval/store/milvus_lock.py)."""

        return build_lock(self)

    # ------------------------------------------------------------------- writing

    def write_version(self, built: BuiltIndex, previous: Index | None = None, progress=None) -> str:
        """Write a complete version in new collections, then move the alias to it; drop versions
        older than the last two. A failure drops what was written and leaves the alias as it was.
        The BM25 field gets each chunk's text already stemmed, and the meta collection the document
        frequencies, computed here as the files back end's BM25 index does."""
        manifest, documents, chunks, vectors = built.manifest, built.documents, built.chunks, built.vectors
        sentence_spans, sentence_vectors = built.sentence_spans, built.sentence_vectors
        tokens = tokenize(built.lexical_texts)
        lexical_texts, document_frequencies = [" ".join(t) for t in tokens], frequencies(tokens)
        name = version_name(self.prefix)
        dimension, sentence_dimension = int(manifest["dimension"]), index_files.sentence_dimension_of(manifest)
        manifest = {**manifest, "store": self.describe_index()}
        try:
            self._create(name, dimension, sentence_dimension)
            self._insert_chunks(name, chunks, vectors, lexical_texts, progress)
            self._insert_sentences(name + SENTENCES_SUFFIX, chunks, sentence_spans, sentence_vectors, progress)
            records = [("manifest", manifest), ("frequencies", document_frequencies)]
            records += [(f"document:{doc.doc_id}", index_files.document_to_json(doc)) for doc in documents]
            self._insert_meta(name + META_SUFFIX, records)
            self._insert_meta(name + META_SUFFIX, [("complete", {"chunks": len(chunks), "sentences": len(sentence_spans)})])
            for collection in (name, name + SENTENCES_SUFFIX, name + META_SUFFIX):
                self.call("flush", self.client.flush, collection)
        except BaseException:
            self._drop_version(name)
            raise
        previous = self.read_current(fresh=True)
        if previous is None:
            self.call("create the alias", self.client.create_alias, name, self.prefix)
        else:
            self.call("move the alias", self.client.alter_alias, name, self.prefix)
        self._alias_value, self._alias_at = name, time.monotonic()
        for old in self.versions():
            if old not in (name, previous):
                self._drop_version(old)
        return name

    # ------------------------------------------------------------------- the rest of the IndexStore seam

    folder = None  # not a folder: the CLI's --index does not apply

    def live_version(self) -> str | None:
        return self.read_current()

    def is_version_name(self, name: str) -> bool:
        """Whether a collection is the chunks collection of one of this prefix's versions."""
        return bool(re.fullmatch(re.escape(self.prefix) + VERSION_SUFFIX, name))

    def check_compatible(self, manifest: dict, expected: dict) -> None:
        index_files.check_compatible(manifest, expected, self.describe(), self.rebuild_hint(full=True))

    def planned_store(self, n_chunks: int) -> str:
        return self.describe_index()

    def clear_leftovers(self, live: str) -> None:
        self.drop_versions_after(live)

    def describe_index(self) -> str:
        if self.index_type == "FLAT":
            return f"exact (Milvus FLAT, inner product) in {self.describe()}"
        return f"approximate (Milvus {self.index_type}, {SEARCH_PARAMS[self.index_type]}) in {self.describe()}"

    def _create(self, name: str, dimension: int, sentence_dimension: int) -> None:
        from pymilvus import DataType, Function, FunctionType

        client = self.client
        chunks = client.create_schema(auto_id=False, enable_dynamic_field=False)
        chunks.add_field("row", DataType.INT64, is_primary=True)
        chunks.add_field("doc", DataType.VARCHAR, max_length=1024)
        chunks.add_field("chunk", DataType.JSON)
        chunks.add_field("lexical", DataType.VARCHAR, max_length=65535, enable_analyzer=True, analyzer_params=LEXICAL_ANALYZER)
        chunks.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        chunks.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
        chunks.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["lexical"], output_field_names=["sparse"]))
        params = client.prepare_index_params()
        params.add_index(field_name="vector", index_type=self.index_type, metric_type="IP", params=INDEX_TYPES[self.index_type])
        params.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25", params=BM25_PARAMS)
        self.call("create a collection", client.create_collection, name, schema=chunks, index_params=params)

        sentences = client.create_schema(auto_id=False, enable_dynamic_field=False)
        sentences.add_field("id", DataType.INT64, is_primary=True)
        sentences.add_field("chunk_row", DataType.INT64)
        sentences.add_field("doc", DataType.VARCHAR, max_length=1024)
        sentences.add_field("start", DataType.INT64)
        sentences.add_field("end", DataType.INT64)
        sentences.add_field("vector", DataType.FLOAT_VECTOR, dim=sentence_dimension)
        params = client.prepare_index_params()
        params.add_index(field_name="vector", index_type=self.index_type, metric_type="IP", params=INDEX_TYPES[self.index_type])
        self.call("create a collection", client.create_collection, name + SENTENCES_SUFFIX, schema=sentences, index_params=params)

        meta = client.create_schema(auto_id=False, enable_dynamic_field=False)
        meta.add_field("key", DataType.VARCHAR, is_primary=True, max_length=2048)
        meta.add_field("value", DataType.VARCHAR, max_length=65535)
        meta.add_field("vector", DataType.FLOAT_VECTOR, dim=2)  # Milvus needs a vector field; unused
        params = client.prepare_index_params()
        params.add_index(field_name="vector", index_type="FLAT", metric_type="IP")
        self.call("create a collection", client.create_collection, name + META_SUFFIX, schema=meta, index_params=params)

    def _insert(self, collection: str, rows: list[dict]) -> None:
        for start in range(0, len(rows), BATCH):
            self.call("insert rows", self.client.insert, collection, rows[start : start + BATCH])

    def _insert_chunks(self, name, chunks, vectors, lexical_texts, progress) -> None:
        vectors = np.asarray(vectors, dtype=np.float32)
        for start in range(0, len(chunks), BATCH):
            rows = [
                {"row": row, "doc": chunks[row].doc_id, "chunk": index_files.chunk_to_json(chunks[row]), "lexical": lexical_texts[row] or " ", "vector": vectors[row].tolist()}
                for row in range(start, min(start + BATCH, len(chunks)))
            ]
            self.call("insert chunks", self.client.insert, name, rows)
            if progress:
                progress(len(rows))

    def _insert_sentences(self, name, chunks, spans, vectors, progress) -> None:
        spans = np.asarray(spans, dtype=np.int64).reshape(-1, 3)
        vectors = np.asarray(vectors, dtype=np.float32)
        for start in range(0, len(spans), BATCH):
            rows = [
                {"id": i, "chunk_row": int(spans[i, 0]), "doc": chunks[int(spans[i, 0])].doc_id, "start": int(spans[i, 1]), "end": int(spans[i, 2]), "vector": vectors[i].tolist()}
                for i in range(start, min(start + BATCH, len(spans)))
            ]
            self.call("insert sentences", self.client.insert, name, rows)

    def _insert_meta(self, name: str, records: list[tuple[str, object]]) -> None:
        rows = [{"key": f"{key}#{n:05d}", "value": part, "vector": [0.0, 0.0]} for key, value in records for n, part in enumerate(_json_parts(value))]
        self._insert(name, rows)

    def drop_versions_after(self, live: str) -> None:
        """Drop the versions newer than the live one: what killed builds wrote (call it under the
        build lock, when no build is writing one)."""
        for version in self.versions():
            if version > live:
                self._drop_version(version)

    def _drop_version(self, name: str) -> None:
        for collection in (name, name + SENTENCES_SUFFIX, name + META_SUFFIX):
            with contextlib.suppress(Exception):
                self.client.drop_collection(collection)

    # ------------------------------------------------------------------- reading

    def read_meta(self, version: str) -> dict[str, object]:
        """The version's records but the documents (manifest, term frequencies, completeness), each
        joined from its parts; documents are read one at a time, when asked for (MilvusDocuments)."""
        # without the documents these are a few hundred parts at most (Milvus caps a query at 16,384 rows)
        rows = self.call("read the index's records", self.client.query, version + META_SUFFIX, filter='not (key like "document:%")',
                          output_fields=["key", "value"], limit=16_384)
        return joined_records(rows)

    def open(self, expected: dict | None = None) -> index_files.Index:
        """The live index: its chunk table, documents and sentence spans are read into memory; vectors
        and BM25 stay in Milvus and are searched there."""
        version = self.read_current(fresh=True)
        if version is None:
            raise index_files.IndexMissing(f"no index in {self.describe()}: build it with `{self.rebuild_hint()}`")
        try:
            for collection in (version, version + SENTENCES_SUFFIX, version + META_SUFFIX):
                self.call("load the index", self.client.load_collection, collection)
            meta = self.read_meta(version)
        except MilvusUnavailable as exc:
            raise index_files.IndexCorrupt(f"index {version} in {self.describe()} is damaged ({exc}): rebuild it with `{self.rebuild_hint(full=True)}`") from exc
        if "complete" not in meta or "manifest" not in meta:
            raise index_files.IndexCorrupt(f"index {version} in {self.describe()} is incomplete: rebuild it with `{self.rebuild_hint(full=True)}`")
        manifest = meta["manifest"]
        if expected is not None:
            index_files.check_compatible(manifest, expected, self.describe(), hint=self.rebuild_hint(full=True))
        complete = meta["complete"]
        n_chunks = int(complete["chunks"])
        span_rows = self.paged(version + SENTENCES_SUFFIX, "id", int(complete["sentences"]), ["id", "chunk_row", "start", "end"])
        spans = np.asarray([[r["chunk_row"], r["start"], r["end"]] for r in span_rows], dtype=np.int32).reshape(-1, 3)
        # a build lays the chunks out document by document, in the manifest's order: each document's
        # rows are a range, and a chunk id ("<doc>#<n>") names its row
        entries = manifest.get("documents", [])
        starts = np.cumsum([0] + [int(e["chunks"]) for e in entries]).tolist()
        rows_by_doc = {e["doc"]: np.arange(starts[i], starts[i + 1], dtype=np.int64) for i, e in enumerate(entries)}
        chunks = MilvusChunks(self, version, n_chunks)
        if starts[-1] != n_chunks or len(spans) != int(complete["sentences"]) or manifest.get("chunks") != n_chunks or (
            n_chunks and any(chunks[starts[i]].doc_id != e["doc"] for i, e in enumerate(entries) if starts[i] < starts[i + 1])
        ):
            raise index_files.IndexCorrupt(f"index {version} in {self.describe()} is inconsistent ({n_chunks} chunks, {len(spans)} sentences read): rebuild it with `{self.rebuild_hint(full=True)}`")
        documents = MilvusDocuments(self, version + META_SUFFIX, [e["doc"] for e in entries])
        dimension, sentence_dimension = int(manifest["dimension"]), index_files.sentence_dimension_of(manifest)
        store = MilvusVectorStore(self, version, "row", dimension, n_chunks)
        lexical = MilvusLexical(self, version, n_chunks, meta.get("frequencies") or {})
        sentences = MilvusVectorStore(self, version + SENTENCES_SUFFIX, "id", sentence_dimension, len(spans))
        return MilvusIndex(Path(self.uri), version, manifest, documents, chunks, store, lexical, spans, SentenceVectors(sentences),
                           rows_by_doc=rows_by_doc, row_of=ChunkRows(dict(zip((e["doc"] for e in entries), starts))), sentence_store=sentences)

