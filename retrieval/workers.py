"""Parsing documents in child processes, each with a time and a memory limit.

A PDF whose parsing hangs or balloons in memory is cut off and reported as failed; it cannot stall
the build or take the machine down. Up to `workers` documents are parsed at once (pypdf is pure
Python, so processes, not threads, give the parallelism).
"""

from __future__ import annotations

import multiprocessing
import resource
import time
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.connection import wait
from pathlib import Path

from retrieval.documents import Document, DocumentError, load_document

ParseResult = Document | DocumentError


def _context():
    """Children are forked from the caller. Not forkserver or spawn: those re-run the main module of
    the caller in each child, and under Streamlit the main module is the app script itself."""
    return multiprocessing.get_context("fork")


def _address_space_in_use() -> int:
    """Bytes of address space this process already maps (a forked child starts with its parent's)."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[0]) * resource.getpagesize()


def _child(conn, path: str, catalogue: dict, memory_mb: int) -> None:
    if memory_mb > 0:
        # what the parent already maps (the model, the app) is shared, not new: limit what parsing adds
        limit = _address_space_in_use() + memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        conn.send(load_document(Path(path), catalogue))
    except DocumentError as exc:
        conn.send(exc)
    except MemoryError:
        conn.send(DocumentError(f"parsing needed more than the memory limit ({memory_mb} MB): cut off"))
    except Exception as exc:  # a parser bug on one file is that file's failure
        message = str(exc).splitlines()[0] if str(exc) else ""
        conn.send(DocumentError(f"unexpected parser error: {type(exc).__name__}: {message}".rstrip(": ")))
    finally:
        conn.close()


def parse_isolated(
    paths: Sequence[Path],
    catalogue: dict,
    workers: int = 2,
    timeout_s: float = 120.0,
    memory_mb: int = 2048,
    on_done: Callable[[Path], None] | None = None,
) -> Iterator[tuple[Path, ParseResult]]:
    """Yield (path, Document or DocumentError) for each path, as each finishes."""
    ctx = _context()
    pending = list(paths)
    running: dict = {}  # conn -> (path, process, deadline)
    try:
        while pending or running:
            while pending and len(running) < max(1, workers):
                path = pending.pop(0)
                parent_conn, child_conn = ctx.Pipe(duplex=False)
                process = ctx.Process(target=_child, args=(child_conn, str(path), catalogue, memory_mb), daemon=True)
                process.start()
                child_conn.close()
                running[parent_conn] = (path, process, time.monotonic() + timeout_s)
            nearest = min(deadline for _, _, deadline in running.values())
            ready = wait(list(running), timeout=max(0.0, nearest - time.monotonic()))
            now = time.monotonic()
            for conn in list(running):
                path, process, deadline = running[conn]
                result: ParseResult | None = None
                if conn in ready:
                    try:
                        result = conn.recv()
                    except EOFError:
                        process.join(5)
                        result = DocumentError(
                            f"parser process died (exit code {process.exitcode}): the file may be malformed "
                            f"or need more than the memory limit ({memory_mb} MB)"
                        )
                elif now >= deadline:
                    process.kill()
                    result = DocumentError(f"parsing took longer than {timeout_s:.0f} s: cut off")
                if result is None:
                    continue
                conn.close()
                process.join(5)
                del running[conn]
                if on_done:
                    on_done(path)
                yield path, result
    finally:
        for conn, (_, process, _) in running.items():
            process.kill()
            conn.close()
