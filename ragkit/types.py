"""The domain types passed between ragkit's parts: documents, chunks, hits, answers.

They are frozen, slotted dataclasses: plain values that can be compared,
hashed (apart from their metadata mapping) and printed. Wire types of the
Ollama API live in :mod:`ragkit.ollama`, not here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = [
    "Answer",
    "Chunk",
    "Citation",
    "Document",
    "Hit",
    "MetadataValue",
    "Section",
    "Timings",
    "TokenCounts",
]

MetadataValue = str | int | float | bool | Sequence[str]
"""What user metadata may hold: strings, numbers, booleans and lists of strings."""

_EMPTY: Mapping[str, MetadataValue] = MappingProxyType({})


def _no_metadata() -> Mapping[str, MetadataValue]:
    return _EMPTY


@dataclass(frozen=True, slots=True)
class Section:
    """A stretch of a document's text that shares one location.

    Loaders cut a document into sections where the location changes: a new
    page of a PDF, a new heading in Markdown. The chunker never lets a chunk
    straddle two sections, so every chunk has one page and one heading path.

    Attributes:
        start: Offset of the first character in ``Document.text``.
        end: Offset one past the last character.
        page: 1-based page number, for paged formats such as PDF.
        heading_path: The headings this section sits under, outermost first.
    """

    start: int
    end: int
    page: int | None = None
    heading_path: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Document:
    """A loaded file (or a text added from an app), ready to be chunked.

    Attributes:
        path: Where it came from, relative to the indexed root, with ``/``
            separators; for content that is not a file, the caller's id.
        text: The extracted text.
        kind: The loader that produced it (``"markdown"``, ``"pdf"``, ...).
        sections: Where the location changes; they cover ``text`` in order.
            Empty means one section over the whole text.
        title: The document's own title, when the format has one.
        metadata: User metadata carried to every chunk.
    """

    path: str
    text: str
    kind: str = "text"
    sections: tuple[Section, ...] = ()
    title: str | None = None
    metadata: Mapping[str, MetadataValue] = field(
        default_factory=_no_metadata, compare=False
    )


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of a document small enough to embed and to quote.

    Attributes:
        id: Deterministic from the document, position and content.
        document: The document's path (see :attr:`Document.path`).
        text: The chunk's text, exactly as it stands in the document.
        start: Character offset of the chunk in the document's text.
        end: Offset one past its last character.
        line_start: 1-based line of ``start`` in the document's text.
        line_end: 1-based line of the last character.
        page: 1-based page, for paged formats.
        heading_path: Headings the chunk sits under, outermost first.
        metadata: User metadata (the document's, plus the chunk's own).
    """

    id: str
    document: str
    text: str
    start: int
    end: int
    line_start: int
    line_end: int
    page: int | None = None
    heading_path: tuple[str, ...] = ()
    metadata: Mapping[str, MetadataValue] = field(
        default_factory=_no_metadata, compare=False
    )

    @property
    def location(self) -> str:
        """``path:12-18 p.3``, the way ragkit prints where a chunk is."""
        lines = (
            f"{self.line_start}"
            if self.line_start == self.line_end
            else f"{self.line_start}-{self.line_end}"
        )
        page = f" p.{self.page}" if self.page is not None else ""
        return f"{self.document}:{lines}{page}"


@dataclass(frozen=True, slots=True)
class Hit:
    """A chunk found by a search, with how well it matched.

    Attributes:
        chunk: The chunk.
        score: The score the results are ordered by (higher is better): cosine
            similarity for vector search, BM25 for lexical, the fused score
            for hybrid search.
        vector_score: Cosine similarity, when vector search found it.
        lexical_score: BM25 score (higher is better), when lexical search found it.
    """

    chunk: Chunk
    score: float
    vector_score: float | None = None
    lexical_score: float | None = None


@dataclass(frozen=True, slots=True)
class Citation:
    """A claim's source as the model gave it, checked against what was retrieved.

    Attributes:
        source: The passage number the model cited (1-based, as in the prompt).
        quote: The text the model says it took from that passage.
        verified: True only when the passage was retrieved and the quote
            occurs in it (see ``ragkit.query`` for the matching rule).
        chunk: The cited chunk, when ``source`` names a retrieved passage.
        score: The retrieval score of the cited passage.
        reason: Why the citation is not verified (empty when it is).
        line_start: 1-based first line of the quote in the document.
        line_end: 1-based last line of the quote in the document.
    """

    source: int
    quote: str
    verified: bool
    chunk: Chunk | None = None
    score: float | None = None
    reason: str = ""
    line_start: int | None = None
    line_end: int | None = None

    @property
    def path(self) -> str | None:
        """The cited document's path."""
        return self.chunk.document if self.chunk else None

    @property
    def page(self) -> int | None:
        """The cited page, for paged formats."""
        return self.chunk.page if self.chunk else None

    @property
    def heading_path(self) -> tuple[str, ...]:
        """The headings the cited text sits under."""
        return self.chunk.heading_path if self.chunk else ()


@dataclass(frozen=True, slots=True)
class Timings:
    """Where the time of one answer went, in seconds."""

    embed: float = 0.0
    retrieve: float = 0.0
    generate: float = 0.0
    total: float = 0.0


@dataclass(frozen=True, slots=True)
class TokenCounts:
    """Tokens the answer model read and wrote, as the server counted them."""

    prompt: int = 0
    completion: int = 0


@dataclass(frozen=True, slots=True)
class Answer:
    """A grounded answer to a question.

    Attributes:
        question: The question as asked.
        text: The answer text.
        citations: Every citation the model gave, verified or not.
        passages: The retrieved passages the prompt held, numbered from 1.
        model: The chat model that answered.
        timings: Where the time went.
        tokens: Token counts from the server.
        warnings: Things the reader should know (fallbacks, dropped passages).
    """

    question: str
    text: str
    citations: tuple[Citation, ...] = ()
    passages: tuple[Hit, ...] = ()
    model: str = ""
    timings: Timings = field(default_factory=Timings)
    tokens: TokenCounts = field(default_factory=TokenCounts)
    warnings: tuple[str, ...] = ()

    @property
    def verified_citations(self) -> tuple[Citation, ...]:
        """The citations that passed verification, the only ones to show as fact."""
        return tuple(c for c in self.citations if c.verified)
