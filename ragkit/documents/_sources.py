"""Finding the files to index: a lazy, deterministic folder walk with globs."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ragkit.documents._glob import GlobSet

__all__ = [
    "DEFAULT_EXCLUDE",
    "DEFAULT_INCLUDE",
    "SourceFile",
    "Skipped",
    "content_hash",
    "find_files",
    "needs_reload",
]

DEFAULT_INCLUDE: tuple[str, ...] = ("**",)
"""Every file; the loader registry decides what can be read."""

DEFAULT_EXCLUDE: tuple[str, ...] = (
    ".*",
    "node_modules",
    "__pycache__",
    "venv",
    ".ragkit",
)
"""Hidden files and folders (``.git``, ``.venv``, ``.ragkit``...), ``node_modules``,
``__pycache__`` and ``venv``, at any depth. Folders holding ``pyvenv.cfg`` are
skipped as well (see ``skip_virtualenvs`` of :func:`find_files`)."""

_HASH_BLOCK = 1 << 20
# Looked up through the module so tests can make a folder fail to list.
_scandir = os.scandir

_Key = tuple[int, int]
_Descend = tuple[list[os.DirEntry[str]], _Key]


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A file found by :func:`find_files`.

    Attributes:
        root: The folder the walk started from (the file's parent for a file
            named directly).
        path: Absolute path to the file (symbolic links are not resolved).
        relpath: ``path`` relative to ``root``, with ``/`` separators; the
            name the index knows the document by.
        size: Size in bytes when it was found.
        mtime_ns: Modification time in nanoseconds when it was found.
    """

    root: Path
    path: Path
    relpath: str
    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class Skipped:
    """Something the walk could not look at, and why.

    Attributes:
        relpath: The path relative to its root; ``"."`` for the root itself
            (missing or unreadable).
        reason: One line for the user: ``"permission denied"``,
            ``"broken symbolic link"``...
        root: The root the walk was under.
        is_dir: True for a folder: whatever the index holds under it was not
            looked at, so it must not be taken as deleted.
    """

    relpath: str
    reason: str
    root: Path | None = field(default=None, kw_only=True)
    is_dir: bool = field(default=False, kw_only=True)


def find_files(
    roots: Sequence[Path],
    *,
    include: Sequence[str] = DEFAULT_INCLUDE,
    exclude: Sequence[str] = DEFAULT_EXCLUDE,
    skip: Sequence[Path] = (),
    skip_virtualenvs: bool = True,
) -> Iterator[SourceFile | Skipped]:
    """Walk folders (or take single files) lazily and in a deterministic order.

    Each root is walked depth first, the entries of every folder in code
    point order of their names, so two runs over the same tree yield the same
    sequence. Nothing is read ahead: a folder is listed only when the walk
    reaches it.

    ``include`` and ``exclude`` are globs on the path relative to the root
    (see :func:`~ragkit.documents.glob_to_regex`): a file is yielded when it
    matches an include and no exclude; a folder matching an exclude is not
    entered. A file given directly as a root is always yielded.

    Symbolic links are followed only when their target resolves inside the
    root; a folder already walked (a link loop, or two links to one place)
    is not walked again. What cannot be looked at is yielded as
    :class:`Skipped` with its reason and the walk goes on: unreadable or
    vanished folders and files, broken links, links leading out of the root,
    and special files (pipes, sockets, devices).

    Args:
        roots: Folders or files to index.
        include: Globs a file must match.
        exclude: Globs for files and folders to leave out. Replaces the
            defaults; to add to them use ``[*DEFAULT_EXCLUDE, "build"]``.
        skip: Paths never entered, whatever the globs (the index directory).
        skip_virtualenvs: Leave out folders holding a ``pyvenv.cfg``.

    Yields:
        A :class:`SourceFile` for each file to load, a :class:`Skipped` for
        each thing that could not be looked at.
    """
    includes = GlobSet.compile(include)
    excludes = GlobSet.compile(exclude)
    skip_real = tuple(os.path.realpath(p) for p in skip)
    for root in roots:
        yield from _walk_root(
            Path(root), includes, excludes, skip_real, skip_virtualenvs
        )


def _walk_root(
    root: Path,
    includes: GlobSet,
    excludes: GlobSet,
    skip_real: tuple[str, ...],
    skip_virtualenvs: bool,
) -> Iterator[SourceFile | Skipped]:
    root = root.absolute()
    if not _is_utf8(str(root)):
        yield Skipped(".", "name is not valid UTF-8; rename it", root=root)
        return
    try:
        st = root.stat()
    except FileNotFoundError:
        yield Skipped(".", "not found", root=root, is_dir=True)
        return
    except OSError as exc:
        yield Skipped(".", _reason(exc), root=root, is_dir=True)
        return
    if stat.S_ISREG(st.st_mode):
        yield SourceFile(root.parent, root, root.name, st.st_size, st.st_mtime_ns)
        return
    if not stat.S_ISDIR(st.st_mode):
        yield Skipped(".", "not a regular file or folder", root=root)
        return
    root_real = os.path.realpath(root)
    if _is_under(root_real, skip_real):
        return
    walker = _Walker(
        root,
        root_real,
        (st.st_dev, st.st_ino),
        includes,
        excludes,
        skip_real,
        skip_virtualenvs,
    )
    yield from walker.walk()


def _is_under(real: str, parents: tuple[str, ...]) -> bool:
    return any(real == p or real.startswith(p.rstrip(os.sep) + os.sep) for p in parents)


def _is_utf8(name: str) -> bool:
    # os functions decode undecodable bytes to lone surrogates (PEP 383).
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _reason(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, FileNotFoundError):
        return "vanished during the walk"
    return exc.strerror or type(exc).__name__


class _Walker:
    """One root's walk; holds what must be remembered across folders."""

    def __init__(
        self,
        root: Path,
        root_real: str,
        root_key: _Key,
        includes: GlobSet,
        excludes: GlobSet,
        skip_real: tuple[str, ...],
        skip_virtualenvs: bool,
    ) -> None:
        self.root = root
        self.root_real = root_real
        self.includes = includes
        self.excludes = excludes
        self.skip_real = skip_real
        self.skip_virtualenvs = skip_virtualenvs
        # (device, inode) of every folder entered: loops and aliases end here.
        self.visited: set[_Key] = {root_key}
        self.root_key = root_key

    def walk(self) -> Iterator[SourceFile | Skipped]:
        # An explicit stack of per-folder iterators keeps the walk lazy and
        # safe from recursion limits on deep trees. ``keys`` runs parallel to
        # it: the folders currently open, which a link loop leads back to.
        listed = self._list(str(self.root), "")
        if isinstance(listed, Skipped):
            yield listed
            return
        stack: list[Iterator[os.DirEntry[str]]] = [iter(listed)]
        prefixes: list[str] = [""]
        keys: list[_Key] = [self.root_key]
        while stack:
            entry = next(stack[-1], None)
            if entry is None:
                stack.pop()
                prefixes.pop()
                keys.pop()
                continue
            relpath = prefixes[-1] + entry.name
            result = self._visit(entry, relpath, keys)
            if isinstance(result, tuple):
                entries, key = result
                stack.append(iter(entries))
                prefixes.append(relpath + "/")
                keys.append(key)
            elif result is not None:
                yield result

    def _list(self, path: str, relpath: str) -> list[os.DirEntry[str]] | Skipped:
        try:
            with _scandir(path) as it:
                entries = list(it)
        except FileNotFoundError:
            return self._skipped(relpath, "folder vanished during the walk", True)
        except NotADirectoryError:
            return self._skipped(relpath, "folder replaced during the walk", True)
        except OSError as exc:
            return self._skipped(relpath, _reason(exc), True)
        entries.sort(key=lambda e: e.name)
        return entries

    def _skipped(self, relpath: str, reason: str, is_dir: bool) -> Skipped:
        return Skipped(relpath or ".", reason, root=self.root, is_dir=is_dir)

    def _visit(
        self, entry: os.DirEntry[str], relpath: str, open_keys: list[_Key]
    ) -> _Descend | SourceFile | Skipped | None:
        """Return a folder to descend into, a result, or None to leave it out."""
        is_link = False
        try:
            is_link = entry.is_symlink()
            is_dir = entry.is_dir()
        except OSError as exc:
            # ELOOP: a link that points at itself or round a cycle of links.
            reason = (
                f"unusable symbolic link ({_reason(exc)})" if is_link else _reason(exc)
            )
            return self._skipped(relpath, reason, False)
        if self.excludes.match(relpath, is_dir=is_dir):
            return None
        if is_link:
            try:
                target = os.path.realpath(entry.path, strict=True)
            except FileNotFoundError:
                return self._skipped(relpath, "broken symbolic link", False)
            except OSError as exc:
                reason = f"unusable symbolic link ({_reason(exc)})"
                return self._skipped(relpath, reason, False)
            if not _is_under(target, (self.root_real,)):
                reason = "symbolic link leads outside the root"
                return self._skipped(relpath, reason, is_dir)
            if _is_under(target, self.skip_real):
                return None
        try:
            st = entry.stat()
        except FileNotFoundError:
            return self._skipped(relpath, "vanished during the walk", is_dir)
        except OSError as exc:
            return self._skipped(relpath, _reason(exc), is_dir)
        if stat.S_ISDIR(st.st_mode):
            return self._enter(entry, relpath, (st.st_dev, st.st_ino), open_keys)
        if not stat.S_ISREG(st.st_mode):
            return self._skipped(relpath, "not a regular file", False)
        if not self.includes.match(relpath):
            return None
        if not _is_utf8(relpath):
            # The index keeps names as text; a name the file system stores as
            # bytes that are not UTF-8 could not be cited or found again.
            return self._skipped(relpath, "name is not valid UTF-8; rename it", False)
        return SourceFile(
            self.root, Path(entry.path), relpath, st.st_size, st.st_mtime_ns
        )

    def _enter(
        self,
        entry: os.DirEntry[str],
        relpath: str,
        key: _Key,
        open_keys: list[_Key],
    ) -> _Descend | Skipped | None:
        if key in self.visited:
            if key in open_keys:
                return self._skipped(relpath, "symbolic link loop", True)
            # Another link to a folder walked already: its files were yielded
            # once under their first path, which is enough.
            return None
        if self.skip_real and _is_under(os.path.realpath(entry.path), self.skip_real):
            return None
        if self.skip_virtualenvs and os.path.isfile(
            os.path.join(entry.path, "pyvenv.cfg")
        ):
            return None
        self.visited.add(key)
        listed = self._list(entry.path, relpath)
        if isinstance(listed, Skipped):
            return listed
        return listed, key


def content_hash(path: Path) -> str:
    """SHA-256 of a file's bytes, hex, read in 1 MiB blocks.

    Args:
        path: The file.

    Returns:
        64 lowercase hex digits.

    Raises:
        OSError: The file cannot be read.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def needs_reload(
    file: SourceFile, known_size: int | None, known_mtime_ns: int | None
) -> bool:
    """Whether a file may have changed since the index saw it.

    A cheap check on size and modification time: False means unchanged for
    sure enough to skip it; True means "look", and the caller confirms with
    :func:`content_hash` before paying for anything (a touched but identical
    file keeps its chunks).

    Args:
        file: The file as found now.
        known_size: Size recorded in the index, None when it is new.
        known_mtime_ns: Modification time recorded in the index.

    Returns:
        True when the file is new or its size or mtime differ.
    """
    if known_size is None or known_mtime_ns is None:
        return True
    return file.size != known_size or file.mtime_ns != known_mtime_ns
