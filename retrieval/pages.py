"""The original page behind a citation: a rendered image of the PDF page, or the page's text.

Rendering uses Poppler's `pdftoppm` when it is installed (Debian: `apt-get install poppler-utils`);
without it, or when it fails, callers fall back to `page_text`, the indexed text of that page.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

RENDER_TIMEOUT_S = 20


def can_render() -> bool:
    return shutil.which("pdftoppm") is not None


@lru_cache(maxsize=32)
def _render(path: str, mtime_ns: int, page: int, dpi: int) -> bytes | None:
    exe = shutil.which("pdftoppm")
    if exe is None:
        return None
    with tempfile.TemporaryDirectory(prefix="rag-page-") as tmp:
        out = Path(tmp) / "page"
        try:
            subprocess.run(
                [exe, "-f", str(page), "-l", str(page), "-r", str(dpi), "-png", "-singlefile", path, str(out)],
                check=True, capture_output=True, timeout=RENDER_TIMEOUT_S,
            )
            return (out.with_suffix(".png")).read_bytes()
        except (subprocess.SubprocessError, OSError):
            return None


def render_page(pdf: Path, page: int, dpi: int = 110) -> bytes | None:
    """PNG bytes of one page (numbered from 1) of a PDF, or None when it cannot be rendered."""
    pdf = Path(pdf)
    if page < 1 or not pdf.is_file():
        return None
    with pdf.open("rb") as fh:
        if fh.read(5) != b"%PDF-":
            return None
    return _render(str(pdf.resolve()), pdf.stat().st_mtime_ns, int(page), int(dpi))


def page_text(document, page: int) -> str | None:
    """The indexed text of one page of a document (None when the document has no such page)."""
    starts = list(document.page_starts)
    for i, (number, start) in enumerate(starts):
        if number == page:
            end = starts[i + 1][1] if i + 1 < len(starts) else len(document.text)
            return document.text[start:end].strip()
    return None
