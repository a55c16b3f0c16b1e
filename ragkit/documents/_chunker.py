"""Structure-aware chunking with an honest token estimate; pure, no I/O."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass

from ragkit.errors import ConfigError
from ragkit.types import Chunk, Document, Section

__all__ = ["ChunkingOptions", "chunk_document", "chunk_id", "estimate_tokens"]

# The pieces a tokenizer splits text into, roughly: runs of letters, runs
# of digits (plus one per three digits: tokenizers cut long numbers), and
# every other non-space character on its own (punctuation, symbols, "_").
_WORDISH = re.compile(r"[^\W\d_]+|[^\w\s]|_")
_DIGIT_RUN = re.compile(r"\d+")
_DIGIT_TRIPLE = re.compile(r"\d{3}")
_CJK = re.compile(
    "[\u2e80-\u2fdf\u3040-\u30ff\u3100-\u318f\u31a0-\u31ff\u3400-\u4dbf"
    "\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f]"
)


def _byte_class(code: int) -> bytes:
    char = chr(code)
    if re.fullmatch(r"[^\W\d_]", char):
        return b"a"
    if re.fullmatch(r"\d", char):
        return b"0"
    if re.fullmatch(r"\s", char):
        return b" "
    return b"."


# Latin-1 text (most text in Western languages) is counted on a byte copy
# mapped to four classes, with bytes.count: the same result as the regexes
# above at a fraction of their cost.
_LATIN1_CLASSES = bytes.maketrans(
    bytes(range(256)), b"".join(_byte_class(code) for code in range(256))
)
_NEWLINE = re.compile("\n")
# Split levels, coarse to fine. A piece ends right after the separator, so
# pieces tile the text and every cut falls on whitespace.
_PARAGRAPH = re.compile(r"\n[ \t]*\n\s*")
_SENTENCE = re.compile(r"[.!?\u2026]+[\"'\u201d\u2019)\]]*\s+|[\u3002\uff01\uff1f]+\s*")
_LINE = re.compile(r"\n\s*")
_LEVELS = (_PARAGRAPH, _SENTENCE, _LINE)
# Where an overlap may begin: after a sentence end or a line break...
_SENTENCE_START = re.compile(
    r"[.!?\u2026]+[\"'\u201d\u2019)\]]*\s+|[\u3002\uff01\uff1f]+\s*|\n\s*"
)
# ... or, failing that, at a word.
_WORD_START = re.compile(r"\s+")
_WORD_END = re.compile(r"\S*\s*")
_JOINERS = frozenset("\u200c\u200d\ufe0e\ufe0f")


def _count_pieces(text: str) -> int:
    """Pieces of any text, by regex (see ``_WORDISH``)."""
    return (
        len(_WORDISH.findall(text))
        + len(_DIGIT_RUN.findall(text))
        + len(_DIGIT_TRIPLE.findall(text))
    )


def estimate_tokens(text: str) -> int:
    """Estimate how many tokens an embedding model's tokenizer makes of ``text``.

    Embedding models use WordPiece or BPE tokenizers: about 1.3 tokens per
    English word and 4 characters per token on prose, more on code, numbers
    and rare words, and one or more per CJK character. The estimate is meant
    to be conservative (to rarely fall below a real tokenizer's count), so
    it takes the larger of two counts:

    - lexical: 1.3 per piece, where a piece is a run of letters, a run of
      digits (plus one more per three digits, as tokenizers cut long numbers),
      or any other non-space character (punctuation, symbols, ``_``); plus 1
      per CJK character;
    - by length: 1 per 3.5 characters, with each CJK character counted as 1.

    Both are rounded up. The estimate of a text is never more than the sum
    of the estimates of pieces it is cut into, which lets the chunker add
    pieces up without re-counting.

    Args:
        text: Any text.

    Returns:
        The estimated token count (0 only for the empty string).

    >>> estimate_tokens("The quick brown fox jumps over the lazy dog.")
    13
    >>> estimate_tokens("価格は1200円です")
    12
    """
    if not text:
        return 0
    try:
        classes = text.encode("latin-1").translate(_LATIN1_CLASSES)
    except UnicodeEncodeError:
        pieces = _count_pieces(text)
        cjk = len(_CJK.findall(text))
    else:
        first = classes[:1]
        letters = classes.count(b" a") + classes.count(b".a") + classes.count(b"0a")
        digits = classes.count(b" 0") + classes.count(b".0") + classes.count(b"a0")
        pieces = letters + (first == b"a") + digits + (first == b"0")
        pieces += classes.count(b"000") + classes.count(b".")
        cjk = 0
    # Integer arithmetic: ceil(1.3 * pieces + cjk), ceil((n - cjk) / 3.5 + cjk).
    lexical = -(-(13 * pieces + 10 * cjk) // 10)
    by_length = -(-(10 * (len(text) - cjk) + 35 * cjk) // 35)
    return max(lexical, by_length)


@dataclass(frozen=True, slots=True)
class ChunkingOptions:
    """How documents are cut into chunks (sizes in estimated tokens).

    Attributes:
        target_tokens: Chunks are packed up to this size.
        overlap_tokens: Consecutive chunks of one section share up to this
            much text, in whole sentences (or words, when the last sentence
            is too long); at most half the target is used.
        max_tokens: Hard cap, usually the embedding model's context length;
            it also lowers the target when smaller. When None the cap is
            twice the target.
        min_tokens: A section's last piece smaller than this (at most half
            the target) is merged into the chunk before it, when that stays
            under the cap.
    """

    target_tokens: int = 384
    overlap_tokens: int = 48
    max_tokens: int | None = None
    min_tokens: int = 32

    def __post_init__(self) -> None:
        if self.target_tokens < 8:
            raise ConfigError(
                f"target_tokens must be at least 8, not {self.target_tokens}"
            )
        if self.max_tokens is not None and self.max_tokens < 8:
            raise ConfigError(f"max_tokens must be at least 8, not {self.max_tokens}")
        if self.overlap_tokens < 0:
            raise ConfigError(
                f"overlap_tokens must not be negative, not {self.overlap_tokens}"
            )
        if self.min_tokens < 0:
            raise ConfigError(f"min_tokens must not be negative, not {self.min_tokens}")

    @property
    def effective_target(self) -> int:
        """The target, lowered to ``max_tokens`` when that is smaller."""
        if self.max_tokens is None:
            return self.target_tokens
        return min(self.target_tokens, self.max_tokens)

    @property
    def cap(self) -> int:
        """The size no chunk exceeds: ``max_tokens``, else twice the target."""
        return (
            self.max_tokens if self.max_tokens is not None else 2 * self.target_tokens
        )


def chunk_id(document: str, start: int, text: str) -> str:
    """A chunk's id: 24 hex digits of SHA-256 over path, offset and text."""
    key = f"{document}\0{start}\0{text}".encode("utf-8", "surrogatepass")
    return hashlib.sha256(key).hexdigest()[:24]


def chunk_document(
    doc: Document, options: ChunkingOptions | None = None
) -> Iterator[Chunk]:
    """Cut a document into chunks, lazily, section by section.

    The rule: a chunk never straddles two sections (so it has one page and
    one heading path). Inside a section the text is split into paragraphs
    (at blank lines); a paragraph over the target into sentences; a
    sentence over the target into lines, then into runs of whole words.
    These pieces are packed in order up to ``target_tokens``; each new chunk
    of a section starts with the end of the previous one (whole sentences,
    else whole words, up to ``overlap_tokens``), and a tiny last piece is
    merged into the chunk before it (``min_tokens``).

    Cuts fall on whitespace only, with one exception: a single "word"
    larger than the cap (a base64 blob, a minified file, a 50 MB line
    without spaces) is cut at character boundaries, never inside a
    combining sequence.

    Every chunk's text is exactly ``doc.text[chunk.start:chunk.end]``,
    without leading or trailing whitespace, and its estimate is at most
    ``options.cap``. Line numbers come from one newline index per document,
    so the work stays linear in the document's length. Text outside the
    document's sections (if they leave gaps) is not chunked.

    Args:
        doc: The document.
        options: Sizes; the defaults when None.

    Yields:
        Chunks in document order.
    """
    options = options or ChunkingOptions()
    text = doc.text
    newlines = [m.start() for m in _NEWLINE.finditer(text)]
    sections = doc.sections or (Section(0, len(text)),)
    packer = _Packer(text, options)
    for section in sections:
        start = max(0, section.start)
        end = min(len(text), section.end)
        if start >= end:
            continue
        for span_start, span_end in packer.pack(start, end):
            chunk = _make_chunk(doc, span_start, span_end, section, newlines)
            if chunk is not None:
                yield chunk


def _make_chunk(
    doc: Document, start: int, end: int, section: Section, newlines: list[int]
) -> Chunk | None:
    span = doc.text[start:end]
    body = span.strip()
    if not body:
        return None
    start += len(span) - len(span.lstrip())
    end = start + len(body)
    return Chunk(
        id=chunk_id(doc.path, start, body),
        document=doc.path,
        text=body,
        start=start,
        end=end,
        # bisect_left counts the newlines before an offset.
        line_start=bisect_left(newlines, start) + 1,
        line_end=bisect_left(newlines, end - 1) + 1,
        page=section.page,
        heading_path=section.heading_path,
        metadata=doc.metadata,
    )


class _Packer:
    """Splits sections into pieces and packs them into chunk spans."""

    def __init__(self, text: str, options: ChunkingOptions) -> None:
        self.text = text
        self.target = options.effective_target
        self.cap = max(options.cap, self.target)
        self.overlap = min(options.overlap_tokens, self.target // 2)
        self.min_tokens = min(options.min_tokens, self.target // 2)

    def _fits(self, length: int, budget: int) -> bool:
        """Whether a text this long might estimate at most ``budget``.

        The estimate is at least length / 3.5, so longer texts need no count.
        """
        return 10 * length <= 35 * budget

    def pack(self, start: int, end: int) -> Iterator[tuple[int, int]]:
        """Yield (start, end) spans of chunks, untrimmed, for one section."""
        text = self.text
        # The finished chunk before the current one is held back so that a
        # tiny last piece can still be merged into it.
        held: tuple[int, int, int] | None = None
        cur_start = cur_end = new_start = -1
        cur_tokens = new_tokens = 0
        for unit_start, unit_end, tokens in self._units(start, end, 0):
            if cur_start < 0:
                cur_start, cur_end, new_start = unit_start, unit_end, unit_start
                cur_tokens = new_tokens = tokens
                continue
            if cur_tokens + tokens <= self.target:
                cur_end = unit_end
                cur_tokens += tokens
                new_tokens += tokens
                continue
            if held is not None:
                yield held[0], held[1]
            held = (cur_start, cur_end, cur_tokens)
            budget = min(self.overlap, self.target - tokens)
            overlap_start, overlap_tokens = self._overlap(cur_start, cur_end, budget)
            cur_start = overlap_start if overlap_start < cur_end else unit_start
            cur_tokens = overlap_tokens + tokens
            cur_end = unit_end
            new_start = unit_start
            new_tokens = tokens
        if cur_start < 0:
            return
        if held is not None:
            if not text[new_start:cur_end].strip():
                # Only whitespace after the overlap: nothing new to say.
                yield held[0], held[1]
                return
            if new_tokens < self.min_tokens and held[2] + new_tokens <= self.cap:
                yield held[0], cur_end
                return
            yield held[0], held[1]
        yield cur_start, cur_end

    def _units(
        self, start: int, end: int, level: int
    ) -> Iterator[tuple[int, int, int]]:
        """Pieces tiling [start, end), each within the target where possible."""
        if self._fits(end - start, self.target):
            tokens = estimate_tokens(self.text[start:end])
            if tokens <= self.target:
                yield start, end, tokens
                return
        if level == len(_LEVELS):
            yield from self._word_runs(start, end)
            return
        pattern = _LEVELS[level]
        position = start
        for match in pattern.finditer(self.text, start, end):
            boundary = match.end()
            if position < boundary < end:
                yield from self._units(position, boundary, level + 1)
                position = boundary
        yield from self._units(position, end, level + 1)

    def _word_runs(self, start: int, end: int) -> Iterator[tuple[int, int, int]]:
        """Runs of whole words within the target; a word over the cap is cut."""
        text = self.text
        position = start
        # Prose averages about 4 characters a token, so a window of `target`
        # characters holds about a quarter of a target: small enough to pack
        # chunks well and leave room for overlap. It shrinks on denser text.
        window = self.target
        while position < end:
            size = window
            while True:
                stop = min(end, position + size)
                if stop < end:
                    cut = max(
                        text.rfind(" ", position, stop),
                        text.rfind("\t", position, stop),
                        text.rfind("\n", position, stop),
                    )
                    if cut < position:
                        word_end = _WORD_END.match(text, position, end)
                        stop = word_end.end() if word_end else end
                        yield from self._long_word(position, stop)
                        position = stop
                        break
                    stop = cut + 1
                tokens = (
                    estimate_tokens(text[position:stop])
                    if self._fits(stop - position, self.target)
                    else self.target + 1
                )
                if tokens <= self.target:
                    yield position, stop, tokens
                    position = stop
                    break
                size = (stop - position) // 2

    def _long_word(self, start: int, end: int) -> Iterator[tuple[int, int, int]]:
        """One word (with its trailing space): whole if under the cap, else cut."""
        text = self.text
        if self._fits(end - start, self.cap):
            tokens = estimate_tokens(text[start:end])
            if tokens <= self.cap:
                yield start, end, tokens
                return
        position = start
        while position < end:
            size = min(end - position, max(1, 35 * self.cap // 10))
            while True:
                while (
                    size > 1
                    and position + size < end
                    and _continues_character(text[position + size])
                ):
                    size -= 1
                tokens = estimate_tokens(text[position : position + size])
                if tokens <= self.cap or size == 1:
                    break
                size = max(1, size * self.cap // tokens)
            yield position, position + size, tokens
            position += size

    def _overlap(self, start: int, end: int, budget: int) -> tuple[int, int]:
        """Where the next chunk starts to repeat the end of [start, end).

        Returns:
            The earliest sentence start (else word start) after ``start``
            whose tail fits ``budget``, with the tail's estimate; ``(end, 0)``
            when nothing fits.
        """
        if budget <= 0:
            return end, 0
        text = self.text
        low = max(start + 1, end - 35 * budget // 10)
        # A tail of whitespace alone is no overlap.
        content_end = low + len(text[low:end].rstrip())
        for pattern in (_SENTENCE_START, _WORD_START):
            candidates = [
                m.end()
                for m in pattern.finditer(text, low, end)
                if m.end() < content_end
            ]
            # The estimate shrinks as the start moves right: binary search.
            lo, hi = 0, len(candidates)
            while lo < hi:
                mid = (lo + hi) // 2
                if estimate_tokens(text[candidates[mid] : end]) <= budget:
                    hi = mid
                else:
                    lo = mid + 1
            if lo < len(candidates):
                return candidates[lo], estimate_tokens(text[candidates[lo] : end])
        return end, 0


def _continues_character(char: str) -> bool:
    """Whether ``char`` belongs to the character before it (a mark or joiner)."""
    return char in _JOINERS or unicodedata.category(char) in ("Mn", "Mc", "Me")
