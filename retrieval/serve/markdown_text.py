"""Text made inert for Markdown: whatever a question, a link or a document says is shown as the
characters typed, never read as a link, an image, emphasis, a heading, a list or a Streamlit icon.

For messages shown with st.error, button labels and the like, and for the Markdown export
(retrieval/serve/export.py). Nothing here imports Streamlit (tests/test_presentation.py).
"""

from __future__ import annotations

import re

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

    return _SHORTCODE.sub(":\u2060", inert_links(escape_markdown(text)))


#: a colon that opens a Streamlit shortcode: `:material/icon:`, an emoji `:smile:`, a colour `:red[...]`
_SHORTCODE = re.compile(r":(?=[A-Za-z])")


def inert_links(text: str) -> str:
    """Bare URLs, "www." names and e-mail addresses in `text` kept from turning into links: a word
    joiner (U+2060) inside each pattern."""
    return _AUTOLINK.sub(_join_autolink, text)


def _join_autolink(m: re.Match) -> str:
    if m.group(6):
        return "\u2060@"
    if m.group(4):
        return f"{m.group(4)}\u2060."
    return f"{m.group(1)}:\u2060//"


_BLOCK_START = re.compile(r"^(\d{1,9}(?=[.)])|[-+=])")


def inert_line_start(line: str) -> str:
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
    return inert_line_start(inert_markdown(" ".join(str(text).split())))
