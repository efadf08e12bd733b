"""What the document loaders share: the blocks they produce and the error they raise."""

from __future__ import annotations

from dataclasses import dataclass


class DocumentError(Exception):
    """A document that cannot be loaded; the message is one line for the build summary."""


@dataclass(frozen=True)
class Block:
    """A heading or a paragraph as the loader found it; pieces keep the page of each stretch."""

    kind: str  # "heading" | "text"
    pieces: tuple[tuple[int | None, str], ...]
    level: int = 1

    @property
    def text(self) -> str:
        return "".join(text for _, text in self.pieces)
