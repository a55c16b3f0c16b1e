"""What every loader shares: options, the skip error, the loader contract, decoding."""

from __future__ import annotations

import codecs
import logging
import re
import unicodedata
from dataclasses import dataclass
from typing import Protocol

from ragkit.errors import ConfigError, IngestError
from ragkit.types import Document, Section

__all__ = [
    "LoadError",
    "Loader",
    "LoaderOptions",
    "decode_text",
    "normalize_newlines",
]

logger = logging.getLogger("ragkit.documents")

_SNIFF_BYTES = 8192
# Share of control characters (other than whitespace) above which decoded
# "text" is taken for binary data. Random bytes decoded as Latin-1 come out
# near 25%; coloured logs with ANSI escapes stay well under 10%.
_MAX_CONTROL_SHARE = 0.10
_BOMS: tuple[tuple[bytes, str], ...] = (
    # UTF-32 first: its little-endian BOM starts with UTF-16's.
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")


class LoadError(IngestError):
    """A file cannot be loaded and is skipped; the run goes on.

    Attributes:
        reason: One line for the user, such as ``"binary content"`` or
            ``"encrypted PDF (password required)"``.
        path: The file's path relative to its root, when known.
    """

    def __init__(self, reason: str, *, path: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path = path

    def __str__(self) -> str:
        # Computed, so that :func:`load` can add the path on the way out.
        return f"{self.path}: {self.reason}" if self.path else self.reason


@dataclass(frozen=True, slots=True)
class LoaderOptions:
    """How files are read.

    Attributes:
        encoding_fallback: Encoding tried, with a logged warning, for text
            that is not UTF-8 (nor UTF-16/32 with a byte order mark). None
            skips such files instead. ``latin-1`` accepts any bytes.
        max_bytes: Larger files are skipped without being read.
        pdf_max_pages: PDFs with more pages are skipped.
        pdf_timeout_s: Wall-clock limit for extracting one PDF's text,
            checked between pages.
    """

    encoding_fallback: str | None = "latin-1"
    max_bytes: int = 50 * 1024 * 1024
    pdf_max_pages: int = 5000
    pdf_timeout_s: float = 120.0

    def __post_init__(self) -> None:
        if self.encoding_fallback is not None:
            try:
                codecs.lookup(self.encoding_fallback)
            except LookupError:
                raise ConfigError(
                    f"unknown encoding_fallback {self.encoding_fallback!r}; "
                    "use a Python codec name such as 'latin-1' or 'cp1252'"
                ) from None
        if self.max_bytes <= 0:
            raise ConfigError(f"max_bytes must be positive, not {self.max_bytes}")
        if self.pdf_max_pages <= 0:
            raise ConfigError(
                f"pdf_max_pages must be positive, not {self.pdf_max_pages}"
            )
        if not self.pdf_timeout_s > 0:
            raise ConfigError(
                f"pdf_timeout_s must be positive, not {self.pdf_timeout_s}"
            )


class Loader(Protocol):
    """Turns a file's bytes into a :class:`~ragkit.types.Document`.

    A loader is any callable of this shape. It raises :class:`LoadError`
    for a file that must be skipped. Loaders for text formats start with
    :func:`decode_text`, which handles encodings and binary content.
    """

    def __call__(
        self, data: bytes, *, relpath: str, options: LoaderOptions
    ) -> Document:
        """Load one file.

        Args:
            data: The whole file (at most ``options.max_bytes``, never empty).
            relpath: Its path relative to the indexed root, ``/``-separated;
                use it as :attr:`Document.path`.
            options: The reading options.

        Returns:
            The document, with sections where the location changes.

        Raises:
            LoadError: The file must be skipped; the message says why.
        """
        ...


def normalize_newlines(text: str) -> str:
    """Turn ``\\r\\n`` and lone ``\\r`` into ``\\n``."""
    if "\r" not in text:
        return text
    return text.replace("\r\n", "\n").replace("\r", "\n")


def decode_text(
    data: bytes,
    *,
    options: LoaderOptions,
    relpath: str = "",
    declared: str | None = None,
) -> str:
    """Decode a text file's bytes, refusing binary data.

    The order: a byte order mark (UTF-8, UTF-16 or UTF-32, little or big
    endian) decides; otherwise NUL bytes in the first 8 KiB mean binary;
    then strict UTF-8; then ``declared`` (an encoding the file names itself,
    such as an HTML ``<meta charset>``); then ``options.encoding_fallback``
    with a logged warning. Text whose first 8 KiB are more than 10% control
    characters (other than whitespace) is binary too. Newlines come back
    normalised to ``\\n``.

    Args:
        data: The bytes.
        options: Where the fallback encoding comes from.
        relpath: The file's name, for the warning.
        declared: An encoding the file declares, tried before the fallback.

    Returns:
        The text, without a byte order mark, with ``\\n`` newlines.

    Raises:
        LoadError: ``"binary content"``, or ``"undecodable ..."`` when no
            encoding fits.
    """
    text = _decode(data, options, relpath, declared)
    sample = text[:_SNIFF_BYTES]
    if sample and len(_CONTROL.findall(sample)) > _MAX_CONTROL_SHARE * len(sample):
        raise LoadError("binary content")
    return normalize_newlines(text)


def _decode(
    data: bytes, options: LoaderOptions, relpath: str, declared: str | None
) -> str:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(encoding)
            except UnicodeDecodeError:
                raise LoadError(
                    f"undecodable: starts with a {encoding} byte order mark "
                    f"but is not valid {encoding}"
                ) from None
    if b"\x00" in data[:_SNIFF_BYTES]:
        raise LoadError("binary content")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        utf8_error = exc
    for candidate in (declared, options.encoding_fallback):
        if candidate is None or _is_utf8(candidate):
            continue
        try:
            text = data.decode(candidate)
        except (UnicodeDecodeError, LookupError):
            continue
        logger.warning(
            "%s: not valid UTF-8 (byte %d); decoded as %s",
            relpath or "<data>",
            utf8_error.start,
            candidate,
        )
        return text
    tried = ", ".join(e for e in ("utf-8", declared, options.encoding_fallback) if e)
    raise LoadError(
        f"undecodable: invalid bytes at offset {utf8_error.start} for {tried}"
    )


def _is_utf8(encoding: str) -> bool:
    try:
        return codecs.lookup(encoding).name == "utf-8"
    except LookupError:
        return False


def make_document(
    text: str,
    *,
    relpath: str,
    kind: str,
    sections: list[Section] | tuple[Section, ...] = (),
    title: str | None = None,
) -> Document:
    """Build a document, refusing one with no text worth indexing."""
    if not text.strip():
        raise LoadError("empty (no text)")
    return Document(
        path=relpath,
        text=text,
        kind=kind,
        sections=tuple(sections),
        title=title or None,
    )


def sections_from_headings(
    text_length: int, headings: list[tuple[int, int, str]]
) -> list[Section]:
    """Cut a text into sections at headings, each carrying its heading path.

    Args:
        text_length: Length of the document's text.
        headings: ``(offset, level, title)`` in text order; a heading's
            section starts at its offset and runs to the next heading.

    Returns:
        Sections covering the whole text, the part before the first heading
        with an empty heading path.
    """
    sections: list[Section] = []
    path: list[tuple[int, str]] = []
    position = 0
    current: tuple[str, ...] = ()
    for offset, level, title in headings:
        if offset > position:
            sections.append(Section(position, offset, heading_path=current))
            position = offset
        while path and path[-1][0] >= level:
            path.pop()
        path.append((level, title))
        current = tuple(t for _, t in path)
    if text_length > position or not sections:
        sections.append(Section(position, text_length, heading_path=current))
    return sections


def clean_heading(title: str) -> str:
    """Heading text as a reader sees it: one line, no control characters."""
    title = "".join(" " if unicodedata.category(c)[0] in "CZ" else c for c in title)
    return " ".join(title.split())
