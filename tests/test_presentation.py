"""What the app shows: escaping (HTML and Markdown), highlighting, the Markdown export, snapshot links (no Streamlit, no model)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from hypothesis import given
from hypothesis import strategies as st

from retrieval import NOT_COVERED, Chunk, Hit
from retrieval.ask.cited_answer import Answer, AnswerSentence, Citation
from retrieval.serve.export import conversation_markdown
from retrieval.serve.links import Snapshot, parse_snapshot, snapshot_link, snapshot_query
from retrieval.serve.markdown_text import escape_markdown, inert_markdown
from retrieval.serve.presentation import (
    answer_html,
    citation_html,
    context_html,
    highlight,
    merge_spans,
    presenter_html,
    question_html,
    scores_html,
    term_spans,
    window,
)
from retrieval.serve.turn import Turn

EVIL = [
    "<img src=x onerror=alert(1)>",
    "<script>alert('x')</script>",
    "[link](http://evil)",
    "![img](http://x)",
    '"><a href="javascript:alert(1)">x</a>',
    "&lt;b&gt; already escaped",
]


class _Tags(HTMLParser):
    """Collects every tag and attribute of an HTML fragment."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parse(fragment: str) -> _Tags:
    parser = _Tags()
    parser.feed(fragment)
    parser.close()
    return parser


SAFE_TAGS = {"div", "span", "mark", "small", "b", "br", "p", "table", "tr", "td", "th"}


def assert_inert(fragment: str, original: str) -> None:
    """Only our own tags, no links, images, scripts or event handlers, and the text itself intact."""
    parsed = parse(fragment)
    for tag, attrs in parsed.tags:
        assert tag in SAFE_TAGS, (tag, fragment)
        assert set(attrs) <= {"class", "style", "title"}, attrs
        assert "javascript" not in " ".join(v or "" for v in attrs.values())
    assert original in "".join(parsed.text)


def citation(text="The first sentence. The second sentence is quoted. The third one.", quoted=((20, 50),), **kw) -> Citation:
    values = {"n": 1, "doc": "doc.pdf", "title": "A Title", "section": "Part I > Article 3", "page": "p. 4", "page_start": 4,
              "page_end": 4, "text": text, "chunk_id": "doc.pdf#3", "start": 100, "end": 100 + len(text), "quoted": quoted}
    values.update(kw)
    return Citation(**values)


def answer(question="What is quoted?", cites=None) -> Answer:
    cites = cites or (citation(),)
    c = cites[0]
    sentence = c.text[c.quoted[0][0] : c.quoted[0][1]]
    return Answer(question, question, True, 0.8, (AnswerSentence(sentence, 1),), tuple(cites))


# --------------------------------------------------------------------------- escaping


def test_questions_are_rendered_as_text():
    for text in EVIL:
        fragment = question_html(text)
        assert_inert(fragment, text)
        assert "<img" not in fragment and "<script" not in fragment and "<a " not in fragment


def test_markdown_syntax_in_html_fragments_stays_literal():
    # st.html does not read Markdown; the brackets reach the page as the characters they are
    fragment = question_html("[link](http://evil) and ![img](http://x)")
    assert "[link](http://evil)" in fragment and "![img](http://x)" in fragment
    assert "href" not in fragment and "src" not in fragment


def test_document_text_in_citations_and_answers_is_escaped():
    for text in EVIL:
        passage = f"Before. {text} is in the passage. After."
        start = passage.index(text)
        c = citation(text=passage, quoted=((start, start + len(text)),), title=text, section=text)
        assert_inert(citation_html(c), text)
        a = Answer(text, text, True, 0.9, (AnswerSentence(text, 1),), (c,))
        assert_inert(answer_html(a), text)
        assert_inert(presenter_html(a, c, 1, 1), text)


def test_escape_markdown_neutralises_links_images_and_html():
    for text in EVIL:
        escaped = escape_markdown(text)
        assert not re.search(r"(?<!\\)\[", escaped) and not re.search(r"(?<!\\)<", escaped)
    assert escape_markdown("a_b*c`d$e") == r"a\_b\*c\`d\$e"
    assert escape_markdown("plain words, 12.5 per cent") == "plain words, 12.5 per cent"


def test_inert_markdown_also_breaks_bare_links():
    out = inert_markdown("see http://evil.example/x, www.evil.example and mail me@evil.example [x](y)")
    assert "http://" not in out and "www." not in out and "me@" not in out
    assert out.replace("\u2060", "") == "see http://evil.example/x, www.evil.example and mail me@evil.example \\[x\\](y)"


# --------------------------------------------------------------------------- highlighting


def test_highlight_marks_spans_of_the_raw_text_after_escaping():
    text = "a < b & c > d"
    assert highlight(text, {"quoted": [(4, 5)]}) == 'a &lt; <mark class="quoted">b</mark> &amp; c &gt; d'
    assert highlight(text) == "a &lt; b &amp; c &gt; d"


def test_highlight_overlapping_layers_never_nest():
    text = "one two three four"
    out = highlight(text, {"quoted": [(0, 13)], "term": [(4, 7), (8, 18)]})
    assert out == ('<mark class="quoted">one </mark><mark class="quoted term">two</mark><mark class="quoted"> </mark>'
                   '<mark class="quoted term">three</mark><mark class="term"> four</mark>')


def test_highlight_refuses_class_names_that_are_not_identifiers():
    import pytest

    with pytest.raises(ValueError):
        highlight("x", {'q" onmouseover="alert(1)': [(0, 1)]})


@given(st.text(max_size=60), st.lists(st.tuples(st.integers(-5, 70), st.integers(-5, 70)), max_size=5))
def test_highlight_keeps_the_text_and_escapes_everything(text, spans):
    out = highlight(text, {"quoted": spans})
    stripped = re.sub(r"</?mark[^>]*>", "", out)
    import html

    assert html.unescape(stripped) == text
    assert "<" not in stripped and ">" not in stripped


def test_merge_spans():
    assert merge_spans([(5, 9), (0, 2), (1, 3), (9, 12), (20, 30), (4, 4)], 25) == [(0, 3), (5, 12), (20, 25)]


def test_term_spans_match_stems():
    stem = lambda w: w.rstrip("s")
    text = "Refugees and refugee rights; the Refugee."
    assert [text[s:e] for s, e in term_spans(text, {"refugee"}, stem)] == ["Refugees", "refugee", "Refugee"]
    assert term_spans(text, set(), stem) == []


def test_citation_card_shows_title_section_page_and_marks_the_quoted_sentence():
    c = citation()
    fragment = citation_html(c)
    assert "A Title" in fragment and "Part I &gt; Article 3, p. 4" in fragment and "doc.pdf" in fragment
    assert '<mark class="quoted">The second sentence is quoted.</mark>' in fragment


def test_not_covered_is_said_plainly():
    a = Answer("goulash?", "goulash?", False, 0.1, related=(citation(),))
    assert NOT_COVERED in answer_html(a) and "rag-notcovered" in answer_html(a)


def test_context_marks_passage_and_quote():
    text = "Before. The passage. Its quote. After."
    out = context_html(text, (8, 31), [(21, 31)])
    assert '<mark class="passage">The passage. </mark><mark class="passage quoted">Its quote.</mark>' in out


def test_window_spans_the_neighbouring_passages():
    spans = [(0, 10), (8, 20), (18, 30), (28, 40)]
    assert window(spans, 0) == (0, 20)
    assert window(spans, 2) == (8, 40)
    assert window(spans, 3) == (18, 40)
    assert window([(5, 9)], 0) == (5, 9)


def test_scores_table_marks_question_terms_and_escapes():
    chunk = Chunk("d#1", "d.md", "S <1>", 0, 40, None, None, "Refugees <b>may</b> work. Nothing else.", 12)
    hits = [Hit(chunk, "T<i>", 1, 0.1, dense_score=0.62, dense_rank=2, lexical_score=7.5, lexical_rank=1),
            Hit(chunk, "T2", 2, 0.05, dense_score=None, lexical_score=3.0, lexical_rank=4)]
    out = scores_html(hits, lambda w: w.rstrip("s"), {"refugee"}, "Can refugees <work>?")
    assert '<mark class="term">refugees</mark>' in out and '<mark class="term">Refugees</mark>' in out
    assert "&lt;work&gt;" in out and "T&lt;i&gt;" in out and "<b>may</b>" not in out
    assert "0.62" in out and "7.5" in out and "(#1)" in out
    assert 'style="width:90px"' in out  # the best lexical score fills its bar


# --------------------------------------------------------------------------- snapshot links


def test_snapshot_round_trip():
    snap = Snapshot("What & why? [x](y) <b>", ("a b.pdf", "é.md"), "v20250101T000000-abc123", "previous question?")
    query = snapshot_query(snap)
    assert " " not in query and "<" not in query and "[" not in query
    assert parse_snapshot(query) == snap
    assert parse_snapshot("?" + query) == snap
    link = snapshot_link(snap, "http://127.0.0.1:8501/?old=1")
    assert link.startswith("http://127.0.0.1:8501/?q=") and "old=1" not in link
    assert parse_snapshot(link.split("?", 1)[1]) == snap


def test_snapshot_from_streamlit_style_params():
    params = {"q": ["  Who   decides? "], "doc": ["a.pdf", "b.md"], "v": ["v20250101T000000-abc123"]}
    assert parse_snapshot(params) == Snapshot("Who decides?", ("a.pdf", "b.md"), "v20250101T000000-abc123", "")
    assert parse_snapshot({"q": "x", "doc": "a.pdf,b.md"}).docs == ("a.pdf", "b.md")
    assert parse_snapshot({}) is None and parse_snapshot({"q": ["  "]}) is None


# --------------------------------------------------------------------------- Markdown export


def test_conversation_markdown_has_questions_answers_citations_and_links():
    good = answer("What is quoted?")
    evil_cite = citation(title="![img](http://x)", text="[link](http://evil) <img src=x onerror=alert(1)>", quoted=())
    not_covered = Answer("<img src=x onerror=alert(1)>", "q", False, 0.1, related=(evil_cite,))
    turns = [Turn(good, ("doc.pdf",), "v1"), Turn(not_covered, (), "v1")]
    md = conversation_markdown(turns, {"doc.pdf": "Short title"}, "http://host:8501/")
    assert "## 1. What is quoted?" in md
    assert "The second sentence is quoted. \\[1\\]" in md
    assert "[1] A Title — Part I > Article 3, p. 4 (`doc.pdf`)" in md.replace("\\>", ">")
    assert "> The first sentence. **The second sentence is quoted.** The third one." in md
    assert "*Asked only: Short title*" in md
    assert "Reproduce: <http://host:8501/?q=What+is+quoted%3F&doc=doc.pdf&v=v1>" in md
    # the not-covered turn: said plainly, related reading listed, nothing from the documents live
    assert NOT_COVERED in md and "**Related reading**" in md
    assert not re.search(r"(?<!\\)!(?<!\\)\[img|(?<!\\)\[link|(?<!\\)<img", md)
    assert "\\!\\[img\\](http:\u2060//x)" in md and "\\<img src=x onerror=alert(1)\\>" in md


def test_conversation_markdown_says_when_an_answer_lacks_the_figure_asked_for():
    from dataclasses import replace

    lacking = replace(answer("How much does it cost?"), lacks="amount")
    md = conversation_markdown([Turn(lacking, (), "v1"), Turn(answer("What is quoted?"), (), "v1")])
    assert md.count("No quoted sentence of the answering document gives an amount, which the question asks for") == 1


def test_a_long_question_is_folded_and_escaped():
    from retrieval.serve.presentation import FOLD_QUESTION_CHARS, question_html

    short = question_html("<b>short</b>")
    assert "&lt;b&gt;short&lt;/b&gt;" in short and "<details>" not in short
    long = question_html("<i>x</i> " + "word " * 400)
    assert "<details>" in long and "<i>" not in long and long.count("&lt;i&gt;") == 2
    assert len(long.split("<details>")[0]) < FOLD_QUESTION_CHARS + 100


def test_snapshot_links_are_capped_and_their_version_must_be_a_version():
    from retrieval.serve.links import LINK_DOCS, LINK_TEXT_CHARS, parse_snapshot

    snap = parse_snapshot({"q": ["x" * 100_000], "doc": [",".join(f"d{i}" for i in range(500))], "v": ["../../etc/passwd"], "after": ["y" * 50_000]})
    assert len(snap.question) == LINK_TEXT_CHARS and len(snap.after) == LINK_TEXT_CHARS
    assert len(snap.docs) == LINK_DOCS and snap.version == ""
    assert parse_snapshot({"q": ["ok"], "v": ["v20261201T010605-7ebe91"]}).version == "v20261201T010605-7ebe91"


def test_the_export_renders_text_from_links_and_documents_inert():
    """Issue 13, item 8: the Markdown export had the gaps of the warning box (item 4): a line break
    followed by "===" made a heading, "- " a list, a bare URL a link. Rendered by a CommonMark
    parser with GFM's autolinks, the export holds only its own structure."""
    from markdown_it import MarkdownIt

    hostile = "IMPORTANT NOTICE\n===\n- Call +1 555 0100 now\n1. visit www.evil.example or http://evil.example\n:material/warning: x@evil.example"
    cite = citation(title=hostile, section=hostile, text=hostile + "\n---\n2) more", quoted=((0, 16),))
    turns = [
        Turn(Answer(hostile, hostile, True, 0.8, (AnswerSentence(hostile, 1),), (cite,)), ("doc.pdf",), "v1", after=hostile),
        Turn(Answer(hostile, hostile, False, 0.1, related=(cite,)), (), "v1"),
    ]
    md = conversation_markdown(turns, {"doc.pdf": hostile}, "http://host:8501/")
    tokens = MarkdownIt("commonmark", {"linkify": False}).parse(md)
    kinds = [t.type for t in tokens]
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert len(headings) == 3 and headings[0].endswith(": conversation")  # the title and one per turn
    assert not {"ordered_list_open", "hr"} & set(kinds)
    assert kinds.count("list_item_open") == 1  # the export's own: the one related-reading item
    links = [c for t in tokens if t.type == "inline" for c in t.children if c.type == "link_open"]
    assert [link.attrs["href"].split("?")[0] for link in links] == ["http://host:8501/"] * 2  # only "Reproduce"
    text = re.sub(r"Reproduce: <[^>]*>", "", md)
    assert not re.search(r"(?<!\u2060)//evil|www\.evil|x@evil", text)  # no bare URL or address for GFM to link
