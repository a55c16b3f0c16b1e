"""Answers, citations and hits as JSON-ready data, and where a citation points."""

from __future__ import annotations

from typing import Any

from ragkit.types import Answer, Chunk, Citation, Hit

__all__ = [
    "answer_to_dict",
    "chunk_to_dict",
    "citation_location",
    "citation_to_dict",
    "hit_to_dict",
]


def citation_location(citation: Citation) -> str:
    """Where a citation points: ``path:lines p.page``, with the quote's own lines.

    A verified citation names the lines the quote was found on; an unverified
    one that names a retrieved passage, the passage's lines; one that names
    no passage, ``source N``.

    >>> chunk = Chunk("c", "guide.md", "x", 0, 1, 10, 20, 3)
    >>> citation_location(Citation(1, "q", True, chunk, line_start=12, line_end=14))
    'guide.md:12-14 p.3'
    >>> citation_location(Citation(7, "q", False))
    'source 7'
    """
    chunk = citation.chunk
    if chunk is None:
        return f"source {citation.source}"
    first = citation.line_start if citation.line_start is not None else chunk.line_start
    last = citation.line_end if citation.line_end is not None else chunk.line_end
    lines = f"{first}" if first == last else f"{first}-{last}"
    page = f" p.{chunk.page}" if chunk.page is not None else ""
    return f"{chunk.document}:{lines}{page}"


def chunk_to_dict(chunk: Chunk) -> dict[str, Any]:
    """A chunk as JSON-ready data (text, location and metadata)."""
    return {
        "id": chunk.id,
        "path": chunk.document,
        "line_start": chunk.line_start,
        "line_end": chunk.line_end,
        "page": chunk.page,
        "headings": list(chunk.heading_path),
        "start": chunk.start,
        "end": chunk.end,
        "text": chunk.text,
        "metadata": {
            key: list(value) if isinstance(value, tuple | list) else value
            for key, value in chunk.metadata.items()
        },
    }


def hit_to_dict(hit: Hit, rank: int | None = None) -> dict[str, Any]:
    """A search hit as JSON-ready data.

    Args:
        hit: The hit.
        rank: Its 1-based rank (or source number), when it has one.

    Returns:
        The scores and the chunk's fields, with ``rank`` first when given.
    """
    data: dict[str, Any] = {} if rank is None else {"rank": rank}
    data.update(
        score=hit.score,
        vector_score=hit.vector_score,
        lexical_score=hit.lexical_score,
        location=hit.chunk.location,
    )
    data.update(chunk_to_dict(hit.chunk))
    return data


def citation_to_dict(citation: Citation) -> dict[str, Any]:
    """A citation as JSON-ready data: where it points, the quote, whether it held."""
    return {
        "source": citation.source,
        "verified": citation.verified,
        "reason": citation.reason,
        "path": citation.path,
        "page": citation.page,
        "line_start": citation.line_start,
        "line_end": citation.line_end,
        "headings": list(citation.heading_path),
        "location": citation_location(citation),
        "quote": citation.quote,
        "score": citation.score,
    }


def answer_to_dict(answer: Answer) -> dict[str, Any]:
    """An answer as JSON-ready data (what ``ragkit ask --json`` prints).

    Returns:
        The question, answer text, model, citations, the passages numbered as
        in the prompt, timings in seconds, token counts and warnings.
    """
    return {
        "question": answer.question,
        "answer": answer.text,
        "model": answer.model,
        "citations": [citation_to_dict(c) for c in answer.citations],
        "passages": [hit_to_dict(h, i) for i, h in enumerate(answer.passages, 1)],
        "timings": {
            "embed": answer.timings.embed,
            "retrieve": answer.timings.retrieve,
            "generate": answer.timings.generate,
            "total": answer.timings.total,
        },
        "tokens": {
            "prompt": answer.tokens.prompt,
            "completion": answer.tokens.completion,
        },
        "warnings": list(answer.warnings),
    }
