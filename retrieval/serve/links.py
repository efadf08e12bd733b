"""The link that reproduces an answer: its query string (question, documents asked, the previous
question of a follow-up, index version), written and read back with every value capped and checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode

from retrieval.serve.presentation import is_blank
from retrieval.store.backend import VERSION_NAMES

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
#: folder, v<time>-<hex6>, or Milvus's collections, <prefix>_v<time>_<hex6> (retrieval/store/backend.py)
LINK_VERSION = VERSION_NAMES


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
