"""PDF through pypdf: one section per page, with limits so no file can hang a run."""

from __future__ import annotations

import io
import logging
import time
from typing import TYPE_CHECKING

from ragkit.documents._base import LoaderOptions, LoadError, normalize_newlines
from ragkit.types import Document, Section

if TYPE_CHECKING:
    from pypdf import PdfReader

__all__ = ["load_pdf"]

logger = logging.getLogger("ragkit.documents")

# The clock is looked up through the module so tests can drive it.
_monotonic = time.monotonic


def _one_line(exc: BaseException) -> str:
    message = " ".join(str(exc).split())
    if len(message) > 160:
        message = message[:157] + "..."
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _open(data: bytes) -> PdfReader:
    # pypdf takes ~0.1 s to import: only a run that reads a PDF pays for it,
    # not every `ragkit` command.
    from pypdf import PdfReader
    from pypdf.errors import DependencyError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
    except Exception as exc:  # pypdf raises many kinds on bad files
        raise LoadError(f"broken PDF ({_one_line(exc)})") from exc
    if reader.is_encrypted:
        try:
            opened = reader.decrypt("")
        except DependencyError as exc:
            raise LoadError(
                "encrypted PDF (cannot decrypt: its cipher needs the "
                "'cryptography' package)"
            ) from exc
        except Exception as exc:  # a damaged encryption dictionary
            raise LoadError(f"broken PDF ({_one_line(exc)})") from exc
        if not opened:
            raise LoadError("encrypted PDF (password required)")
    return reader


def _title(reader: PdfReader) -> str | None:
    try:
        metadata = reader.metadata
        title = metadata.title if metadata is not None else None
    except Exception:  # a broken info dictionary only costs the title
        return None
    if not isinstance(title, str):
        return None
    title = " ".join(title.split())
    return title or None


def load_pdf(data: bytes, *, relpath: str, options: LoaderOptions) -> Document:
    """Load a PDF: one section per page that has text, numbered from 1.

    Text comes from pypdf's ``extract_text()`` in its default (plain) mode,
    which follows the content stream and gives cleaner text to embed than
    ``extraction_mode="layout"`` (layout pads lines with spaces to mimic
    columns). Pages are joined with a blank line.

    A PDF encrypted with a user password is skipped; one that opens with
    the empty password (owner password only) is read. A page whose text
    cannot be extracted is left out with a logged warning.

    Raises:
        LoadError: Encrypted, broken, too many pages
            (``options.pdf_max_pages``), extraction slower than
            ``options.pdf_timeout_s`` (checked between pages), or no
            extractable text at all (a scanned PDF without OCR).
    """
    from pypdf.errors import FileNotDecryptedError

    deadline = _monotonic() + options.pdf_timeout_s
    reader = _open(data)
    try:
        pages = reader.pages
        count = len(pages)
    except FileNotDecryptedError as exc:
        raise LoadError("encrypted PDF (password required)") from exc
    except Exception as exc:  # pypdf raises many kinds on bad files
        raise LoadError(f"broken PDF ({_one_line(exc)})") from exc
    if count == 0:
        raise LoadError("broken PDF (no pages)")
    if count > options.pdf_max_pages:
        raise LoadError(
            f"too many pages ({count} > pdf_max_pages {options.pdf_max_pages})"
        )
    parts: list[str] = []
    sections: list[Section] = []
    length = 0
    for number in range(1, count + 1):
        if _monotonic() > deadline:
            raise LoadError(
                f"PDF text extraction took over {options.pdf_timeout_s:g}s "
                f"(stopped before page {number} of {count})"
            )
        try:
            page_text = pages[number - 1].extract_text()
        except Exception as exc:  # one bad page must not lose the rest
            logger.warning("%s: page %d skipped: %s", relpath, number, _one_line(exc))
            continue
        page_text = normalize_newlines(page_text).strip("\n")
        if not page_text.strip():
            continue
        if parts:
            parts.append("\n\n")
            length += 2
        sections.append(Section(length, length + len(page_text), page=number))
        parts.append(page_text)
        length += len(page_text)
    if not sections:
        raise LoadError("no extractable text (a scanned or image-only PDF?)")
    return Document(
        path=relpath,
        text="".join(parts),
        kind="pdf",
        sections=tuple(sections),
        title=_title(reader),
    )
