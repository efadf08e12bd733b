"""What the app shows as HTML, in plain strings: escaped fragments, highlighting, citation cards, the
trainer's scores, the presenter's large type.

Safety rule: every piece of text that comes from a document, a file name or a question goes through
`html.escape` *before* any markup is added, and the markup itself never carries text-derived
attributes other than escaped ones. The fragments are rendered with `st.html`, which does not read
Markdown, so `[link](http://evil)` or `![img](http://x)` stay literal text; Streamlit also passes
them through DOMPurify, a second line of defence rather than the first.

Markdown made inert is retrieval/serve/markdown_text.py, the Markdown export retrieval/serve/export.py,
the answer links retrieval/serve/links.py. Nothing here imports Streamlit: these are pure functions
with unit tests (tests/test_presentation.py).
"""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence

Span = tuple[int, int]

#: one style sheet for every fragment, rendered once per page (style-only st.html takes no space)
CSS = """
<style>
.rag-q {font-size: 1.05rem; white-space: pre-wrap; overflow-wrap: anywhere;}
.rag-answer {font-size: 1.05rem; line-height: 1.6;}
.rag-answer .rag-n {font-size: 0.75em; font-weight: 600; color: #1d4ed8; vertical-align: super; margin-left: 0.1em;}
.rag-notcovered {padding: 0.6rem 0.8rem; border-left: 4px solid #b45309; background: #fffbeb; color: #78350f;}
.rag-warning {padding: 0.6rem 0.8rem; border-radius: 0.5rem; background: #fffbeb; color: #78350f; margin-bottom: 0.5rem;}
.rag-card {border: 1px solid #d0d7de; border-radius: 0.5rem; padding: 0.6rem 0.8rem; margin: 0.3rem 0; background: #fafbfc;}
.rag-card .rag-head {font-weight: 600; color: #111827;}
.rag-card .rag-n {display: inline-block; min-width: 1.6em; color: #1d4ed8;}
.rag-card .rag-where {color: #4b5563; font-size: 0.85rem; margin: 0.1rem 0 0.4rem 0;}
.rag-card .rag-file {color: #6b7280; font-size: 0.75rem; font-family: monospace;}
.rag-passage {white-space: pre-wrap; font-size: 0.92rem; line-height: 1.5; color: #1f2937; overflow-wrap: anywhere;}
.rag-passage mark.quoted {background: #fde68a; padding: 0 0.1em;}
.rag-passage mark.term {background: none; color: inherit; text-decoration: underline 2px #2563eb; text-underline-offset: 2px;}
.rag-passage mark.quoted.term {background: #fde68a;}
.rag-passage mark.passage {background: #eef2ff;}
.rag-passage .rag-dim {color: #6b7280;}
.rag-scores {width: 100%; border-collapse: collapse; font-size: 0.85rem;}
.rag-scores td, .rag-scores th {padding: 0.25rem 0.4rem; border-bottom: 1px solid #e5e7eb; vertical-align: top; text-align: left;}
.rag-bar {display: inline-block; height: 0.6rem; border-radius: 0.2rem; vertical-align: middle;}
.rag-bar.dense {background: #2563eb;}
.rag-bar.lexical {background: #059669;}
.rag-bar.none {background: #e5e7eb;}
.rag-terms mark.term {background: #dbeafe; border-radius: 0.2rem; padding: 0 0.2em;}
.rag-presenter {font-size: 1.7rem; line-height: 1.5;}
.rag-presenter .rag-q {font-size: 2.3rem; line-height: 1.25; margin-bottom: 0.4rem;}
.rag-presenter .rag-passage {font-size: 1.5rem; line-height: 1.5;}
.rag-presenter .rag-where {font-size: 1.1rem;}
.rag-presenter .rag-answer {font-size: 1.7rem;}
.rag-nav {text-align: center; font-size: 1.9rem; font-weight: 600; color: #1f2937;}
.rag-nav small {font-size: 1.9rem;}
.st-key-presenter-prev button, .st-key-presenter-next button {min-height: 3.4rem;}
.st-key-presenter-prev button p, .st-key-presenter-next button p {font-size: 1.7rem;}
.st-key-presenter-leave {position: fixed; top: 0.6rem; right: 1.2rem; z-index: 999990; width: auto !important;
  background: rgba(255, 255, 255, 0.94); border-radius: 0.5rem; padding: 0 0.4rem;}
.rag-presenter .rag-q {scroll-margin-top: 3rem;}
</style>
"""


def escape(text: str) -> str:
    """Text made inert for HTML: <, >, &, and both quotes become entities."""
    return html.escape(str(text), quote=True)


_INVISIBLE = {"Cf", "Cc", "Zs", "Zl", "Zp", "Mn"}


def counted(n: int, noun: str, zero: bool = False) -> str:
    """"1 passage", "12 passages"; "" for none unless `zero`."""
    return f"{n} {noun}{'' if n == 1 else 's'}" if n or zero else ""


def is_blank(text: str | None) -> bool:
    """Whether a question holds nothing to read: only whitespace and invisible characters (zero-width
    spaces and joiners, bidirectional marks, combining marks on nothing)."""
    import unicodedata

    return not any(not ch.isspace() and unicodedata.category(ch) not in _INVISIBLE for ch in text or "")




#: the Presenter view hides the sidebar (the page has its own way back)
HIDE_SIDEBAR = '<style>section[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"] {display: none;}</style>'


def scroll_into_view_html(selector: str, from_end: int = 1) -> str:
    """A script that scrolls the `from_end`-th last element matching a CSS selector (a constant of the
    app, never user text) to the top of the view: a new answer is read from its top, warnings
    included. Streamlit's chat container sticks to the bottom while the page grows, so the scroll is
    made again as the last elements arrive (at 0.25, 0.7, 1.5 and 3 s)."""
    if not re.fullmatch(r"[\w\s.\[\]=\"'-]+", selector):
        raise ValueError(f"not a plain selector: {selector!r}")
    return (
        "<script>[250, 700, 1500, 3000].forEach((ms) => setTimeout(() => {"
        f"const all = document.querySelectorAll({selector!r}); const el = all[all.length - {int(from_end)}];"
        " if (el) el.scrollIntoView({block: 'start', behavior: 'instant'});"
        "}, ms));</script>"
    )


# --------------------------------------------------------------------------- highlighting


def merge_spans(spans: Iterable[Span], length: int) -> list[Span]:
    """Spans clipped to [0, length], sorted, overlapping and touching ones merged, empty ones dropped."""
    clipped = sorted((max(0, s), min(length, e)) for s, e in spans)
    out: list[Span] = []
    for s, e in clipped:
        if e <= s:
            continue
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def highlight(text: str, layers: Mapping[str, Iterable[Span]] | None = None) -> str:
    """Escaped `text` with `<mark class="...">` around each layer's spans (offsets into the raw text).

    Layers may overlap: the text is cut at every span boundary and each piece carries the classes
    of all layers covering it, so marks never nest or cross. Class names are the layer names, which
    are fixed identifiers chosen by the caller, never text.
    """
    layers = {name: merge_spans(spans, len(text)) for name, spans in (layers or {}).items()}
    for name in layers:
        if not re.fullmatch(r"[a-z][a-z0-9-]*", name):
            raise ValueError(f"layer name {name!r} is not a plain class name")
    cuts = {0, len(text)}
    for spans in layers.values():
        for s, e in spans:
            cuts.update((s, e))
    bounds = sorted(cuts)
    out = []
    at = dict.fromkeys(layers, 0)  # per layer, its first span that does not end before this piece
    for s, e in itertools.pairwise(bounds):
        piece = escape(text[s:e])
        classes = []
        for name, spans in layers.items():
            i = at[name]
            while i < len(spans) and spans[i][1] <= s:
                i += 1
            at[name] = i
            if i < len(spans) and spans[i][0] <= s and e <= spans[i][1]:
                classes.append(name)
        out.append(f'<mark class="{" ".join(classes)}">{piece}</mark>' if classes else piece)
    return "".join(out)


_WORD = re.compile(r"(?u)\b\w\w+\b")


def term_spans(text: str, terms: Iterable[str], stem: Callable[[str], str]) -> list[Span]:
    """Spans of the words of `text` whose stem is one of `terms` (the question's stemmed terms)."""
    terms = set(terms)
    if not terms:
        return []
    return [(m.start(), m.end()) for m in _WORD.finditer(text) if stem(m.group(0).lower()) in terms]


# --------------------------------------------------------------------------- answers and citations


#: a question longer than this shows its beginning, the rest folded away
FOLD_QUESTION_CHARS = 280


def question_html(question: str) -> str:
    if len(question) <= FOLD_QUESTION_CHARS:
        return f'<div class="rag-q">{escape(question)}</div>'
    head = question[:FOLD_QUESTION_CHARS].rsplit(" ", 1)[0]
    return (f'<div class="rag-q">{escape(head)} … <details><summary>the whole question ({len(question):,} characters)</summary>'
            f"{escape(question)}</details></div>")


def answer_html(answer) -> str:
    """The answer: its sentences with [n] markers, or the not-covered sentence said plainly."""
    if not answer.answerable:
        return f'<div class="rag-notcovered">{escape(answer.text)}</div>'
    parts = [f'{escape(s.text)}<span class="rag-n">[{int(s.n)}]</span>' for s in answer.sentences]
    return f'<div class="rag-answer">{" ".join(parts)}</div>'


def location(citation) -> str:
    """ "Section > Subsection, p. 12" (either part may be missing)."""
    return ", ".join(x for x in (citation.section, citation.page) if x)


def citation_html(citation, terms: Sequence[Span] = (), number: bool = True, quoted: bool = True) -> str:
    """A citation card: title, section path, page, the passage with the quoted sentences marked."""
    layers: dict[str, Iterable[Span]] = {}
    if quoted and citation.quoted:
        layers["quoted"] = citation.quoted
    if terms:
        layers["term"] = terms
    n = f'<span class="rag-n">[{int(citation.n)}]</span> ' if number else ""
    where = escape(location(citation)) or "&nbsp;"
    return (
        '<div class="rag-card">'
        f'<div class="rag-head">{n}{escape(citation.title)}</div>'
        f'<div class="rag-where">{where} <span class="rag-file">{escape(citation.doc)}</span></div>'
        f'<div class="rag-passage">{highlight(citation.text, layers)}</div>'
        "</div>"
    )


def context_html(text: str, passage: Span, quoted: Iterable[Span] = ()) -> str:
    """Surrounding text: `text` (a window of the document) with the cited passage shaded and its
    quoted sentences marked; offsets are into `text`."""
    return f'<div class="rag-passage">{highlight(text, {"passage": [passage], "quoted": quoted})}</div>'


def plain_text_html(text: str) -> str:
    return f'<div class="rag-passage">{escape(text)}</div>'


def _bar(value: float | None, kind: str, width_px: int = 90) -> str:
    if value is None:
        return f'<span class="rag-bar none" style="width:{width_px}px"></span> <span>—</span>'
    fraction = min(1.0, max(0.0, float(value)))
    return f'<span class="rag-bar {kind}" style="width:{round(fraction * width_px)}px"></span>'


def scores_html(hits: Sequence, stem: Callable[[str], str], terms: Iterable[str], question: str, limit: int = 10) -> str:
    """The trainer view: the question with its search terms marked, then for each passage its rank,
    its dense scores (cosine similarity of the passage and of its best sentence, where the index has
    sentence vectors) and its lexical score (BM25, scaled to the best passage) as small bars, each
    with the rank that method gave it."""
    terms = set(terms)
    best_lexical = max((h.lexical_score or 0.0 for h in hits[:limit]), default=0.0) or 1.0
    rows = []
    for h in hits[:limit]:
        c = h.chunk
        dense = (
            f'{_bar(h.dense_score, "dense")} {h.dense_score:.2f} <small>(#{h.dense_rank})</small>'
            if h.dense_score is not None else _bar(None, "dense")
        )
        lexical = (
            f'{_bar(h.lexical_score / best_lexical, "lexical")} {h.lexical_score:.1f} <small>(#{h.lexical_rank})</small>'
            if h.lexical_score is not None else _bar(None, "lexical")
        )
        sentence_score = getattr(h, "sentence_score", None)
        sentence = (
            f'{_bar(sentence_score, "dense")} {sentence_score:.2f} <small>(#{h.sentence_rank})</small>'
            if sentence_score is not None else _bar(None, "dense")
        )
        where = escape(", ".join(x for x in (c.section, c.pages_label) if x))
        snippet = c.text if len(c.text) <= 400 else c.text[:400].rsplit(" ", 1)[0] + " …"
        rows.append(
            f"<tr><td><b>{int(h.rank)}</b></td><td>{dense}</td><td>{sentence}</td><td>{lexical}</td>"
            f'<td><b>{escape(h.title)}</b><br><small>{where}</small>'
            f'<div class="rag-passage">{highlight(snippet, {"term": term_spans(snippet, terms, stem)})}</div></td></tr>'
        )
    terms_line = highlight(question, {"term": term_spans(question, terms, stem)})
    return (
        f'<div class="rag-terms"><small>Search terms (stemmed: {escape(", ".join(sorted(terms))) or "none"})</small>'
        f"<br>{terms_line}</div>"
        '<table class="rag-scores"><tr><th>rank</th><th>dense: passage meaning</th><th>dense: best sentence</th><th>lexical: words (BM25)</th><th>passage</th></tr>'
        + "".join(rows)
        + "</table>"
    )


def presenter_html(answer, citation, position: int, total: int) -> str:
    """Large type for a projector: the answer, then one cited passage (which one of how many is
    `presenter_position_html`, drawn between the Previous and Next buttons above)."""
    head = f'<div class="rag-presenter">{answer_html(answer)}'
    if citation is None:
        return head + "</div>"
    return head + f"{citation_html(citation, number=answer.answerable)}</div>"


def presenter_position_html(answer, position: int, total: int) -> str:
    """"Source 1 of 2" in large type, for the row of the presenter's Previous and Next buttons."""
    if not total:
        return '<div class="rag-nav"><small>No sources</small></div>'
    label = "Source" if answer.answerable else "Related reading"
    return f'<div class="rag-nav"><small>{label} {position} of {total}</small></div>'


# --------------------------------------------------------------------------- context windows


def window(starts_ends: Sequence[Span], index: int) -> Span:
    """The document span from the passage before `index` to the one after (passages in text order)."""
    lo = max(0, index - 1)
    hi = min(len(starts_ends) - 1, index + 1)
    return starts_ends[lo][0], max(e for _, e in starts_ends[lo : hi + 1])
