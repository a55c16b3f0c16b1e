"""The answer schema sent to ``/api/chat`` and the parsing and verification of replies.

A model's reply is parsed into an answer and raw citations (:func:`parse_answer`),
then each citation is checked against the passages the prompt held
(:func:`verify_citations`). The matching rule, exactly:

1. **Source.** Passages are numbered from 1 in prompt order. A citation whose
   ``source`` is not one of those numbers is unverified ("source 7 was not
   among the 4 retrieved passages").
2. **Normalisation.** Quote and passage text are both normalised the same way:
   Unicode NFKC, case-folded, typographic quotes, dashes and the ellipsis mapped
   to ASCII (``‘’“”`` → ``'"``, ``–—−`` → ``-``, ``…`` → ``...``), soft hyphens
   and zero-width characters removed, every run of whitespace collapsed to one
   space. Leading and trailing punctuation and spaces of the quote are ignored.
3. **Length.** A quote that is empty after normalisation is unverified ("empty
   quote"). A quote of fewer than 3 words or 12 characters is too short to
   prove anything and is unverified, unless it equals the whole passage.
4. **Exact.** The normalised quote occurs in the normalised passage: verified.
5. **Small differences.** Otherwise the quote is verified when some stretch of
   the passage is within ``max(2, 3% of the quote's length)`` character edits
   (insertions, deletions, substitutions) of it, and the two differ only by
   misspellings, not by words: aligned word by word, each differing word is
   a misspelling of the word in its place (one edit when both have at least
   4 letters, else the same letters in another order), or one word stands
   for two that a hyphen or line break split; no word is added or dropped, and
   words with digits must match exactly. That tolerates a typo, a dropped
   hyphen or a PDF line-break artefact, not an added "not", a changed number
   or a different sentence.
6. **Ellipsis.** A quote with ``...`` in it is split there; each piece must be
   at least 2 words and 8 characters long and must be found (by rule 4 or 5)
   in the passage, in order, after the previous piece.

Anything else is unverified ("quote not found in source 2"). Unverified
citations are kept, with their reason, so they can be shown as unchecked
claims, never as facts. A verified citation carries the 1-based line span of
the matched text in its document.
"""

from __future__ import annotations

import difflib
import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ragkit.errors import CitationError
from ragkit.types import Answer, Chunk, Citation, Hit

__all__ = [
    "ANSWER_SCHEMA",
    "FALLBACK_WARNING",
    "MIN_QUOTE_CHARS",
    "MIN_QUOTE_WORDS",
    "ParsedAnswer",
    "RawCitation",
    "fallback_answer",
    "fallback_text",
    "format_source",
    "normalise",
    "parse_answer",
    "verify_citations",
]

ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "answer": {
            "type": "string",
            "description": "The answer, using only the numbered sources.",
        },
        "citations": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "source": {
                        "type": "integer",
                        "minimum": 1,
                        "description": "The number of the source, as in [N].",
                    },
                    "quote": {
                        "type": "string",
                        "description": "A short verbatim quote from that source.",
                    },
                },
                "required": ["source", "quote"],
            },
        },
    },
    "required": ["answer", "citations"],
}
"""The JSON schema sent as ``format=`` to ``/api/chat``: ``{answer, citations}``."""

MIN_QUOTE_WORDS = 3
"""Quotes with fewer words are too short to verify (unless they are the passage)."""

MIN_QUOTE_CHARS = 12
"""Quotes with fewer normalised characters are too short to verify."""

FALLBACK_WARNING = (
    "the model's reply did not follow the answer format, even after a retry; "
    "showing its raw text and the retrieved sources, with no verified citations"
)
"""The warning an :class:`~ragkit.types.Answer` carries when it is a fallback."""

_MIN_PIECE_WORDS = 2
_MIN_PIECE_CHARS = 8
_EDIT_FRACTION = 0.03
_MIN_EDITS = 2

_TYPOGRAPHIC = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u00b4": "'",
        "`": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u2033": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
        "\u2026": "...",
        "\u00ad": "",
        "\u200b": "",
        "\u200c": "",
        "\u200d": "",
        "\u2060": "",
        "\ufeff": "",
    }
)
_ELLIPSIS = re.compile(r"\s*\.{3,}\s*")
_WORD = re.compile(r"\w+")
_FENCE = re.compile(r"^\s*```[\w-]*[ \t]*\n?(.*?)\n?```\s*$", re.DOTALL)
_SOURCE_TEXT = re.compile(
    r"^\s*\[?\s*(?:(?:source|passage|src)\s*)?#?\s*(\d+)\s*\]?\s*$", re.IGNORECASE
)


@dataclass(frozen=True, slots=True)
class RawCitation:
    """A citation as the model wrote it, before verification.

    Attributes:
        source: The passage number the model gave.
        quote: The text the model says it quoted (empty when it gave none).
    """

    source: int
    quote: str


@dataclass(frozen=True, slots=True)
class ParsedAnswer:
    """A model reply that follows :data:`ANSWER_SCHEMA`.

    Attributes:
        answer: The answer text.
        citations: The citations in the order the model gave them.
    """

    answer: str
    citations: list[RawCitation]


def parse_answer(content: str) -> ParsedAnswer:
    """Parse a model reply written against :data:`ANSWER_SCHEMA`.

    Leniency, where the intent is unambiguous: a Markdown code fence around the
    JSON is removed; prose before the JSON object is skipped; ``source`` may be
    an integer, an integral float, or a string such as ``"2"``, ``"[2]"`` or
    ``"Source 2"``; a missing ``citations`` field means none; a citation without
    a ``quote`` keeps an empty quote (which then fails verification).

    Args:
        content: The ``message.content`` of the chat reply.

    Returns:
        The answer text and the raw citations.

    Raises:
        CitationError: The content is not JSON, not an object, has no string
            ``answer``, or has a citation that is not an object with a usable
            ``source`` and a string ``quote``.
    """
    data = _load_json(content)
    if not isinstance(data, dict):
        raise CitationError(
            f"model reply is a JSON {_json_type(data)}, not an object with an answer"
        )
    answer = data.get("answer")
    if answer is None:
        raise CitationError("model reply has no 'answer' field")
    if not isinstance(answer, str):
        raise CitationError(
            f"model reply's 'answer' is a {_json_type(answer)}, not a string"
        )
    items = data.get("citations")
    if items is None:
        items = []
    if not isinstance(items, list):
        raise CitationError(
            f"model reply's 'citations' is a {_json_type(items)}, not an array"
        )
    return ParsedAnswer(
        answer=answer,
        citations=[_raw_citation(item, index) for index, item in enumerate(items, 1)],
    )


def verify_citations(
    raw: Sequence[RawCitation], passages: Sequence[Hit]
) -> tuple[Citation, ...]:
    """Check each citation against the passages the prompt held.

    The rule is described in this module's docstring.

    Args:
        raw: Citations from :func:`parse_answer`.
        passages: The passages in prompt order; passage ``i`` is source ``i + 1``.

    Returns:
        One :class:`~ragkit.types.Citation` per raw citation, in the same order,
        verified or carrying the reason it is not.
    """
    normalised: dict[int, tuple[str, list[int]]] = {}
    citations = []
    for item in raw:
        if not 1 <= item.source <= len(passages):
            citations.append(
                Citation(
                    source=item.source,
                    quote=item.quote,
                    verified=False,
                    reason=_out_of_range(item.source, len(passages)),
                )
            )
            continue
        hit = passages[item.source - 1]
        if item.source not in normalised:
            normalised[item.source] = normalise(hit.chunk.text)
        text, positions = normalised[item.source]
        span, reason = _locate(item.quote, text, item.source)
        if span is None:
            citations.append(
                Citation(
                    source=item.source,
                    quote=item.quote,
                    verified=False,
                    chunk=hit.chunk,
                    score=hit.score,
                    reason=reason,
                )
            )
            continue
        line_start, line_end = _line_span(hit.chunk, positions, span)
        citations.append(
            Citation(
                source=item.source,
                quote=item.quote,
                verified=True,
                chunk=hit.chunk,
                score=hit.score,
                line_start=line_start,
                line_end=line_end,
            )
        )
    return tuple(citations)


def normalise(text: str) -> tuple[str, list[int]]:
    """Normalise text for quote matching, keeping where each character came from.

    Args:
        text: Any text.

    Returns:
        The normalised text (see rule 2 in this module's docstring) and, for
        each of its characters, the offset in ``text`` of the character that
        produced it. A collapsed whitespace run maps to its first character.

    >>> normalise("  Caf\\u00e9\\u2019s\\n\\n  BEST ")[0]
    "café's best"
    """
    out: list[str] = []
    positions: list[int] = []
    space_at = -1
    i, n = 0, len(text)
    while i < n:
        # NFKC composes a base character with the combining marks after it, so
        # each base-plus-marks cluster is normalised as one unit.
        j = i + 1
        while j < n and unicodedata.combining(text[j]):
            j += 1
        piece = unicodedata.normalize("NFKC", text[i:j]).casefold()
        for char in piece.translate(_TYPOGRAPHIC):
            if char.isspace():
                if space_at < 0 and out:
                    space_at = i
                continue
            if space_at >= 0:
                out.append(" ")
                positions.append(space_at)
                space_at = -1
            out.append(char)
            positions.append(i)
        i = j
    return "".join(out), positions


def format_source(number: int, hit: Hit) -> str:
    """The line that heads a passage in the prompt and in source lists.

    Args:
        number: The passage's 1-based number.
        hit: The passage.

    Returns:
        ``[N] path:lines p.page › heading › subheading`` (page and headings only
        when the chunk has them).

    >>> chunk = Chunk("c", "guide.md", "x", 0, 1, 3, 4, None, ("Setup", "Linux"))
    >>> format_source(2, Hit(chunk, 0.5))
    '[2] guide.md:3-4 › Setup › Linux'
    """
    chunk = hit.chunk
    headings = " › ".join(h.strip() for h in chunk.heading_path if h.strip())
    line = f"[{number}] {_one_line(chunk.location)}"
    return f"{line} › {_one_line(headings)}" if headings else line


def fallback_text(raw: str, passages: Sequence[Hit]) -> str:
    """The text shown when the model's reply could not be parsed.

    Args:
        raw: The model's reply as it came.
        passages: The passages the prompt held, in prompt order.

    Returns:
        The raw reply, then a list of the retrieved sources so the reader can
        check the claims themselves.
    """
    body = raw.strip() or "(the model returned no text)"
    if not passages:
        return f"{body}\n\nNo sources were retrieved."
    sources = "\n".join(format_source(i, hit) for i, hit in enumerate(passages, 1))
    return f"{body}\n\nRetrieved sources (the answer above was not checked):\n{sources}"


def fallback_answer(question: str, raw: str, passages: Sequence[Hit]) -> Answer:
    """Build the answer used when the model's output was invalid twice.

    Args:
        question: The question as asked.
        raw: The model's last reply, unparsed.
        passages: The passages the prompt held, in prompt order.

    Returns:
        An answer with :func:`fallback_text` as its text, no citations, the
        passages, and :data:`FALLBACK_WARNING`. The engine fills in the model,
        timings and token counts (``dataclasses.replace``).
    """
    return Answer(
        question=question,
        text=fallback_text(raw, passages),
        passages=tuple(passages),
        warnings=(FALLBACK_WARNING,),
    )


def _load_json(content: str) -> object:
    text = content.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1).strip()
    if not text:
        raise CitationError("model reply is empty, expected a JSON object")
    try:
        return json.loads(text)
    except RecursionError as exc:
        raise CitationError("model reply nests JSON too deeply to read") from exc
    except json.JSONDecodeError as exc:
        first_error = exc
    # Small models sometimes write a sentence before the object; skip it when
    # exactly one object follows and nothing comes after it.
    start = text.find("{")
    if start > 0:
        try:
            data, end = json.JSONDecoder().raw_decode(text, start)
        except (json.JSONDecodeError, RecursionError):
            pass
        else:
            if not text[end:].strip():
                return data
    raise CitationError(
        f"model reply is not valid JSON ({first_error.msg} at line "
        f"{first_error.lineno} column {first_error.colno})"
    ) from first_error


def _raw_citation(item: object, index: int) -> RawCitation:
    if not isinstance(item, dict):
        raise CitationError(
            f"citation {index} is a {_json_type(item)}, not an object "
            "with 'source' and 'quote'"
        )
    if "source" not in item:
        raise CitationError(f"citation {index} has no 'source'")
    source = _source_number(item["source"])
    if source is None:
        raise CitationError(
            f"citation {index} has source {json.dumps(item['source'])[:40]}, "
            "not a source number"
        )
    quote = item.get("quote")
    if quote is None:
        quote = ""
    if not isinstance(quote, str):
        raise CitationError(
            f"citation {index}'s 'quote' is a {_json_type(quote)}, not a string"
        )
    return RawCitation(source=source, quote=quote)


def _source_number(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str):
        match = _SOURCE_TEXT.match(value)
        return int(match.group(1)) if match else None
    return None


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _out_of_range(source: int, count: int) -> str:
    if count == 0:
        return f"source {source} was cited but no passages were retrieved"
    if count == 1:
        return f"source {source} was not the 1 retrieved passage"
    return f"source {source} was not among the {count} retrieved passages"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _strip_edges(text: str) -> str:
    start, end = 0, len(text)
    while start < end and _is_edge(text[start]):
        start += 1
    while end > start and _is_edge(text[end - 1]):
        end -= 1
    return text[start:end]


def _is_edge(char: str) -> bool:
    return char == " " or unicodedata.category(char).startswith("P")


def _long_enough(text: str, words: int, chars: int) -> bool:
    return len(_WORD.findall(text)) >= words and len(text) >= chars


def _locate(
    quote: str, passage: str, source: int
) -> tuple[tuple[int, int] | None, str]:
    """Find the quote in a normalised passage: the span it covers, or why not."""
    wanted = _strip_edges(normalise(quote)[0])
    if not wanted:
        return None, "empty quote"
    if wanted == _strip_edges(passage):
        start = passage.find(wanted)
        return (start, start + len(wanted)), ""
    if not _long_enough(wanted, MIN_QUOTE_WORDS, MIN_QUOTE_CHARS):
        return None, (
            f"quote too short to verify (under {MIN_QUOTE_WORDS} words "
            f"or {MIN_QUOTE_CHARS} characters)"
        )
    span = _find(wanted, passage, 0)
    if span is None and "..." in wanted:
        span = _find_pieces(wanted, passage)
    if span is None:
        return None, f"quote not found in source {source}"
    return span, ""


def _find_pieces(quote: str, passage: str) -> tuple[int, int] | None:
    pieces = [p for p in (_strip_edges(s) for s in _ELLIPSIS.split(quote)) if p]
    if not pieces or not all(
        _long_enough(p, _MIN_PIECE_WORDS, _MIN_PIECE_CHARS) for p in pieces
    ):
        return None
    first = -1
    offset = 0
    for piece in pieces:
        span = _find(piece, passage, offset)
        if span is None:
            return None
        if first < 0:
            first = span[0]
        offset = span[1]
    return first, offset


def _find(quote: str, passage: str, offset: int) -> tuple[int, int] | None:
    """Exact or near match of ``quote`` in ``passage[offset:]`` (normalised)."""
    start = passage.find(quote, offset)
    if start >= 0:
        return start, start + len(quote)
    budget = max(_MIN_EDITS, int(len(quote) * _EDIT_FRACTION))
    if len(quote) > len(passage) - offset + budget:
        return None
    span = _near_match(quote, passage, offset, budget)
    if span is None or not _same_words(quote, passage[span[0] : span[1]]):
        return None
    return span


def _same_words(quote: str, found: str) -> bool:
    """Whether a near match differs only by misspellings, not by words.

    A few character edits can add or drop a whole short word ("not"), which
    changes the meaning. So the two word sequences are aligned, and every
    difference must pair a word with its misspelling, or one word with two
    that a hyphen or line break split (in either direction).
    """
    ours, theirs = _WORD.findall(quote), _WORD.findall(found)
    # The texts are within a few edits of each other, so the differences are
    # few: trimming the common ends keeps the alignment below cheap.
    head = 0
    while head < min(len(ours), len(theirs)) and ours[head] == theirs[head]:
        head += 1
    tail = 0
    while (
        tail < min(len(ours), len(theirs)) - head
        and ours[-1 - tail] == theirs[-1 - tail]
    ):
        tail += 1
    ours = ours[head : len(ours) - tail]
    theirs = theirs[head : len(theirs) - tail]
    matcher = difflib.SequenceMatcher(None, ours, theirs, autojunk=False)
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag == "equal":
            continue
        a, b = ours[a0:a1], theirs[b0:b1]
        if len(a) == len(b):
            if not all(_misspelt(x, y) for x, y in zip(a, b, strict=True)):
                return False
        elif not (len(a) + len(b) == 3 and "".join(a) == "".join(b)):
            return False
    return True


def _misspelt(word: str, other: str) -> bool:
    # Short words are one edit away from each other ("not"/"no", "the"/"she"),
    # so for them only swapped letters ("teh") count as a misspelling.
    if any(char.isdigit() for char in word + other):
        return False
    if len(word) >= 3 and sorted(word) == sorted(other):
        return True
    return min(len(word), len(other)) >= 4 and _one_edit(word, other)


def _one_edit(a: str, b: str) -> bool:
    if len(a) > len(b):
        a, b = b, a
    if len(b) - len(a) > 1:
        return False
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    if len(a) == len(b):
        return a[i + 1 :] == b[i + 1 :]
    return a[i:] == b[i + 1 :]


def _near_match(
    quote: str, passage: str, offset: int, budget: int
) -> tuple[int, int] | None:
    """The best stretch of ``passage[offset:]`` within ``budget`` edits of ``quote``.

    Split the quote into ``budget + 1`` pieces: with at most ``budget`` edits one
    piece survives intact (pigeonhole), so only windows around exact piece
    occurrences can hold a match. Each window is scanned with the bit-parallel
    edit-distance automaton, so the work stays linear in the passage length.
    """
    m = len(quote)
    parts = budget + 1
    size = max(1, m // parts)
    windows: list[tuple[int, int]] = []
    covered, rest = 0, len(passage) - offset
    for k in range(parts):
        lo = k * size
        hi = m if k == parts - 1 else lo + size
        piece = quote[lo:hi]
        at = passage.find(piece, offset) if piece else -1
        while at >= 0 and covered < rest:
            start = max(offset, at - lo - budget)
            end = min(len(passage), at - lo + m + budget)
            windows.append((start, end))
            covered += end - start
            at = passage.find(piece, at + 1)
        if covered >= rest:
            # Repetitive text yields windows by the thousand; once they add
            # up to the passage, one scan over all of it is cheaper.
            windows = [(offset, len(passage))]
            break
    best: tuple[int, int, int] | None = None
    for lo, hi in _merge_windows(windows):
        found = _best_end(quote, passage, lo, hi)
        if found is not None and found[0] <= budget:
            if best is None or found[0] < best[0]:
                best = (found[0], found[1], lo)
    if best is None:
        return None
    distance, end, lo = best
    # Scanning reversed strings from the match's end finds where it starts.
    lo_rev = max(lo, end + 1 - m - distance)
    window = passage[lo_rev : end + 1][::-1]
    back = _best_end(quote[::-1], window, 0, len(window), anchored=True)
    if back is None:
        return None
    return end - back[1], end + 1


def _merge_windows(windows: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(windows):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def _best_end(
    pattern: str, text: str, lo: int, hi: int, *, anchored: bool = False
) -> tuple[int, int] | None:
    """Least edit distance of ``pattern`` to a substring of ``text[lo:hi]``.

    Myers' bit-vector algorithm (in Hyyrö's formulation) for approximate
    matching, with Python integers as bit vectors of any length. With
    ``anchored`` the substring must start at ``lo`` (a prefix of the range).

    Returns:
        ``(distance, end)`` where ``end`` is the index in ``text`` of the last
        character of the earliest best match, or None for an empty range.
    """
    m = len(pattern)
    full = (1 << m) - 1
    top = 1 << (m - 1)
    peq: dict[str, int] = {}
    for i, char in enumerate(pattern):
        peq[char] = peq.get(char, 0) | (1 << i)
    carry = 1 if anchored else 0
    pv, mv, score = full, 0, m
    best: tuple[int, int] | None = None
    for j in range(lo, hi):
        eq = peq.get(text[j], 0)
        xv = eq | mv
        xh = ((((eq & pv) + pv) & full) ^ pv) | eq
        ph = (mv | ~(xh | pv)) & full
        mh = pv & xh
        if ph & top:
            score += 1
        elif mh & top:
            score -= 1
        ph = ((ph << 1) | carry) & full
        mh = (mh << 1) & full
        pv = (mh | ~(xv | ph)) & full
        mv = ph & xv
        if best is None or score < best[0]:
            best = (score, j)
    return best


def _line_span(
    chunk: Chunk, positions: list[int], span: tuple[int, int]
) -> tuple[int, int]:
    start, end = span
    first = positions[start]
    last = positions[max(start, end - 1)]
    text = chunk.text
    return (
        chunk.line_start + text.count("\n", 0, first),
        chunk.line_start + text.count("\n", 0, last),
    )
