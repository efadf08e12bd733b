"""The conversation as a Markdown document to download: each question, its answer with [n] markers,
its sources with the passages quoted, and the link that reproduces it; every piece of text inert."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from retrieval.serve.links import snapshot_link
from retrieval.serve.markdown_text import escape_markdown, inert_line_start, inert_links, markdown_line
from retrieval.serve.presentation import Span, location, merge_spans
from retrieval.serve.turn import Turn


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
    body = inert_links("".join(pieces))
    lines = [inert_line_start(" ".join(line.split())) for line in body.split("\n")]
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
