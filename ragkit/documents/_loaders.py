"""The loader registry (by file extension) and :func:`load`, the one entry point."""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath

from ragkit.documents._base import Loader, LoaderOptions, LoadError
from ragkit.documents._html import load_html
from ragkit.documents._markdown import load_markdown, load_rst
from ragkit.documents._pdf import load_pdf
from ragkit.documents._sources import SourceFile
from ragkit.documents._text import load_code, load_text
from ragkit.types import Document

__all__ = [
    "LoaderInfo",
    "load",
    "loader_for",
    "loader_info",
    "register_loader",
    "supported_extensions",
]


@dataclass(frozen=True, slots=True)
class LoaderInfo:
    """A registered loader.

    Attributes:
        name: A short name for messages and recipes (``"markdown"``).
        loader: The callable.
    """

    name: str
    loader: Loader


_TEXT_EXTENSIONS = (
    ".txt .text .log .out .csv .tsv .json .jsonl .ndjson .yaml .yml .toml .ini .cfg"
    " .conf .properties .xml .tex .bib .org .adoc .asciidoc .textile"
    " .srt .vtt .diff .patch"
).split()
_CODE_EXTENSIONS = (
    ".py .pyi .js .mjs .cjs .ts .tsx .jsx .go .rs .java .c .h .cc .cpp .cxx .hpp"
    " .hh .cs .rb .php .sh .bash .zsh .fish .ps1 .sql .swift .kt .kts .scala .lua"
    " .r .m .mm .pl .pm .ex .exs .erl .hs .ml .clj .dart .jl .vue .svelte .css"
    " .scss .less .gradle .cmake .mk .proto .graphql .tf .nix .zig .v .vhdl"
).split()

# Looked up through the module so tests can make opening fail as it would
# without permission (the tests run as root, which chmod does not stop).
_os_open = os.open

# Keys are lower-case suffixes with their dot; "" is a file without one.
_REGISTRY: dict[str, LoaderInfo] = {}


def register_loader(extensions: Sequence[str], loader: Loader, *, name: str) -> None:
    """Make ``loader`` read files with the given extensions.

    A later registration for an extension replaces the earlier one, so a
    plugin can take over a built-in format. Extensions are matched without
    regard to case; multi-part ones (``".tar.gz"``) win over their last part.

    Args:
        extensions: Suffixes such as ``".md"`` (the dot is optional); ``""``
            stands for files without an extension.
        loader: The callable (see :class:`~ragkit.documents.Loader`).
        name: A short name for messages and recipes.

    Raises:
        ValueError: ``extensions`` is a bare string, or ``name`` is empty.
    """
    if isinstance(extensions, str):
        raise ValueError("extensions must be a list of suffixes, not one string")
    if not name:
        raise ValueError("a loader needs a name")
    info = LoaderInfo(name, loader)
    for extension in extensions:
        extension = extension.lower()
        if extension and not extension.startswith("."):
            extension = "." + extension
        _REGISTRY[extension] = info


def _suffixes(name: str) -> list[str]:
    """Candidate keys for a file name, longest first; ``[""]`` for none."""
    name = name.lower()
    out: list[str] = []
    # A leading dot names a hidden file, not an extension.
    position = name.find(".", 1)
    while position != -1:
        out.append(name[position:])
        position = name.find(".", position + 1)
    return out or [""]


def loader_info(path: str | PurePath) -> LoaderInfo | None:
    """The registered loader for a path, with its name, or None.

    Args:
        path: A file name or path; only its name is looked at.
    """
    name = PurePath(path).name
    for suffix in _suffixes(name):
        info = _REGISTRY.get(suffix)
        if info is not None:
            return info
    return None


def loader_for(path: str | PurePath) -> Loader | None:
    """The loader that reads ``path``, by its extension, or None.

    A file without an extension gets the plain text loader, which skips
    it as binary when it is not text; an unknown extension gets None.

    Args:
        path: A file name or path; only its name is looked at.
    """
    info = loader_info(path)
    return info.loader if info else None


def supported_extensions() -> tuple[str, ...]:
    """Every registered extension, sorted (``""`` for no extension)."""
    return tuple(sorted(_REGISTRY))


def load(
    file: SourceFile | Path,
    *,
    relpath: str | None = None,
    options: LoaderOptions | None = None,
) -> Document:
    """Read a file into a :class:`~ragkit.types.Document` with its locations.

    Args:
        file: A file from :func:`find_files`, or a path.
        relpath: The document's path in the index; defaults to the
            ``SourceFile``'s ``relpath`` or the file's name.
        options: Reading options; defaults to :class:`LoaderOptions()`.

    Returns:
        The document.

    Raises:
        LoadError: The file is skipped, and ``.reason`` says why: no loader
            for its type, not a regular file, empty, larger than
            ``options.max_bytes`` (checked before reading), unreadable,
            vanished, binary, undecodable, encrypted or broken. A loader
            that fails in an unexpected way is reported the same way.
    """
    options = options or LoaderOptions()
    path = file.path if isinstance(file, SourceFile) else Path(file)
    if relpath is None:
        relpath = file.relpath if isinstance(file, SourceFile) else path.name
    try:
        return _load(path, relpath, options)
    except LoadError as exc:
        if exc.path is None:
            exc.path = relpath
        raise


def _load(path: Path, relpath: str, options: LoaderOptions) -> Document:
    info = loader_info(path)
    if info is None:
        suffix = _suffixes(path.name)[-1]
        raise LoadError(f"unsupported file type ({suffix or 'no extension'})")
    data = _read(path, options.max_bytes)
    try:
        return info.loader(data, relpath=relpath, options=options)
    except LoadError:
        raise
    except Exception as exc:  # a third-party loader's bug must not stop the run
        raise LoadError(
            f"{info.name} loader failed ({type(exc).__name__}: {exc})"
        ) from exc


def _read(path: Path, max_bytes: int) -> bytes:
    try:
        # O_NONBLOCK: opening a FIFO that slipped past the type check must
        # not wait for a writer.
        fd = _os_open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise LoadError("vanished before it could be read") from None
    except PermissionError:
        raise LoadError("permission denied") from None
    except OSError as exc:
        raise LoadError(f"cannot open ({exc.strerror or exc})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise LoadError("not a regular file")
        if st.st_size > max_bytes:
            raise LoadError(_too_large(st.st_size, max_bytes))
        with open(fd, "rb", closefd=False) as fh:
            # One byte over the limit tells a file that grew since the stat.
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise LoadError(f"cannot read ({exc.strerror or exc})") from None
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise LoadError(_too_large(len(data), max_bytes))
    if not data:
        raise LoadError("empty file")
    return data


def _too_large(size: int, limit: int) -> str:
    return f"too large ({size:,} bytes > max_bytes {limit:,})"


register_loader([".txt", ".text", ".log", ""], load_text, name="text")
register_loader(_TEXT_EXTENSIONS, load_text, name="text")
register_loader([".md", ".markdown", ".mdx", ".mkd"], load_markdown, name="markdown")
register_loader([".rst", ".rest"], load_rst, name="rst")
register_loader([".html", ".htm", ".xhtml"], load_html, name="html")
register_loader([".pdf"], load_pdf, name="pdf")
register_loader(_CODE_EXTENSIONS, load_code, name="code")
