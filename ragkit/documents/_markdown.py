"""Markdown and reStructuredText: heading structure kept as sections."""

from __future__ import annotations

import re

from ragkit.documents._base import (
    LoaderOptions,
    clean_heading,
    decode_text,
    make_document,
    sections_from_headings,
)
from ragkit.types import Document

__all__ = ["load_markdown", "load_rst", "markdown_headings", "rst_headings"]

_ATX = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*?))??(?:[ \t]+#+)?[ \t]*")
_SETEXT = re.compile(r" {0,3}(=+|-+)[ \t]*")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})(.*)")
# Lines that end a paragraph or cannot be setext heading text.
_BLOCK_START = re.compile(r" {0,3}(?:[-+*>|]|\d{1,9}[.)])(?:[ \t]|$)| {4}|\t")
_FRONT_MATTER_END = re.compile(r"(?:---|\.\.\.)[ \t]*")
_TITLE_FIELD = re.compile(r"title[ \t]*:[ \t]*(.*)", re.IGNORECASE)
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(\*{1,3}|_{1,3}|`+)(.+?)\1")

_RST_ADORNMENT = re.compile(r"([!-/:-@\[-`{-~])\1+[ \t]*")


def _lines(text: str) -> list[tuple[int, str]]:
    """(offset, line without its newline) for every line."""
    out: list[tuple[int, str]] = []
    offset = 0
    for line in text.split("\n"):
        out.append((offset, line))
        offset += len(line) + 1
    return out


def _inline_text(title: str) -> str:
    title = _LINK.sub(r"\1", title)
    title = _EMPHASIS.sub(r"\2", title)
    return clean_heading(title)


def blank_front_matter(text: str) -> tuple[str, str | None]:
    """Replace a leading ``---`` front matter block with empty lines.

    Blanking instead of cutting keeps every offset and line number of the
    rest of the document equal to the file's.

    Returns:
        The text, and the front matter's ``title:`` when it has one.
    """
    if not text.startswith("---"):
        return text, None
    lines = _lines(text)
    if lines[0][1].rstrip() != "---":
        return text, None
    title: str | None = None
    for index, (offset, line) in enumerate(lines[1:], start=1):
        if _FRONT_MATTER_END.fullmatch(line):
            end = offset + len(line)
            for _, field_line in lines[1:index]:
                match = _TITLE_FIELD.fullmatch(field_line.strip())
                if match and title is None:
                    title = match.group(1).strip().strip("'\"").strip() or None
            blanked = "\n" * text.count("\n", 0, end)
            return blanked + text[end:], title
    return text, None


def markdown_headings(text: str) -> list[tuple[int, int, str]]:
    """Find ATX (``## Title``) and setext (underlined) headings.

    Headings inside fenced code blocks do not count; a setext heading spans
    the paragraph above its underline, as in CommonMark.

    Returns:
        ``(offset, level, title)`` for each heading, in order.
    """
    headings: list[tuple[int, int, str]] = []
    fence: str | None = None
    paragraph: list[tuple[int, str]] = []
    for offset, line in _lines(text):
        if fence is not None:
            match = _FENCE.fullmatch(line)
            if match and match.group(1)[0] == fence[0]:
                if len(match.group(1)) >= len(fence) and not match.group(2).strip():
                    fence = None
            continue
        match = _FENCE.fullmatch(line)
        if match and not (match.group(1)[0] == "`" and "`" in match.group(2)):
            fence = match.group(1)
            paragraph = []
            continue
        if not line.strip():
            paragraph = []
            continue
        atx = _ATX.fullmatch(line)
        if atx:
            level = len(atx.group(1))
            headings.append((offset, level, _inline_text(atx.group(2) or "")))
            paragraph = []
            continue
        setext = _SETEXT.fullmatch(line)
        if setext and paragraph and not _BLOCK_START.match(paragraph[0][1]):
            level = 1 if setext.group(1)[0] == "=" else 2
            title = " ".join(p.strip() for _, p in paragraph)
            headings.append((paragraph[0][0], level, _inline_text(title)))
            paragraph = []
            continue
        paragraph.append((offset, line))
    return headings


def load_markdown(data: bytes, *, relpath: str, options: LoaderOptions) -> Document:
    """Load Markdown: sections per heading, front matter out of the text.

    The title is the front matter's ``title:``, else the first level-1
    heading. The front matter's lines are blanked, so line numbers stay
    those of the file.
    """
    text, title = blank_front_matter(
        decode_text(data, options=options, relpath=relpath)
    )
    headings = markdown_headings(text)
    if title is None:
        title = next((h[2] for h in headings if h[1] == 1), None)
    return make_document(
        text,
        relpath=relpath,
        kind="markdown",
        sections=sections_from_headings(len(text), headings),
        title=title,
    )


def rst_headings(text: str) -> list[tuple[int, int, str]]:
    """Find reStructuredText section titles (underlined, optionally overlined).

    Levels follow the order in which adornment styles first appear, as
    docutils does: the first style seen is level 1.

    Returns:
        ``(offset, level, title)`` for each title, in order.
    """
    lines = _lines(text)
    styles: list[tuple[str, bool]] = []
    headings: list[tuple[int, int, str]] = []
    i = 0
    while i < len(lines) - 1:
        offset, line = lines[i]
        previous_blank = i == 0 or not lines[i - 1][1].strip()
        over = _RST_ADORNMENT.fullmatch(line)
        if (
            over
            and previous_blank
            and i + 2 < len(lines)
            and lines[i + 1][1].strip()
            and not _RST_ADORNMENT.fullmatch(lines[i + 1][1])
        ):
            under = _RST_ADORNMENT.fullmatch(lines[i + 2][1])
            title = lines[i + 1][1].strip()
            if (
                under
                and under.group(1) == over.group(1)
                and len(line.rstrip()) >= len(title)
            ):
                level = _style_level(styles, (over.group(1), True))
                headings.append((offset, level, clean_heading(title)))
                i += 3
                continue
        under = _RST_ADORNMENT.fullmatch(lines[i + 1][1])
        title = line.strip()
        if (
            under
            and previous_blank
            and title
            and line[0] not in " \t"
            and not over
            and len(lines[i + 1][1].rstrip()) >= min(len(title), 3)
        ):
            level = _style_level(styles, (under.group(1), False))
            headings.append((offset, level, clean_heading(title)))
            i += 2
            continue
        i += 1
    return headings


def _style_level(styles: list[tuple[str, bool]], style: tuple[str, bool]) -> int:
    if style not in styles:
        styles.append(style)
    return styles.index(style) + 1


def load_rst(data: bytes, *, relpath: str, options: LoaderOptions) -> Document:
    """Load reStructuredText: sections per title; the first title is the title."""
    text = decode_text(data, options=options, relpath=relpath)
    headings = rst_headings(text)
    return make_document(
        text,
        relpath=relpath,
        kind="rst",
        sections=sections_from_headings(len(text), headings),
        title=headings[0][2] if headings else None,
    )
