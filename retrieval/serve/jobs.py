"""Work in a background thread (a rebuild, an evaluation) with progress counts the page can poll."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable


class Job:
    """Work in a background thread with progress counts the page can poll."""

    def __init__(self, kind: str, work: Callable[[Job], object], on_done: Callable[[Job], object] | None = None) -> None:
        self.kind = kind
        self._on_done = on_done
        self.id = uuid.uuid4().hex[:8]
        self.stage = "starting"
        self.done = 0
        self.total = 0
        self.result: object = None
        self.error: str | None = None
        self.started = time.time()
        self.finished: float | None = None
        self._work = work
        self._thread = threading.Thread(target=self._run, name=f"rag-{kind}-{self.id}", daemon=True)

    def start(self) -> Job:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self.result = self._work(self)
        except Exception as exc:
            self.error = str(exc) or type(exc).__name__
        finally:
            if self._on_done is not None:  # before the job counts as finished: whoever sees it finished sees its record
                with contextlib.suppress(Exception):  # a failing record never hides the job's own outcome
                    self._on_done(self)  # e.g. the audit log's record of the outcome
            self.finished = time.time()

    def progress(self, stage: str, done: int, total: int) -> None:
        self.stage, self.done, self.total = stage, done, total

    @property
    def running(self) -> bool:
        return self.finished is None

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 0.0

    @property
    def elapsed(self) -> float:
        return (self.finished or time.time()) - self.started

    def wait(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self.running
