"""Printing for the CLI: data to stdout, messages to stderr, untrusted text cleaned."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import click

__all__ = ["clean", "echo_json", "one_line", "say", "warn"]

# C0 controls except tab and newline, DEL, and C1 controls (which include CSI,
# the 8-bit escape sequence introducer). Removing ESC alone neuters every ANSI
# sequence; the rest of the sequence is left as harmless printable text.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

# Bidirectional overrides and isolates reorder what follows them on screen, so
# "txt.exe" can show as "exe.txt"; lone surrogates are file-name bytes that are
# not UTF-8 (PEP 383) and cannot be written to a UTF-8 stream at all.
_BIDI_AND_SURROGATES = r"\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_INVISIBLE = re.compile(f"[{_BIDI_AND_SURROGATES}]")

# What a name printed on one line must not contain: every control character
# (line breaks too, or a name could forge a line of output) and the above.
_NOT_IN_A_NAME = re.compile(f"[\\x00-\\x1f\\x7f-\\x9f{_BIDI_AND_SURROGATES}]")


def clean(text: str) -> str:
    """Strip control characters from untrusted text before it reaches a terminal.

    Line breaks and tabs stay: use this for text (answers, snippets); use
    :func:`one_line` for names.

    >>> clean("ok\\x1b[2Jdone\\a")
    'ok[2Jdone'
    """
    return _INVISIBLE.sub("", _CONTROL.sub("", text))


def one_line(name: str) -> str:
    """Show an untrusted name (a path, a heading) on one line, nothing hidden.

    Control characters, line breaks, bidirectional overrides and undecodable
    bytes are written as visible escapes rather than dropped, so the name
    still tells which file it is.

    >>> one_line("notes\\nIndexed 9 file(s).md")
    'notes\\\\nIndexed 9 file(s).md'
    """
    return _NOT_IN_A_NAME.sub(_escape, name)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if "\udc80" <= char <= "\udcff":  # an undecodable byte, as os gave it
        return f"\\x{ord(char) - 0xDC00:02x}"
    return char.encode("unicode_escape").decode("ascii")


def echo_json(data: Any) -> None:
    """Print ``data`` as JSON on stdout, for scripts.

    Non-ASCII text stays readable, but control characters, bidirectional
    overrides and lone surrogates are \\u-escaped like the C0 controls that
    JSON escapes anyway, so a terminal showing the output interprets nothing.
    """
    text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    click.echo(_NOT_IN_A_NAME.sub(_json_escape, text))


def _json_escape(match: re.Match[str]) -> str:
    # Outside strings JSON has only ASCII structure and whitespace, which
    # json.dumps never emits raw in this range except newlines of the indent.
    char = match.group()
    return char if char == "\n" else f"\\u{ord(char):04x}"


def say(message: str, *, nl: bool = True) -> None:
    """Print a human-readable line on stdout."""
    click.echo(clean(message), nl=nl)


def warn(message: str) -> None:
    """Print a message for the person at the terminal on stderr."""
    click.echo(clean(message), err=True)


def is_terminal(stream: Any = None) -> bool:
    """Whether ``stream`` (stderr by default) is an interactive terminal."""
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())
