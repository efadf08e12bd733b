"""What the app shows, as plain strings: escaped HTML fragments, the Markdown export, snapshot links.

Safety rule: every piece of text that comes from a document, a file name or a question goes through
`html.escape` *before* any markup is added, and the markup itself never carries text-derived
attributes other than escaped ones. The fragments are rendered with `st.html`, which does not read
Markdown, so `[link](http://evil)` or `![img](http://x)` stay literal text; Streamlit also passes
them through DOMPurify, a second line of defence rather than the first.

Nothing here imports Streamlit: these are pure functions with unit tests (tests/test_presentation.py).
"""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlencode

from retrieval.store.index import VERSION_NAME

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


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>!|~$#{}])")


def escape_markdown(text: str) -> str:
    """Text made inert for Markdown: link, image, emphasis, code, HTML and math syntax backslash-escaped."""
    return _MD_SPECIAL.sub(r"\\\1", str(text))


_AUTOLINK = re.compile(r"(?i)(https?|ftp)(:)(//)|\b(www)(\.)|(@)")


def inert_markdown(text: str) -> str:
    """`escape_markdown`, and bare URLs, "www." names and e-mail addresses kept from turning into
    links (GitHub-flavoured Markdown links them by itself): an invisible word joiner (U+2060) breaks
    the pattern without changing what the reader sees; the same joiner after a colon keeps a question's
    `:material/...:` or `:smile:` from being drawn as an icon. For messages shown with st.error,
    button labels and the like."""

    return _SHORTCODE.sub(":\u2060", _AUTOLINK.sub(_join_autolink, escape_markdown(text)))


#: a colon that opens a Streamlit shortcode: `:material/icon:`, an emoji `:smile:`, a colour `:red[...]`
_SHORTCODE = re.compile(r":(?=[A-Za-z])")
_INVISIBLE = {"Cf", "Cc", "Zs", "Zl", "Zp", "Mn"}


def counted(n: int, noun: str, zero: bool = False) -> str:
    """"1 passage", "12 passages"; "" for none unless `zero`."""
    return f"{n} {noun}{'' if n == 1 else 's'}" if n or zero else ""


def is_blank(text: str | None) -> bool:
    """Whether a question holds nothing to read: only whitespace and invisible characters (zero-width
    spaces and joiners, bidirectional marks, combining marks on nothing)."""
    import unicodedata

    return not any(not ch.isspace() and unicodedata.category(ch) not in _INVISIBLE for ch in text or "")


def _join_autolink(m: re.Match) -> str:
    if m.group(6):
        return "\u2060@"
    if m.group(4):
        return f"{m.group(4)}\u2060."
    return f"{m.group(1)}:\u2060//"


_BLOCK_START = re.compile(r"^(\d{1,9}(?=[.)])|[-+=])")


def _inert_line_start(line: str) -> str:
    """A line that cannot open a block: a leading list marker ("-", "+", "1.", "2)") or a setext
    underline ("===", "---") backslash-escaped (the other block openers, "#", ">", "*", "`", "~",
    "|", are escaped everywhere by escape_markdown)."""
    m = _BLOCK_START.match(line)
    if not m:
        return line
    if m.group(1)[0].isdigit():
        return f"{m.group(1)}\\{line[m.end()]}{line[m.end() + 1:]}"
    return "\\" + line


def markdown_line(text: str) -> str:
    """Text from a question, a link or a document as one inert line of Markdown: whitespace and line
    breaks collapsed to single spaces, escaped (inert_markdown), and no block opened at its start."""
    return _inert_line_start(inert_markdown(" ".join(str(text).split())))


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


# --------------------------------------------------------------------------- snapshot links

SNAPSHOT_KEYS = ("q", "doc", "after", "v")


@dataclass(frozen=True)
class Snapshot:
    """What reproduces an answer: the question, the documents asked, the previous question of a
    follow-up, and the index version it came from."""

    question: str
    docs: tuple[str, ...] = ()
    version: str = ""
    after: str = ""  # the previous turn's query, for a follow-up ("" otherwise)


def snapshot_query(snapshot: Snapshot) -> str:
    """The URL query string (without '?') of a snapshot; every value percent-encoded."""
    pairs = [("q", snapshot.question)]
    pairs += [("doc", d) for d in snapshot.docs]
    if snapshot.after:
        pairs.append(("after", snapshot.after))
    if snapshot.version:
        pairs.append(("v", snapshot.version))
    return urlencode(pairs)


def snapshot_link(snapshot: Snapshot, base_url: str | None = None) -> str:
    return f"{(base_url or '').split('?')[0]}?{snapshot_query(snapshot)}"


def _values(params: Mapping, key: str) -> list[str]:
    value = params.get(key)
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


#: what a link may carry: a question (and the previous one) of at most this many characters, at
#: most this many documents, each name at most this long
LINK_TEXT_CHARS = 1000
LINK_DOCS = 20
LINK_DOC_CHARS = 120
#: the index versions a link may name, as either back end names them: the files back end's version
#: folder, v<time>-<hex6> (retrieval.store.index.VERSION_NAME), or Milvus's collections,
#: <prefix>_v<time>_<hex6> (retrieval.store.milvus.version_name; the prefix, RAG_MILVUS_COLLECTION,
#: is a collection name: a letter or "_", then letters, digits and "_")
LINK_VERSION = re.compile(rf"{VERSION_NAME.pattern}|[A-Za-z_][A-Za-z0-9_]{{0,200}}_v\d{{8}}T\d{{6}}_[0-9a-f]{{6}}")


def parse_snapshot(params: Mapping | str) -> Snapshot | None:
    """A snapshot from query parameters (a mapping of str or list of str, or a query string); None without a question."""
    if isinstance(params, str):
        params = parse_qs(params.lstrip("?"), keep_blank_values=True)
    question = " ".join(" ".join(_values(params, "q"))[: 4 * LINK_TEXT_CHARS].split())
    if is_blank(question):
        return None
    docs = tuple(dict.fromkeys(" ".join(d.split())[:LINK_DOC_CHARS] for raw in _values(params, "doc")[:LINK_DOCS]
                               for d in raw.split(",")[:LINK_DOCS] if d.strip()))[:LINK_DOCS]
    after = " ".join((_values(params, "after") or [""])[-1][: 4 * LINK_TEXT_CHARS].split())
    version = (_values(params, "v") or [""])[-1].strip()

    if not LINK_VERSION.fullmatch(version):
        version = ""  # only a version name as either store writes them; anything else is dropped
    return Snapshot(question=question[:LINK_TEXT_CHARS], docs=docs, version=version, after=after[:LINK_TEXT_CHARS])


# --------------------------------------------------------------------------- Markdown export


@dataclass
class Turn:
    """One question and its answer as the app keeps it in the session."""

    answer: object  # retrieval.ask.answer.Answer
    docs: tuple[str, ...] = ()
    version: str = ""
    after: str = ""
    #: a remark shown with the answer, e.g. that a snapshot link's index version has changed
    note: str = ""
    asked_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def snapshot(self) -> Snapshot:
        return Snapshot(self.answer.question, self.docs, self.version, self.after)


def _quote_block(text: str, spans: Sequence[Span]) -> str:
    """A passage as a Markdown block quote, with the quoted sentences in bold; everything escaped."""
    spans = merge_spans(spans, len(text))
    pieces, pos = [], 0
    for s, e in spans:
        pieces.append(escape_markdown(text[pos:s]))
        inner = text[s:e].strip()
        lead, trail = text[s:e][: len(text[s:e]) - len(text[s:e].lstrip())], text[s:e][len(text[s:e].rstrip()) :]
        pieces.append(f"{escape_markdown(lead)}**{escape_markdown(inner)}**{escape_markdown(trail)}" if inner else escape_markdown(text[s:e]))
        pos = e
    pieces.append(escape_markdown(text[pos:]))
    body = _AUTOLINK.sub(_join_autolink, "".join(pieces))
    lines = [_inert_line_start(" ".join(line.split())) for line in body.split("\n")]
    return "\n".join("> " + line if line else ">" for line in lines)


def _source_line(c) -> str:
    where = markdown_line(location(c))
    return f"{markdown_line(c.title)}{' — ' + where if where else ''} (`{' '.join(c.doc.replace('`', '').split())}`)"


def conversation_markdown(turns: Sequence[Turn], titles: Mapping[str, str] | None = None, base_url: str | None = None, title: str = "Migration policy assistant") -> str:
    """The conversation as a Markdown document: each question, its answer with [n] markers, its
    sources with the passages quoted, and the link that reproduces it."""
    titles = titles or {}
    lines = [f"# {title}: conversation", "", f"Exported {datetime.now(UTC).isoformat(timespec='seconds')}.", ""]
    for i, turn in enumerate(turns, start=1):
        a = turn.answer
        lines += [f"## {i}. {markdown_line(a.question)}", ""]
        if turn.docs:
            lines += ["*Asked only: " + "; ".join(markdown_line(titles.get(d, d)) for d in turn.docs) + "*", ""]
        if turn.after:
            lines += [f"*Read as a follow-up to: {markdown_line(turn.after)}*", ""]
        lines += [markdown_line(a.text), ""]
        if a.lacks_note:
            lines += [f"*{markdown_line(a.lacks_note)}*", ""]
        cited = a.citations if a.answerable else a.related
        if cited:
            lines += ["**Sources**" if a.answerable else "**Related reading** (closest passages, not an answer)", ""]
            for c in cited:
                lines += [f"[{c.n}] {_source_line(c)}" if a.answerable else f"- {_source_line(c)}", ""]
                lines += [_quote_block(c.text, c.quoted if a.answerable else ()), ""]
        meta = f"Index version `{turn.version}`" if turn.version else ""
        link = snapshot_link(turn.snapshot, base_url)
        lines += [f"{meta}{'. ' if meta else ''}Reproduce: <{link}>", ""]
    return "\n".join(lines).rstrip() + "\n"
