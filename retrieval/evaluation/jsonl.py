"""Reading a JSON Lines file a user gives (`--queries`, `compare`'s answer files): one line per row,
blank lines skipped, and a one-line error naming the file and line for anything unreadable."""

from __future__ import annotations

import json
from pathlib import Path


class JsonLinesError(ValueError):
    """The file cannot be read, or a line is not JSON; the message is one line."""


def read_jsonl(path: Path) -> list[tuple[int, object]]:
    """(line number, parsed value) for each non-blank line of `path`."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise JsonLinesError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise JsonLinesError(f"{path}: not UTF-8 text") from exc
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rows.append((number, json.loads(line)))
        except ValueError as exc:
            raise JsonLinesError(f"{path}:{number}: not JSON: {exc}") from exc
    return rows
