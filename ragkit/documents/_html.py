"""HTML: the visible text, the title, and sections at ``h1``–``h6``."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from ragkit.documents._base import (
    LoaderOptions,
    clean_heading,
    decode_text,
    make_document,
    sections_from_headings,
)
from ragkit.types import Document

__all__ = ["html_to_text", "load_html"]

_HIDDEN = frozenset(
    {"script", "style", "template", "noscript", "svg", "math", "iframe", "object"}
)
# Elements that end a paragraph (a blank line) or only a line.
_PARAGRAPH = frozenset(
    {
        "address", "article", "aside", "blockquote", "details", "dialog", "div",
        "dl", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2",
        "h3", "h4", "h5", "h6", "header", "hr", "main", "nav", "ol", "p", "pre",
        "section", "summary", "table", "ul",
    }
)  # fmt: skip
_LINE = frozenset({"br", "caption", "dd", "dt", "li", "option", "tr"})
_CELL = frozenset({"td", "th"})
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_SPACE = re.compile(r"[ \t\n\r\f\v]+")
_META_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I
)


class _TextExtractor(HTMLParser):
    """Collects visible text; notes where headings start."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.length = 0
        self.hidden_depth = 0
        self.in_head = False
        self.in_title = False
        self.pre_depth = 0
        self.title_parts: list[str] = []
        self.heading: tuple[int, int, list[str]] | None = None
        self.headings: list[tuple[int, int, str]] = []

    # The output is kept as a list of parts with a running length, so that
    # heading offsets are known without joining.
    def _append(self, text: str) -> None:
        if text:
            self.parts.append(text)
            self.length += len(text)

    def _last_char(self) -> str:
        return self.parts[-1][-1] if self.parts else "\n"

    def _trim_trailing_spaces(self) -> None:
        while self.parts and self.parts[-1].endswith(" "):
            stripped = self.parts[-1].rstrip(" ")
            self.length -= len(self.parts[-1]) - len(stripped)
            if stripped:
                self.parts[-1] = stripped
                break
            self.parts.pop()

    def _break(self, newlines: int) -> None:
        if not self.parts:
            return
        self._trim_trailing_spaces()
        have = 0
        for part in reversed(self.parts):
            stripped = part.rstrip("\n")
            have += len(part) - len(stripped)
            if stripped:
                break
        if have < newlines:
            self._append("\n" * (newlines - have))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self.hidden_depth += 1
        elif tag == "head":
            self.in_head = True
        elif tag == "body":
            self.in_head = False
        elif tag == "title" and not self.hidden_depth:
            self.in_title = True
        if self.hidden_depth or self.in_head:
            return
        if tag in _PARAGRAPH:
            self._break(2)
        elif tag in _LINE:
            self._break(1)
        elif tag in _CELL and self._last_char() not in " \n":
            self._append(" ")
        if tag == "pre":
            self.pre_depth += 1
        level = _HEADINGS.get(tag)
        if level is not None:
            self.heading = (self.length, level, [])

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            return
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self.hidden_depth = max(0, self.hidden_depth - 1)
            return
        if tag == "head":
            self.in_head = False
        elif tag == "title":
            self.in_title = False
        if self.hidden_depth or self.in_head:
            return
        if tag == "pre":
            self.pre_depth = max(0, self.pre_depth - 1)
        if tag in _PARAGRAPH:
            self._break(2)
        elif tag in _LINE and tag != "br":
            self._break(1)
        level = _HEADINGS.get(tag)
        if level is not None and self.heading is not None:
            offset, level, words = self.heading
            self.headings.append((offset, level, clean_heading("".join(words))))
            self.heading = None

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title_parts.append(data)
            return
        if self.hidden_depth or self.in_head:
            return
        if self.heading is not None:
            self.heading[2].append(data)
        if self.pre_depth:
            self._append(data)
            return
        text = _SPACE.sub(" ", data)
        if self._last_char() in " \n":
            text = text.lstrip(" ")
        self._append(text)


def html_to_text(html: str) -> tuple[str, str | None, list[tuple[int, int, str]]]:
    """Extract what a browser shows from an HTML page.

    Scripts, styles, templates, ``noscript``, embedded SVG/MathML and the
    ``<head>`` (except ``<title>``) are dropped. Whitespace collapses as in a
    browser except inside ``<pre>``; block elements become line breaks and
    paragraphs blank lines; entities are decoded.

    Args:
        html: The page source.

    Returns:
        The text, the ``<title>`` (None when missing or empty), and the
        headings as ``(offset, level, title)``.
    """
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    joined = "".join(parser.parts)
    text = joined.lstrip("\n").rstrip() + "\n"
    shift = len(joined) - len(joined.lstrip("\n"))
    headings = [
        (offset - shift, level, title)
        for offset, level, title in parser.headings
        if title and offset >= shift
    ]
    title = clean_heading("".join(parser.title_parts)) or None
    return text, title, headings


def load_html(data: bytes, *, relpath: str, options: LoaderOptions) -> Document:
    """Load HTML: visible text, ``<title>`` (else the first ``h1``), headings."""
    declared = _META_CHARSET.search(data[:4096])
    html = decode_text(
        data,
        options=options,
        relpath=relpath,
        declared=declared.group(1).decode("ascii") if declared else None,
    )
    text, title, headings = html_to_text(html)
    if title is None:
        title = next((h[2] for h in headings if h[1] == 1), None)
    return make_document(
        text,
        relpath=relpath,
        kind="html",
        sections=sections_from_headings(len(text), headings),
        title=title,
    )
