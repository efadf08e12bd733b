"""The original page behind a citation: the PDF page as an image, with the quoted sentences marked
on it, or the page's indexed text where there is no PDF.

Pages render with PDFium (`pypdfium2`, a PyPI wheel: no system package). The quoted sentences are
found in PDFium's own text of the page, compared as the evaluation compares text (lower case,
letters and digits only, so line breaks, hyphenation and spacing do not matter), and each quoted
character's box is read from PDFium's text page; the boxes of one line are merged into one
rectangle and drawn over the page. A quote that runs on to the next page is marked as far as it goes.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from retrieval.text.cleaning import letters_and_digits

#: rendering resolution (the PDF's 72 points an inch are scaled to this)
DPI = 110
#: the shortest run of a quote, in letters and digits, that is marked on its own
MIN_MARKED = 12
HIGHLIGHT = (255, 214, 0, 96)  # translucent yellow, as a highlighter pen
OUTLINE = (200, 150, 0, 255)

_LOCK = threading.Lock()  # PDFium is not thread-safe: one call into it at a time
Box = tuple[float, float, float, float]  # left, top, right, bottom in image pixels


def render_page(pdf: Path, page: int, quotes: Sequence[str] = (), dpi: int = DPI) -> bytes | None:
    """PNG bytes of one page (numbered from 1) of a PDF with the quotes marked, or None when the
    file is not a PDF, has no such page or cannot be rendered."""
    pdf = Path(pdf)
    if page < 1 or not pdf.is_file():
        return None
    with pdf.open("rb") as fh:
        if fh.read(5) != b"%PDF-":
            return None
    return _render(str(pdf.resolve()), pdf.stat().st_mtime_ns, int(page), tuple(q for q in quotes if q.strip()), int(dpi))


def quote_boxes(pdf: Path, page: int, quotes: Sequence[str], dpi: int = DPI) -> list[Box]:
    """The rectangles (image pixels at `dpi`) that cover the quotes on one page, a line each."""
    import pypdfium2 as pdfium

    with _LOCK:
        document = pdfium.PdfDocument(str(pdf))
        try:
            if page > len(document):
                return []
            return _boxes(document[page - 1], quotes, dpi / 72)
        finally:
            document.close()


@lru_cache(maxsize=64)
def _render(path: str, mtime_ns: int, page: int, quotes: tuple[str, ...], dpi: int) -> bytes | None:
    """Cached by file, version (its modification time), page, quotes and resolution."""
    import pypdfium2 as pdfium
    from PIL import Image, ImageDraw

    with _LOCK:
        try:
            document = pdfium.PdfDocument(path)
        except pdfium.PdfiumError:
            return None
        try:
            if page > len(document):
                return None
            pdf_page = document[page - 1]
            scale = dpi / 72
            image = pdf_page.render(scale=scale).to_pil().convert("RGBA")
            boxes = _boxes(pdf_page, quotes, scale) if quotes else []
        except pdfium.PdfiumError:
            return None
        finally:
            document.close()
    if boxes:
        layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(layer)
        for left, top, right, bottom in boxes:
            draw.rectangle((left - 1, top - 1, right + 1, bottom + 1), fill=HIGHLIGHT, outline=OUTLINE)
        image = Image.alpha_composite(image, layer)
    out = io.BytesIO()
    image.convert("RGB").save(out, format="PNG", optimize=True)
    return out.getvalue()


def _normalised(text: str) -> tuple[str, list[int]]:
    """`letters_and_digits` of a text, and for each character kept the index it came from."""
    keep, where = [], []
    for i, ch in enumerate(text):
        low = letters_and_digits(ch)
        if low:
            keep.append(low)
            where.append(i)
    return "".join(keep), where


def _find(norm_page: str, quote: str) -> tuple[int, int] | None:
    """Where a quote is in the page's normalised text (start, end), or the longest part of it that
    is: a quote that began on the page before, or goes on to the next, is marked as far as it goes."""
    q = letters_and_digits(quote)
    if len(q) < MIN_MARKED:
        return None
    at = norm_page.find(q)
    if at >= 0:
        return at, at + len(q)
    # the quote's head at the end of the page, or its tail at the start
    for size in range(len(q) - 1, MIN_MARKED - 1, -max(1, len(q) // 20)):
        if norm_page.endswith(q[:size]):
            return len(norm_page) - size, len(norm_page)
        if norm_page.startswith(q[-size:]):
            return 0, size
    return None


def _boxes(pdf_page, quotes: Sequence[str], scale: float) -> list[Box]:
    textpage = pdf_page.get_textpage()
    try:
        n = textpage.count_chars()
        text = textpage.get_text_range(0, n) if n > 0 else ""
        if len(text) != n:  # PDFium's text and its character indexes no longer match one to one
            text = "".join(textpage.get_text_range(i, 1) or " " for i in range(n))
        norm, where = _normalised(text)
        _, height = pdf_page.get_size()
        boxes: list[Box] = []
        for quote in quotes:
            found = _find(norm, quote)
            if found is None:
                continue
            chars = [textpage.get_charbox(where[j]) for j in range(found[0], found[1])]
            boxes.extend(_lines(chars, height, scale))
        return boxes
    finally:
        textpage.close()


def _lines(chars: Sequence[tuple[float, float, float, float]], height: float, scale: float) -> list[Box]:
    """Character boxes (PDF points: left, bottom, right, top) merged into one rectangle per line."""
    lines: list[list[float]] = []
    for left, bottom, right, top in chars:
        if right <= left or top <= bottom:
            continue
        line = lines[-1] if lines else None
        same_line = line is not None and bottom < line[3] and top > line[1] and left >= line[0] - 2
        if same_line:
            line[0], line[1], line[2], line[3] = min(line[0], left), min(line[1], bottom), max(line[2], right), max(line[3], top)
        else:
            lines.append([left, bottom, right, top])
    return [(l * scale, (height - t) * scale, r * scale, (height - b) * scale) for l, b, r, t in lines]


def page_text(document, page: int) -> str | None:
    """The indexed text of one page of a document (None when the document has no such page)."""
    starts = list(document.page_starts)
    for i, (number, start) in enumerate(starts):
        if number == page:
            end = starts[i + 1][1] if i + 1 < len(starts) else len(document.text)
            return document.text[start:end].strip()
    return None
