"""A connection to Milvus (Lite, embedded, or a server): opened on first use, every call's failure one
line, and rows read a page at a time. The index's place in Milvus (retrieval/store/milvus.py), what an
app server reads from it (milvus_search.py) and the build lock (milvus_lock.py) all talk through it."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
from pathlib import Path

from retrieval.store.index import StoreUnavailable

#: rows per insert and per paged query (Milvus caps one query's offset + limit at 16,384)
BATCH = 2_000


class MilvusUnavailable(StoreUnavailable):
    """Milvus cannot be reached or opened; the message is one line."""


def one_line(exc: BaseException) -> str:
    text = str(getattr(exc, "message", None) or exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


class MilvusConnection:
    """The pymilvus client for one URI, connected once whichever thread asks first."""

    def __init__(self, uri: str, token: str = "") -> None:
        self.uri, self.token = str(uri), token
        self._client = None
        self._connecting = threading.Lock()

    @property
    def is_lite(self) -> bool:
        return not re.match(r"^(https?|tcp|unix):", self.uri)

    @property
    def client(self):
        """The pymilvus client, connected on first use (once, whichever thread asks first)."""
        with self._connecting:
            if self._client is None:
                self._client = self._connect()
            return self._client

    def _connect(self):
        # gRPC's own log lines (keep-alive pings refused by Milvus Lite's server) are not the user's business
        os.environ.setdefault("GRPC_VERBOSITY", "NONE")
        from pymilvus import MilvusClient

        # pymilvus logs each failed call with its traceback (set after its import, which configures
        # its loggers); the failure reaches the user as one line
        logging.getLogger("pymilvus").setLevel(logging.CRITICAL)

        if self.is_lite:
            path = Path(self.uri)
            if path.suffix != ".db":
                raise MilvusUnavailable(f"RAG_MILVUS_URI {self.uri!r}: a Milvus Lite path must end in .db (or give a server, http://host:19530)")
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                return MilvusClient(str(path), timeout=30)
            except Exception as exc:
                if "lock" in str(exc).lower():
                    raise MilvusUnavailable(
                        f"Milvus Lite {self.uri} is open in another process; for several processes run "
                        f"`milvus-lite server --data-dir {self.uri}` and set RAG_MILVUS_URI=http://127.0.0.1:19530"
                    ) from exc
                raise MilvusUnavailable(f"cannot open Milvus Lite {self.uri}: {one_line(exc)}") from exc
        try:
            return MilvusClient(uri=self.uri, token=self.token or "", timeout=10)
        except Exception as exc:
            raise MilvusUnavailable(f"cannot reach Milvus at {self.uri}: {one_line(exc)} (is the server running? check RAG_MILVUS_URI and RAG_MILVUS_TOKEN)") from exc

    def close(self, release: bool = False) -> None:
        """Close the connection; `release` also stops this process's embedded Milvus Lite for the
        path, so another process may open it (only when nothing else here uses it)."""
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close()
            self._client = None
        if release and self.is_lite:
            from milvus_lite.server_manager import server_manager_instance

            server_manager_instance.release_server(str(Path(self.uri).resolve()))

    def call(self, what: str, fn, *args, **kwargs):
        """One Milvus call; any failure becomes a one-line MilvusUnavailable."""
        try:
            return fn(*args, **kwargs)
        except MilvusUnavailable:
            raise
        except Exception as exc:
            raise MilvusUnavailable(f"Milvus at {self.uri} failed to {what}: {one_line(exc)}") from exc

    def paged(self, collection: str, key: str, total: int, fields: list[str], start: int = 0) -> list[dict]:
        """Rows whose integer key is in [start, start + total), in key order, a page at a time."""
        rows: list[dict] = []
        for first in range(start, start + total, BATCH):
            last = min(first + BATCH, start + total)
            rows.extend(self.call("read rows", self.client.query, collection, filter=f"{key} >= {first} and {key} < {last}", output_fields=fields, limit=BATCH))
        return sorted(rows, key=lambda r: r[key])
