"""Printing for the CLI: data to stdout, messages to stderr, untrusted text cleaned."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import click

__all__ = ["clean", "echo_json", "say", "warn"]

# C0 controls except tab and newline, DEL, and C1 controls (which include CSI,
# the 8-bit escape sequence introducer). Removing ESC alone neuters every ANSI
# sequence; the rest of the sequence is left as harmless printable text.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean(text: str) -> str:
    """Strip control characters from untrusted text before it reaches a terminal.

    >>> clean("ok\\x1b[2Jdone\\a")
    'ok[2Jdone'
    """
    return _CONTROL.sub("", text)


def echo_json(data: Any) -> None:
    """Print ``data`` as JSON on stdout, for scripts."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


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
