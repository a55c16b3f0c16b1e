"""Search hits into passages: merging neighbouring chunks, dropping duplicates."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from ragkit.types import Chunk, Hit

__all__ = ["dedupe_hits", "merge_neighbours"]

GapText = Callable[[str, int, int], str | None]
"""``(document, start, end) -> text``: a document's text between two offsets."""


def merge_neighbours(
    hits: Sequence[Hit],
    *,
    gap_text: GapText | None = None,
    max_chars: int | None = None,
) -> list[Hit]:
    """Merge hits whose chunks sit next to each other in a document into one passage.

    Two chunks of the same document are neighbours when their spans overlap
    or touch (``b.start <= a.end``), or, when ``gap_text`` can tell, when only
    whitespace separates them and they share a page and heading path. Chunks
    overlap by a suffix/prefix, so the merged text is the first chunk's text
    followed by the second's from offset ``a.end - b.start`` on: exactly the
    document's text over the joined span. Chunks whose text does not agree
    with their spans (or with each other on the overlap) are left apart.

    Args:
        hits: Hits, best first.
        gap_text: Returns a document's text between two offsets, or None when
            it is not known; without it only overlapping or touching chunks
            are merged (the index keeps chunk texts, not whole documents).
        max_chars: A merge that would make a passage longer than this is not
            made, so one passage cannot crowd the others out of the prompt.

    Returns:
        Passages, each at the rank of its best member. A merged passage is a
        hit on a new chunk whose id joins the members' ids with ``+``, whose
        span and lines cover them all, with the best of their scores. A hit
        with no neighbour is returned as it was.
    """
    by_document: dict[str, list[int]] = {}
    for index, hit in enumerate(hits):
        by_document.setdefault(hit.chunk.document, []).append(index)

    passages: list[tuple[list[int], str]] = []
    for indices in by_document.values():
        indices.sort(key=lambda i: (hits[i].chunk.start, hits[i].chunk.end, i))
        group, text = [indices[0]], hits[indices[0]].chunk.text
        for index in indices[1:]:
            first, last = hits[group[0]].chunk, hits[group[-1]].chunk
            joined = _extend(first, text, last, hits[index].chunk, gap_text)
            if joined is None or (max_chars is not None and len(joined) > max_chars):
                passages.append((group, text))
                group, text = [index], hits[index].chunk.text
            else:
                group.append(index)
                text = joined
        passages.append((group, text))

    passages.sort(key=lambda passage: min(passage[0]))
    return [_merged([hits[i] for i in group], text) for group, text in passages]


def dedupe_hits(hits: Sequence[Hit], *, by_text: bool = False) -> list[Hit]:
    """Drop repeated hits, keeping the first (best-ranked) of each.

    Args:
        hits: Hits, best first.
        by_text: Also treat hits whose texts are equal apart from whitespace as
            repeats (the same text indexed from two files).

    Returns:
        The hits without repeats, in their order.
    """
    seen_ids: set[str] = set()
    seen_texts: set[str] = set()
    kept = []
    for hit in hits:
        if hit.chunk.id in seen_ids:
            continue
        if by_text:
            text = " ".join(hit.chunk.text.split())
            if text in seen_texts:
                continue
            seen_texts.add(text)
        seen_ids.add(hit.chunk.id)
        kept.append(hit)
    return kept


def _consistent(chunk: Chunk) -> bool:
    return len(chunk.text) == chunk.end - chunk.start


def _extend(
    first: Chunk, text: str, last: Chunk, chunk: Chunk, gap_text: GapText | None
) -> str | None:
    """The text of a passage grown by ``chunk``, or None if they are not neighbours.

    The passage's ``text`` starts where its ``first`` member does; ``last`` is
    the member added most recently. Members come in span order, so ``chunk``
    starts at or after ``first``.
    """
    if not (_consistent(first) and _consistent(chunk)):
        return None
    start = first.start
    end = start + len(text)
    if chunk.start <= end:
        # Where the spans overlap the texts must agree, or the spans lie.
        offset = chunk.start - start
        if chunk.end <= end:
            return (
                text if text[offset : offset + len(chunk.text)] == chunk.text else None
            )
        if text[offset:] != chunk.text[: end - chunk.start]:
            return None
        return text + chunk.text[end - chunk.start :]
    if gap_text is None or (last.page, last.heading_path) != (
        chunk.page,
        chunk.heading_path,
    ):
        return None
    gap = gap_text(chunk.document, end, chunk.start)
    if gap is None or len(gap) != chunk.start - end or gap.strip():
        return None
    return text + gap + chunk.text


def _merged(members: list[Hit], text: str) -> Hit:
    if len(members) == 1:
        return members[0]
    ordered = sorted(members, key=lambda h: (h.chunk.start, h.chunk.end))
    first = ordered[0].chunk
    chunk = Chunk(
        id="+".join(dict.fromkeys(h.chunk.id for h in ordered)),
        document=first.document,
        text=text,
        start=first.start,
        end=first.start + len(text),
        line_start=min(h.chunk.line_start for h in ordered),
        line_end=max(h.chunk.line_end for h in ordered),
        page=first.page,
        heading_path=first.heading_path,
        metadata=first.metadata,
    )
    return Hit(
        chunk=chunk,
        score=max(h.score for h in members),
        vector_score=_best(h.vector_score for h in members),
        lexical_score=_best(h.lexical_score for h in members),
    )


def _best(scores: Iterable[float | None]) -> float | None:
    present = [score for score in scores if score is not None]
    return max(present) if present else None
