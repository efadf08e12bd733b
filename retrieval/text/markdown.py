"""Markdown and plain text: headings by '#', numbering or a heading-like line; footnotes and page
furniture that interrupt a paragraph moved after it."""

from __future__ import annotations

import re

from retrieval.text import cleaning
from retrieval.text.blocks import Block
from retrieval.text.sections import clean_heading_text, heading_level, numbered_heading

# every repetition is bounded, so no pattern backtracks over a crafted run ("[[[[...", "<sup>" and
# 20,000 spaces): each costs at most a fixed amount per character of the text
_MD_IMAGE = re.compile(r"!\[[^\]\n]{0,500}\]\([^)\n]{0,2000}\)")
_MD_LINK = re.compile(r"\[([^\]\n]{0,500})\]\([^)\n]{0,2000}\)")
_MD_AUTOLINK = re.compile(r"<(https?://[^>\s]{1,2000}|mailto:[^>\s]{1,500})>")
_SUP = re.compile(r"<sup>([^<]{0,200})</sup>")
_SUPERSCRIPT_DIGITS = "\u00b9\u00b2\u00b3\u2070\u2074\u2075\u2076\u2077\u2078\u2079"
_FOOTNOTE_START = re.compile(r"^(<sup> {0,3}\d{1,4} {0,3}</sup>|[" + _SUPERSCRIPT_DIGITS + r"]{1,6})")


def _clean_markdown_inline(text: str) -> str:
    text = _MD_IMAGE.sub("", text)
    text = _MD_LINK.sub(r"\1", text)
    text = _MD_AUTOLINK.sub(r"\1", text)
    text = _SUP.sub("", text)
    text = re.sub(r"(?<=[\w.,;)\u2019\"])[" + _SUPERSCRIPT_DIGITS + r"]+", "", text)
    text = re.sub(r"\*{1,3}|(?<!\w)_{1,2}|_{1,2}(?!\w)", "", text)
    text = re.sub(r"\\([\\`*_{}\[\]()#+\-.!|>])", r"\1", text)
    text = " ".join(line.strip(" \t") for line in text.split("\n"))
    return re.sub(r" {2,}", " ", text).strip()


_BULLET = re.compile(r"^\s*[-*+]\s+(?=\S)")


def _bullet_items(paragraph: str) -> list[str]:
    """The items of a paragraph that is a bulleted list ("- item" lines, an item's own continuation
    lines joined to it), each cleaned and keeping its "- " marker; empty for any other paragraph."""
    lines = paragraph.splitlines()
    if not _BULLET.match(lines[0]) or sum(bool(_BULLET.match(line)) for line in lines) < 2:
        return []
    items: list[list[str]] = []
    for line in lines:
        if _BULLET.match(line):
            items.append([_BULLET.sub("", line, count=1)])
        else:
            items[-1].append(line)
    cleaned = [_clean_markdown_inline("\n".join(item)) for item in items]
    return ["- " + item for item in cleaned if item]


def _is_plain_heading(text: str) -> bool:
    """A one-line paragraph that reads as a heading: short, capitalised, no closing punctuation."""
    return (
        len(text) <= 90
        and "\n" not in text.strip()
        and text[:1].isupper()
        and not cleaning.ends_sentence(text)
        and ":" not in text
        and not text.endswith(",")
        and not cleaning.ends_with_stopword(text)
        and len(re.findall(r"[A-Za-z]", text)) >= 3
        and not re.match(r"^[-*+\u2022]\s", text)
        and not re.search(r"[,\u2022\d]", text)
    )


def markdown_blocks(text: str, markdown: bool = True) -> list[Block]:
    """Blocks from Markdown (or plain text): headings by '#', numbering or a heading-like line.

    Footnotes and page furniture that interrupt a paragraph (the paragraph stops mid-sentence and
    resumes in lower case a few blocks later) are moved after the rejoined paragraph.
    """
    text = cleaning.normalise_characters(text.replace("\r\n", "\n").replace("\r", "\n"))
    raw = [p.strip("\n") for p in re.split(r"\n\s*\n", text) if p.strip()]
    items: list[tuple[str, str, int]] = []  # (kind, text, level); kind: heading, text, aside
    # a numbered list of plain-line headings ("1. Financial support") under a plain-line heading
    # ("Main trends of reintegration policies") nests below it; '#' headings carry no such context
    plain_parent_level = 0
    for para in raw:
        stripped = para.strip()
        if re.fullmatch(r"[-*_=\s]{3,}", stripped):
            continue  # a horizontal rule
        if cleaning.is_toc_line(stripped) or all(cleaning.is_toc_line(l) for l in stripped.splitlines()):
            continue
        md_heading = markdown and re.match(r"^(#{1,6})\s+(.*)$", stripped, re.DOTALL)
        if md_heading:
            title = clean_heading_text(_clean_markdown_inline(md_heading.group(2)))
            if title:
                items.append(("heading", title, heading_level(title)))
                plain_parent_level = 0
            continue
        bullets = _bullet_items(stripped) if markdown else []
        if bullets:
            # each item of a bulleted list is its own paragraph, as a PDF's are: one item can be
            # quoted, and a lead sentence ending in ':' brings its items, rather than the whole list
            # being read as one run-on sentence
            items.extend(("text", item, 0) for item in bullets)
            continue
        is_aside = bool(_FOOTNOTE_START.match(stripped))
        body = _clean_markdown_inline(stripped) if markdown else re.sub(r"\s*\n\s*", " ", stripped)
        if is_aside:
            body = _SUP.sub(lambda m: m.group(1).strip(), stripped) if markdown else body
            body = _clean_markdown_inline(body) if markdown else body
            items.append(("aside", body, 0))
            continue
        if not body:
            continue
        numbered = numbered_heading(body)
        if numbered and len(body) <= 90:
            items.append(("heading", numbered.text, numbered.level + plain_parent_level))
        elif _is_plain_heading(body):
            items.append(("heading", body, heading_level(body)))
            plain_parent_level = heading_level(body)
        else:
            items.append(("text", body, 0))
    items = _rejoin_interrupted(items)
    return [Block(kind if kind == "heading" else "text", ((None, body),), level) for kind, body, level in items]


def _rejoin_interrupted(items: list[tuple[str, str, int]], lookahead: int = 6) -> list[tuple[str, str, int]]:
    items = list(items)
    out: list[tuple[str, str, int]] = []
    i = 0
    while i < len(items):
        kind, body, level = items[i]
        if kind == "text" and cleaning.ends_mid_sentence(body):
            # look past footnotes and short furniture for the paragraph's lower-case continuation
            between: list[tuple[str, str, int]] = []
            j = i + 1
            while j < len(items) and j <= i + lookahead:
                next_kind, next_body, _ = items[j]
                if next_kind == "text" and next_body[:1].islower():
                    break
                if next_kind != "aside" and len(next_body) > 60:
                    j = len(items)
                    break
                between.append(items[j])
                j += 1
            if j < len(items) and j <= i + lookahead and items[j][0] == "text" and items[j][1][:1].islower():
                merged = ("text", body + " " + items[j][1], 0)
                # footnotes follow the rejoined paragraph; short furniture (logos, running titles) goes
                footnotes = [item for item in between if item[0] == "aside"]
                items[i : j + 1] = [merged, *footnotes]
                continue
        out.append(("text" if kind == "aside" else kind, body, level))
        i += 1
    return out
