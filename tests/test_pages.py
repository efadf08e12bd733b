"""The original page: real PDFs rendered with PDFium, and the quoted sentences' boxes holding the quoted words."""

from __future__ import annotations

import re

import pytest

from retrieval.serve.pages import DPI, quote_boxes, render_page

CASES = [
    # (file, page, quote): a two-column page, then single-column pages with a sentence the test picks
    ("eu-regulation-604-2013-dublin-iii.pdf", 10,
     "Where several family members and/or minor unmarried siblings submit applications for international protection in the same Member State simultaneously"),
    ("uk-home-office-sponsor-a-skilled-worker-guidance-2025.pdf", 7, None),
    ("unhcr-1951-convention-1967-protocol-status-of-refugees.pdf", 26, None),
]


def _norm(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.lower())


def _a_sentence_of(path, page: int) -> str:
    """A sentence of the page as PDFium reads it: the test picks its own quote from the real page."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(str(path))
    try:
        text = document[page - 1].get_textpage().get_text_range()
    finally:
        document.close()
    sentences = [s.strip() for s in re.split(r"(?<=[.;])\s+", " ".join(text.split())) if 12 <= len(s.split()) <= 40]
    assert sentences, f"no sentence to quote on page {page}"
    return sentences[len(sentences) // 2]


@pytest.mark.parametrize("name,page,quote", CASES)
def test_the_marked_boxes_hold_the_quoted_words(shared_pdfs, name, page, quote):
    import pypdfium2 as pdfium

    path = next(p for p in shared_pdfs if p.name == name)
    quote = quote or _a_sentence_of(path, page)
    boxes = quote_boxes(path, page, [quote])
    assert boxes, "the quote is found on its page"
    scale = DPI / 72
    document = pdfium.PdfDocument(str(path))
    try:
        pdf_page = document[page - 1]
        _, height = pdf_page.get_size()
        textpage = pdf_page.get_textpage()
        inside = "".join(
            textpage.get_text_bounded(left / scale, height - bottom / scale, right / scale, height - top / scale)
            for left, top, right, bottom in boxes
        )
    finally:
        document.close()
    assert _norm(quote) in _norm(inside), (quote, inside)
    # and not much besides: the boxes are the quote's lines, not the page
    assert len(_norm(inside)) < 1.6 * len(_norm(quote)) + 60


def test_render_marks_the_page_and_refuses_what_is_not_a_page(shared_pdfs, tmp_path):
    path = next(p for p in shared_pdfs if p.name.startswith("eu-regulation-604"))
    plain = render_page(path, 10)
    marked = render_page(path, 10, [CASES[0][2]])
    assert plain.startswith(b"\x89PNG") and marked.startswith(b"\x89PNG") and plain != marked
    assert render_page(path, 10, ["words that are not on this page at all, anywhere"]) == plain
    assert render_page(path, 10_000) is None and render_page(path, 0) is None
    text = tmp_path / "notes.pdf"
    text.write_text("not a PDF", encoding="utf-8")
    assert render_page(text, 1) is None
