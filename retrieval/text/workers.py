"""Reading documents in child processes, each with a time and a memory limit.

All per-document work of a build runs there: parsing and cleaning, and, given a `prepare` step, the
chunking and sentence splitting that follow (retrieval.build.pipeline). A document whose reading hangs or
balloons in memory is cut off and reported as failed (a `LimitExceeded`); it cannot stall the build,
the app process or the machine. Up to `workers` documents are parsed at once (pypdf is pure
Python, so processes, not threads, give the parallelism); each process parses many documents.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import time
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.connection import wait
from pathlib import Path

from threadpoolctl import threadpool_limits

from retrieval.text.documents import Document, DocumentError, load_document

# This module forks, and a build forks from a background thread (the app's rebuild) while other
# threads ask questions. OpenBLAS stops its thread pool before every fork (its own pthread_atfork
# handler), so a NumPy product running on that pool in another thread at that moment waits forever
# for threads that are gone: a question hung for good. One BLAS thread has no pool to lose; the
# products here (a question against the sentence vectors) are matrix-vector, bound by memory, not
# by cores. The variable covers a BLAS loaded later (FAISS's); the limit the one NumPy has loaded.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
threadpool_limits(1, user_api="blas")


class LimitExceeded(DocumentError):
    """A document cut off for the time or the memory limit (not for what it holds): retrying it with
    the same content and limits would fail the same way, so a build remembers it."""


def _context():
    """Children are forked from the caller. Not forkserver or spawn: those re-run the main module of
    the caller in each child, and under Streamlit the main module is the app script itself."""
    return multiprocessing.get_context("fork")


def _address_space_in_use() -> int:
    """Bytes of address space this process already maps (a forked child starts with its parent's)."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[0]) * resource.getpagesize()


def _limit_memory(memory_mb: int) -> None:
    """This (forked) process may add at most memory_mb of address space: what the parent already
    maps (the model, the app) is shared, not new, so the limit is on what the work adds."""
    if memory_mb > 0:
        limit = _address_space_in_use() + memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _die_with_parent(parent_pid: int) -> None:
    """Linux: this process is killed when the process that started it dies, even by SIGKILL, so no
    orphan goes on parsing or holds the build lock it inherited."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent_pid:  # the parent died before the line above
        os._exit(1)


def _worker(conn, catalogue: dict, memory_mb: int, parent_pid: int, prepare: Callable[[Document], object] | None) -> None:
    """A parser process: reads one path at a time (parse, then `prepare` the Document if given) until
    told to stop (None) or the parent goes."""
    _die_with_parent(parent_pid)
    _limit_memory(memory_mb)
    while True:
        try:
            path = conn.recv()
        except (EOFError, OSError):
            return
        if path is None:
            return
        healthy = True
        try:
            result = load_document(Path(path), catalogue)
            if prepare is not None:
                result = prepare(result)
        except DocumentError as exc:
            result = exc
        except MemoryError:
            result, healthy = LimitExceeded(f"reading it needed more than the memory limit ({memory_mb} MB): cut off"), False
        except Exception as exc:  # a parser bug on one file is that file's failure
            message = str(exc).splitlines()[0] if str(exc) else ""
            result = DocumentError(f"unexpected parser error: {type(exc).__name__}: {message}".rstrip(": "))
        conn.send((result, healthy))
        if not healthy:
            return  # after a MemoryError the heap may be in any state: the parent starts a fresh process


class _Worker:
    def __init__(self, ctx, catalogue: dict, memory_mb: int, prepare: Callable[[Document], object] | None) -> None:
        self.conn, child_conn = ctx.Pipe(duplex=True)
        self.process = ctx.Process(target=_worker, args=(child_conn, catalogue, memory_mb, os.getpid(), prepare), daemon=True)
        self.process.start()
        child_conn.close()
        self.path: Path | None = None
        self.deadline = 0.0

    def give(self, path: Path, timeout_s: float) -> None:
        self.path, self.deadline = path, time.monotonic() + timeout_s
        self.conn.send(str(path))

    def stop(self, kill: bool = False) -> None:
        if kill or self.path is not None:
            self.process.kill()
        else:
            try:
                self.conn.send(None)
            except OSError:
                self.process.kill()
        self.process.join(5)
        self.conn.close()


class ParserPool:
    """Up to `workers` parser processes, each forked once and reused for many documents. Forking a
    process that holds the model costs ~10 ms of page-table copying and teardown: once per document
    that was 8.7 s for 800 small Markdown files, against 0.4 s of actual parsing. A process is replaced
    only when it is cut off (time), dies, or ran out of memory."""

    def __init__(
        self, catalogue: dict, workers: int = 2, timeout_s: float = 120.0, memory_mb: int = 2048,
        prepare: Callable[[Document], object] | None = None,
    ) -> None:
        self.catalogue, self.workers, self.timeout_s, self.memory_mb = catalogue, max(1, workers), timeout_s, memory_mb
        #: work on each parsed Document inside the worker, under the same limits (forked, not pickled)
        self.prepare = prepare
        self.processes_started = 0

    def _start(self, ctx) -> _Worker:
        self.processes_started += 1
        return _Worker(ctx, self.catalogue, self.memory_mb, self.prepare)

    def parse(self, paths: Sequence[Path], on_done: Callable[[Path], None] | None = None) -> Iterator[tuple[Path, object]]:
        """Yield (path, result) for each path, as each finishes: the Document (or what `prepare`
        made of it), or a DocumentError (a LimitExceeded when cut off for time or memory)."""
        ctx = _context()
        pending = list(paths)
        pool = [self._start(ctx) for _ in range(min(self.workers, len(pending)))]
        try:
            while pending or any(w.path is not None for w in pool):
                for i, worker in enumerate(pool):
                    if worker.path is None and pending:
                        if not worker.process.is_alive():  # gone while idle (killed from outside)
                            worker.stop(kill=True)
                            pool[i] = worker = self._start(ctx)
                        worker.give(pending.pop(0), self.timeout_s)
                busy = [w for w in pool if w.path is not None]
                nearest = min(w.deadline for w in busy)
                ready = wait([w.conn for w in busy], timeout=max(0.0, nearest - time.monotonic()))
                now = time.monotonic()
                for i, worker in enumerate(pool):
                    if worker.path is None:
                        continue
                    path, result, replace = worker.path, None, False
                    if worker.conn in ready:
                        try:
                            result, healthy = worker.conn.recv()
                            replace = not healthy
                        except (EOFError, OSError):
                            worker.process.join(5)
                            result = LimitExceeded(
                                f"parser process died (exit code {worker.process.exitcode}): the file may be malformed "
                                f"or need more than the memory limit ({self.memory_mb} MB)"
                            )
                            replace = True
                    elif now >= worker.deadline:
                        result, replace = LimitExceeded(f"reading it (parsing, chunking) took longer than {self.timeout_s:.0f} s: cut off"), True
                    if result is None:
                        continue
                    worker.path = None
                    if replace:
                        worker.stop(kill=True)
                        pool[i] = self._start(ctx) if pending else worker
                    if on_done:
                        on_done(path)
                    yield path, result
        finally:
            for worker in pool:
                if worker.process.is_alive() or not worker.conn.closed:
                    worker.stop(kill=worker.path is not None)


def _limited_child(conn, work: Callable[[], object], memory_mb: int, parent_pid: int) -> None:
    _die_with_parent(parent_pid)
    _limit_memory(memory_mb)
    try:
        outcome = ("ok", work())
    except MemoryError:
        outcome = ("error", LimitExceeded(f"needed more than the memory limit ({memory_mb} MB): cut off"))
    except Exception as exc:  # sent back and raised in the caller
        outcome = ("error", exc)
    try:
        conn.send(outcome)
    except Exception as exc:  # an exception that cannot be pickled: its message is enough
        conn.send(("error", DocumentError(f"{type(exc).__name__}: {exc}")))
    conn.close()


def call_limited(work: Callable[[], object], timeout_s: float = 60.0, memory_mb: int = 2048) -> object:
    """work() in a forked child process with a time and a memory limit (the upload-time PDF check):
    returns its result or raises the exception it raised; LimitExceeded when it was cut off."""
    ctx = _context()
    conn, child_conn = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_limited_child, args=(child_conn, work, memory_mb, os.getpid()), daemon=True)
    process.start()
    child_conn.close()
    try:
        if not conn.poll(timeout_s):
            raise LimitExceeded(f"took longer than {timeout_s:.0f} s: cut off")
        try:
            status, value = conn.recv()
        except (EOFError, OSError):
            process.join(5)
            raise LimitExceeded(f"the checking process died (exit code {process.exitcode}): the memory limit ({memory_mb} MB)?") from None
    finally:
        if process.is_alive():
            process.kill()
        process.join(5)
        conn.close()
    if status == "error":
        raise value
    return value


def parse_isolated(
    paths: Sequence[Path],
    catalogue: dict,
    workers: int = 2,
    timeout_s: float = 120.0,
    memory_mb: int = 2048,
    on_done: Callable[[Path], None] | None = None,
    prepare: Callable[[Document], object] | None = None,
) -> Iterator[tuple[Path, object]]:
    """Yield (path, result) for each path, as each finishes (see ParserPool.parse)."""
    yield from ParserPool(catalogue, workers, timeout_s, memory_mb, prepare).parse(paths, on_done)
