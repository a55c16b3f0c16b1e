"""Incremental extraction of the ``answer`` field from a reply streamed as JSON."""

from __future__ import annotations

import re

__all__ = ["AnswerStreamParser"]

_SPECIAL = re.compile(r'["\\]')
_ESCAPES = {
    '"': '"',
    "\\": "\\",
    "/": "/",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
}
_WHITESPACE = frozenset(" \t\r\n")
_REPLACEMENT = "\ufffd"

# What the string being read is.
_OTHER, _KEY, _ANSWER = 0, 1, 2
# Where an escape sequence stands.
_PLAIN, _BACKSLASH, _HEX = 0, 1, 2
# How far the answer has come.
_NOT_SEEN, _STREAMING, _DONE = 0, 1, 2


class AnswerStreamParser:
    """Pull the top-level ``answer`` string out of JSON as it streams in.

    Feed the ``message.content`` pieces of a streamed ``/api/chat`` reply in
    order; each call returns the characters of the answer that became known.
    Chunk boundaries may fall anywhere, even inside an escape sequence or
    between the halves of a surrogate pair. Only the ``answer`` key of the
    outermost object counts (not ``answer_text``, not an ``answer`` nested in
    a citation), wherever it stands among the keys; if it appears twice, the
    first one is streamed. Anything before the first ``{`` (a code fence, a
    sentence) is skipped. A lone surrogate escape becomes U+FFFD, so the text
    can always be printed. The work is linear in the length of the input.

    When the stream ends, parse :meth:`finish`'s full text with
    ``parse_answer`` to get the citations.

    >>> parser = AnswerStreamParser()
    >>> parser.feed('{"citations": [], "ans') + parser.feed('wer": "Hi \\\\u00e9')
    'Hi é'
    >>> parser.feed('!"}'), parser.complete
    ('!', True)
    """

    def __init__(self) -> None:
        self._raw: list[str] = []
        self._answer: list[str] = []
        self._stack: list[str] = []
        self._in_string = False
        self._kind = _OTHER
        self._escape = _PLAIN
        self._hex = ""
        self._high: int | None = None
        self._key: list[str] = []
        self._expect_key = False
        self._last_key: str | None = None
        self._answer_next = False
        self._state = _NOT_SEEN

    @property
    def answer(self) -> str:
        """The answer text decoded so far."""
        return "".join(self._answer)

    @property
    def complete(self) -> bool:
        """Whether the answer string has been closed."""
        return self._state == _DONE

    def feed(self, text_piece: str) -> str:
        """Take the next piece of the streamed reply.

        Args:
            text_piece: The next ``message.content`` piece.

        Returns:
            The answer characters that this piece made known (often ``""``).
        """
        self._raw.append(text_piece)
        out: list[str] = []
        i, n = 0, len(text_piece)
        while i < n:
            if self._in_string:
                i = self._read_string(text_piece, i, out)
                continue
            char = text_piece[i]
            i += 1
            if not self._stack:
                if char == "{":
                    self._stack.append(char)
                    self._expect_key = True
                continue
            if char in _WHITESPACE:
                continue
            if char == '"':
                self._open_string()
                continue
            self._answer_next = False
            if char in "{[":
                self._stack.append(char)
            elif char in "}]":
                self._stack.pop()
            elif len(self._stack) == 1:
                if char == ":":
                    self._expect_key = False
                    if self._last_key == "answer" and self._state == _NOT_SEEN:
                        self._answer_next = True
                elif char == ",":
                    self._expect_key = True
                    self._last_key = None
        new = "".join(out)
        if new:
            self._answer.append(new)
        return new

    def finish(self) -> str:
        """The full text fed so far, for parsing once the stream has ended."""
        return "".join(self._raw)

    def _open_string(self) -> None:
        self._in_string = True
        self._escape = _PLAIN
        if len(self._stack) == 1 and self._expect_key:
            self._kind = _KEY
            self._key = []
        elif self._answer_next:
            self._kind = _ANSWER
            self._state = _STREAMING
        else:
            self._kind = _OTHER
        self._answer_next = False

    def _read_string(self, piece: str, i: int, out: list[str]) -> int:
        """Consume string content from ``piece[i:]``; return where to go on."""
        if self._escape == _PLAIN:
            match = _SPECIAL.search(piece, i)
            stop = match.start() if match else len(piece)
            if stop > i:
                self._emit(piece[i:stop], out)
            if match is None:
                return stop
            if piece[stop] == '"':
                self._close_string(out)
            else:
                self._escape = _BACKSLASH
            return stop + 1
        if self._escape == _BACKSLASH:
            char = piece[i]
            if char == "u":
                self._escape = _HEX
                self._hex = ""
            else:
                self._escape = _PLAIN
                self._emit(_ESCAPES.get(char, char), out)
            return i + 1
        taken = piece[i : i + 4 - len(self._hex)]
        self._hex += taken
        if len(self._hex) == 4:
            self._escape = _PLAIN
            try:
                code = int(self._hex, 16)
            except ValueError:
                code = ord(_REPLACEMENT)
            self._code_point(code, out)
        return i + len(taken)

    def _code_point(self, code: int, out: list[str]) -> None:
        if 0xD800 <= code < 0xDC00:
            self._flush_high(out)
            self._high = code
        elif 0xDC00 <= code < 0xE000:
            if self._high is None:
                self._sink(_REPLACEMENT, out)
            else:
                pair = 0x10000 + ((self._high - 0xD800) << 10) + (code - 0xDC00)
                self._high = None
                self._sink(chr(pair), out)
        else:
            self._emit(chr(code), out)

    def _emit(self, text: str, out: list[str]) -> None:
        self._flush_high(out)
        self._sink(text, out)

    def _flush_high(self, out: list[str]) -> None:
        # A high surrogate not followed by a low one stands alone.
        if self._high is not None:
            self._high = None
            self._sink(_REPLACEMENT, out)

    def _sink(self, text: str, out: list[str]) -> None:
        if self._kind == _ANSWER:
            out.append(text)
        elif self._kind == _KEY:
            self._key.append(text)

    def _close_string(self, out: list[str]) -> None:
        self._flush_high(out)
        self._in_string = False
        if self._kind == _KEY:
            self._last_key = "".join(self._key)
            self._expect_key = False
        elif self._kind == _ANSWER:
            self._state = _DONE
        self._kind = _OTHER
