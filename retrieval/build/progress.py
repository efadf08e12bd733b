"""Progress of long work: a tqdm bar on stderr for the terminal, and the same counts to a callback
(the app's progress bar)."""

from __future__ import annotations

import sys
from collections.abc import Callable

#: progress callback: (stage, done, total) with stage "parsing" or "embedding"
ProgressCallback = Callable[[str, int, int], None]


class Progress:
    """A tqdm bar on stderr for the terminal, and the same counts to a callback (the app's progress bar)."""

    def __init__(self, total: int, stage: str, enabled: bool, callback: ProgressCallback | None) -> None:
        from tqdm import tqdm

        self.stage, self.total, self.done, self.callback = stage, total, 0, callback
        unit = "doc" if stage == "parsing" else "chunk"
        self.bar = tqdm(total=total, desc=stage, unit=unit, file=sys.stderr, disable=not enabled, dynamic_ncols=True, leave=True)
        if callback:
            callback(stage, 0, total)

    def update(self, n: int = 1) -> None:
        self.done += n
        self.bar.update(n)
        if self.callback:
            self.callback(self.stage, self.done, self.total)

    def set_postfix_str(self, text: str) -> None:
        self.bar.set_postfix_str(text)

    def close(self) -> None:
        self.bar.close()
