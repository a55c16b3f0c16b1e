"""Glob patterns with ``**`` support, translated to regular expressions."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["GlobSet", "glob_to_regex"]


def glob_to_regex(pattern: str) -> str:
    """Translate a glob over ``/``-separated relative paths into a regex.

    The rules follow ``.gitignore``:

    - ``*`` matches any run of characters except ``/``; ``?`` one such character.
    - ``[abc]``, ``[a-z]`` and ``[!abc]`` are character classes (never ``/``).
    - ``**`` as a whole path segment matches zero or more segments:
      ``**/x`` is ``x`` at any depth, ``a/**`` everything under ``a``,
      ``a/**/b`` is ``a/b``, ``a/x/b``, ``a/x/y/b``...
    - A pattern without a ``/`` matches the last segment at any depth
      (``*.md`` matches ``docs/intro.md``); one with a ``/`` is anchored at
      the root (a leading ``/`` only anchors).
    - A trailing ``/`` is ignored here (see :class:`GlobSet` for folder-only
      patterns).

    Args:
        pattern: The glob.

    Returns:
        A regex (without anchors) for :func:`re.fullmatch`.

    >>> import re
    >>> bool(re.fullmatch(glob_to_regex("docs/**/*.md"), "docs/a/b/c.md"))
    True
    >>> bool(re.fullmatch(glob_to_regex("docs/**/*.md"), "docs/c.md"))
    True
    >>> bool(re.fullmatch(glob_to_regex("*.md"), "a/b.txt"))
    False
    """
    pattern = pattern.rstrip("/")
    if "/" not in pattern:
        pattern = "**/" + pattern
    segments: list[str] = []
    for segment in pattern.lstrip("/").split("/"):
        # "**/**" means no more than "**".
        if not (segment == "**" and segments and segments[-1] == "**"):
            segments.append(segment)
    if segments == ["**"]:
        return "(?s:.*)"
    out: list[str] = []
    last = len(segments) - 1
    for index, segment in enumerate(segments):
        if segment == "**":
            if index == last:
                # "a/**" means everything below a, not a itself.
                out.append(".*" if index == 0 else "/.*")
            elif index == 0:
                out.append("(?:.*/)?")
            else:
                out.append("/(?:.*/)?")
            continue
        if index > 0 and segments[index - 1] != "**":
            out.append("/")
        out.append(_translate_segment(segment))
    # (?s:...) because file names may contain newlines.
    return "(?s:" + "".join(out) + ")"


def _translate_segment(segment: str) -> str:
    out: list[str] = []
    i = 0
    n = len(segment)
    while i < n:
        char = segment[i]
        if char == "*":
            # Two or more stars inside a segment act like one.
            while i < n and segment[i] == "*":
                i += 1
            out.append("[^/]*")
            continue
        if char == "?":
            out.append("[^/]")
        elif char == "[":
            end, cls = _translate_class(segment, i)
            if end < 0:
                out.append(re.escape(char))
            else:
                out.append(cls)
                i = end
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def _translate_class(segment: str, start: int) -> tuple[int, str]:
    """Return (index of the closing ``]``, regex class), or (-1, "") if unclosed."""
    i = start + 1
    negate = i < len(segment) and segment[i] in "!^"
    if negate:
        i += 1
    first = i
    # A "]" right after the opening bracket is a literal member.
    if i < len(segment) and segment[i] == "]":
        i += 1
    while i < len(segment) and segment[i] != "]":
        i += 1
    if i >= len(segment):
        return -1, ""
    body = segment[first:i].replace("\\", "\\\\").replace("^", "\\^")
    # Escape what Python's re would read as nested sets or set operations.
    for special in "[]&~|":
        body = body.replace(special, "\\" + special)
    return i, f"[^/{body}]" if negate else f"(?!/)[{body}]"


@dataclass(frozen=True, slots=True)
class GlobSet:
    """A set of globs compiled into one regex for fast matching.

    Patterns ending in ``/`` match folders only.

    Attributes:
        patterns: The globs as given.
    """

    patterns: tuple[str, ...]
    _any: re.Pattern[str] | None
    _dirs_only: re.Pattern[str] | None

    @classmethod
    def compile(cls, patterns: Sequence[str]) -> GlobSet:
        """Compile ``patterns`` (an empty list matches nothing)."""
        if isinstance(patterns, str):
            patterns = (patterns,)
        files = [glob_to_regex(p) for p in patterns if p and not p.endswith("/")]
        dirs = [glob_to_regex(p) for p in patterns if p.endswith("/") and p != "/"]
        return cls(
            tuple(patterns),
            re.compile("|".join(f"(?:{r})" for r in files)) if files else None,
            re.compile("|".join(f"(?:{r})" for r in dirs)) if dirs else None,
        )

    def match(self, relpath: str, *, is_dir: bool = False) -> bool:
        """Whether a ``/``-separated relative path matches any of the globs."""
        if self._any is not None and self._any.fullmatch(relpath):
            return True
        return bool(is_dir and self._dirs_only and self._dirs_only.fullmatch(relpath))
