"""Plain text and source code; code gets a section per top-level definition."""

from __future__ import annotations

import re

from ragkit.documents._base import (
    LoaderOptions,
    decode_text,
    make_document,
)
from ragkit.types import Document, Section

__all__ = ["code_sections", "load_code", "load_text"]

_IDENT = r"[A-Za-z_$][\w$]*"
# Top-level definitions (at column 0) that start a section, per language
# family. Group "name" is the symbol.
_DEFINITIONS: dict[str, re.Pattern[str]] = {
    "python": re.compile(rf"(?:async[ \t]+)?(?:def|class)[ \t]+(?P<name>{_IDENT})"),
    "js": re.compile(
        r"(?:export[ \t]+(?:default[ \t]+)?)?(?:declare[ \t]+)?"
        r"(?:(?:async[ \t]+)?function\*?[ \t]*|(?:abstract[ \t]+)?class[ \t]+"
        r"|interface[ \t]+|enum[ \t]+|type[ \t]+"
        rf"|(?:const|let|var)[ \t]+(?={_IDENT}[ \t]*(?::[^=]*)?=[ \t]*"
        r"(?:async[ \t]*)?(?:\(|function|[A-Za-z_$][\w$]*[ \t]*=>)))"
        rf"(?P<name>{_IDENT})"
    ),
    "go": re.compile(
        rf"(?:func[ \t]+(?:\([^)]*\)[ \t]*)?|type[ \t]+)(?P<name>{_IDENT})"
    ),
    "rust": re.compile(
        r"(?:pub(?:\([^)]*\))?[ \t]+)?(?:async[ \t]+)?(?:unsafe[ \t]+)?"
        rf"(?:fn|struct|enum|trait|mod|impl(?:<[^>]*>)?)[ \t]+(?P<name>{_IDENT})"
    ),
    "ruby": re.compile(
        rf"(?:def|class|module)[ \t]+(?P<name>(?:self\.)?{_IDENT}[?!]?)"
    ),
}
# Lines just above a definition that belong to it: decorators, attributes
# and comments.
_LEADING: dict[str, tuple[str, ...]] = {
    "python": ("@", "#"),
    "js": ("@", "//", "/*", " *", "*/"),
    "go": ("//",),
    "rust": ("#[", "///", "//"),
    "ruby": ("#",),
}
CODE_LANGUAGES: dict[str, str] = {
    ".py": "python",
    ".pyi": "python",
    ".js": "js",
    ".mjs": "js",
    ".cjs": "js",
    ".jsx": "js",
    ".ts": "js",
    ".tsx": "js",
    ".go": "go",
    ".rs": "rust",
    ".rb": "ruby",
}
"""Extensions whose top-level definitions start sections; other code is one
section."""


def code_sections(text: str, language: str) -> list[Section]:
    """Cut source code at top-level definitions.

    A section starts at a definition at column 0 (``def``/``class`` in
    Python, ``function``/``class``/``const f = (...) =>`` in JavaScript and
    TypeScript, ``func``/``type`` in Go, ``fn``/``struct``/``impl``... in
    Rust, ``def``/``class``/``module`` in Ruby), together with the
    decorators and comments right above it. Its heading path is the
    symbol's name.

    Args:
        text: The source.
        language: A key of the definition table (``"python"``, ``"js"``...).

    Returns:
        Sections covering the text; empty when no definition was found.
    """
    pattern = _DEFINITIONS.get(language)
    if pattern is None:
        return []
    leading = _LEADING[language]
    lines = text.split("\n")
    offsets: list[int] = []
    position = 0
    for line in lines:
        offsets.append(position)
        position += len(line) + 1
    starts: list[tuple[int, str]] = []
    for index, line in enumerate(lines):
        if not line or line[0] in " \t":
            continue
        match = pattern.match(line)
        if match is None:
            continue
        first = index
        while first > 0 and lines[first - 1].startswith(leading):
            first -= 1
        if starts and offsets[first] <= starts[-1][0]:
            first = index
        name = match.group("name")
        starts.append((offsets[first], name))
    if not starts:
        return []
    sections: list[Section] = []
    if starts[0][0] > 0:
        sections.append(Section(0, starts[0][0]))
    for (start, name), nxt in zip(starts, starts[1:] + [(len(text), "")], strict=True):
        sections.append(Section(start, nxt[0], heading_path=(name,)))
    return sections


def load_text(data: bytes, *, relpath: str, options: LoaderOptions) -> Document:
    """Load plain text (also logs, data formats and files without extension)."""
    text = decode_text(data, options=options, relpath=relpath)
    return make_document(text, relpath=relpath, kind="text")


def load_code(data: bytes, *, relpath: str, options: LoaderOptions) -> Document:
    """Load source code, with sections at top-level definitions where known."""
    text = decode_text(data, options=options, relpath=relpath)
    suffix = relpath.rsplit("/", 1)[-1]
    suffix = suffix[suffix.rfind(".") :].lower() if "." in suffix else ""
    language = CODE_LANGUAGES.get(suffix)
    sections = code_sections(text, language) if language else []
    return make_document(text, relpath=relpath, kind="code", sections=sections)
