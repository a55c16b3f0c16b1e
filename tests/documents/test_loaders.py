"""The loader registry and :func:`load`: dispatch, limits, unreadable files, plugins."""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path

import pytest

from ragkit.documents import (
    ChunkingOptions,
    LoaderOptions,
    LoadError,
    SourceFile,
    _chunker,
    _loaders,
    chunk_document,
    estimate_tokens,
    find_files,
    load,
    loader_for,
    loader_info,
    register_loader,
    supported_extensions,
)
from ragkit.errors import ConfigError, IngestError
from ragkit.types import Document


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let a test register loaders without leaking them into other tests."""
    monkeypatch.setattr(_loaders, "_REGISTRY", dict(_loaders._REGISTRY))


@pytest.mark.parametrize(
    ("name", "loader"),
    [
        ("a.md", "markdown"),
        ("A.MARKDOWN", "markdown"),
        ("page.mdx", "markdown"),
        ("guide.rst", "rst"),
        ("index.html", "html"),
        ("index.HTM", "html"),
        ("paper.pdf", "pdf"),
        ("notes.txt", "text"),
        ("server.log", "text"),
        ("data.csv", "text"),
        ("config.yaml", "text"),
        ("Makefile", "text"),
        ("LICENSE", "text"),
        ("main.py", "code"),
        ("app.tsx", "code"),
        ("lib.rs", "code"),
        ("query.sql", "code"),
    ],
)
def test_loader_by_extension(name: str, loader: str) -> None:
    info = loader_info(name)
    assert info is not None and info.name == loader
    assert loader_for(Path("some/dir") / name) is info.loader


@pytest.mark.parametrize("name", ["photo.png", "archive.tar.gz", "a.docx", "x.unknown"])
def test_unknown_extensions_have_no_loader(name: str) -> None:
    assert loader_for(name) is None


def test_supported_extensions_are_sorted_and_include_the_formats() -> None:
    extensions = supported_extensions()
    assert list(extensions) == sorted(extensions)
    for extension in ("", ".md", ".rst", ".html", ".pdf", ".txt", ".py", ".json"):
        assert extension in extensions


def test_a_registered_loader_is_used_by_load(tmp_path: Path, registry: None) -> None:
    calls: list[tuple[bytes, str, LoaderOptions]] = []

    def load_shout(data: bytes, *, relpath: str, options: LoaderOptions) -> Document:
        calls.append((data, relpath, options))
        return Document(path=relpath, text=data.decode().upper(), kind="shout")

    register_loader(["shout", ".tar.shout"], load_shout, name="shout")
    path = tmp_path / "hello.SHOUT"
    path.write_text("hello")
    options = LoaderOptions(max_bytes=100)
    doc = load(path, relpath="x/hello.SHOUT", options=options)
    assert (doc.text, doc.kind, doc.path) == ("HELLO", "shout", "x/hello.SHOUT")
    assert calls == [(b"hello", "x/hello.SHOUT", options)]
    assert loader_info("a.tar.shout") == loader_info("b.shout")
    assert ".shout" in supported_extensions()


def test_a_later_registration_replaces_a_builtin(
    tmp_path: Path, registry: None
) -> None:
    def load_plain(data: bytes, *, relpath: str, options: LoaderOptions) -> Document:
        return Document(path=relpath, text=data.decode(), kind="plain-md")

    register_loader([".md"], load_plain, name="plain-md")
    path = tmp_path / "a.md"
    path.write_text("# Title\n")
    assert load(path).kind == "plain-md"


def test_register_loader_rejects_a_bare_string_and_an_empty_name(
    registry: None,
) -> None:
    def loader(data: bytes, *, relpath: str, options: LoaderOptions) -> Document:
        return Document(path=relpath, text="x")

    with pytest.raises(ValueError, match="list of suffixes"):
        register_loader(".x", loader, name="x")
    with pytest.raises(ValueError, match="needs a name"):
        register_loader([".x"], loader, name="")


def test_a_failing_loader_becomes_a_load_error(tmp_path: Path, registry: None) -> None:
    def broken(data: bytes, *, relpath: str, options: LoaderOptions) -> Document:
        raise KeyError("boom")

    register_loader([".brk"], broken, name="broken")
    path = tmp_path / "a.brk"
    path.write_text("x")
    with pytest.raises(LoadError) as info:
        load(path)
    assert info.value.reason == "broken loader failed (KeyError: 'boom')"
    assert isinstance(info.value.__cause__, KeyError)


def test_load_error_is_an_ingest_error() -> None:
    error = LoadError("binary content", path="a.txt")
    assert isinstance(error, IngestError)
    assert (error.reason, error.path, str(error)) == (
        "binary content",
        "a.txt",
        "a.txt: binary content",
    )
    assert str(LoadError("empty file")) == "empty file"


def test_load_takes_relpath_from_a_source_file(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("hello\n")
    (source,) = find_files([tmp_path])
    assert isinstance(source, SourceFile)
    assert load(source).path == "docs/a.txt"
    assert load(source.path).path == "a.txt"


def test_unsupported_type_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "photo.PNG"
    path.write_bytes(b"\x89PNG")
    with pytest.raises(LoadError) as info:
        load(path)
    assert info.value.reason == "unsupported file type (.png)"


def test_empty_file_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "empty.md"
    path.touch()
    with pytest.raises(LoadError) as info:
        load(path)
    assert info.value.reason == "empty file"


def test_vanished_file_is_skipped(tmp_path: Path) -> None:
    with pytest.raises(LoadError) as info:
        load(tmp_path / "gone.txt")
    assert info.value.reason == "vanished before it could be read"


def test_a_folder_is_not_a_file(tmp_path: Path) -> None:
    (tmp_path / "dir.txt").mkdir()
    with pytest.raises(LoadError) as info:
        load(tmp_path / "dir.txt")
    assert info.value.reason == "not a regular file"


def test_a_fifo_is_skipped_without_waiting_for_a_writer(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.txt")
    with pytest.raises(LoadError) as info:
        load(tmp_path / "pipe.txt")
    assert info.value.reason == "not a regular file"


def test_permission_denied_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "secret.txt"
    path.write_text("top secret")

    def denied(path: object, flags: int) -> int:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(_loaders, "_os_open", denied)
    with pytest.raises(LoadError) as info:
        load(path)
    assert info.value.reason == "permission denied"


def test_other_open_errors_are_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(path: object, flags: int) -> int:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(_loaders, "_os_open", failing)
    with pytest.raises(LoadError) as info:
        load(tmp_path / "a.txt")
    assert info.value.reason == "cannot open (Input/output error)"


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0,
    reason="root reads files whatever their mode",
)
def test_a_chmod_000_file_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "locked.txt"
    path.write_text("x")
    path.chmod(0)
    try:
        with pytest.raises(LoadError, match="permission denied"):
            load(path)
    finally:
        path.chmod(0o644)


def test_a_file_over_max_bytes_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_bytes(b"word " * 30)
    with pytest.raises(LoadError) as info:
        load(path, options=LoaderOptions(max_bytes=100))
    assert info.value.reason == "too large (150 bytes > max_bytes 100)"
    assert load(path, options=LoaderOptions(max_bytes=150)).text == "word " * 30


def write_single_line(path: Path, size: int) -> None:
    block = b"lorem ipsum dolor sit amet consectetur adipiscing elit " * 1200
    with open(path, "wb") as fh:
        written = 0
        while written < size:
            piece = block[: size - written]
            fh.write(piece)
            written += len(piece)


def test_a_50_mib_single_line_file_is_skipped_without_being_read(
    tmp_path: Path,
) -> None:
    path = tmp_path / "huge.log"
    limit = LoaderOptions().max_bytes
    assert limit == 50 * 1024 * 1024
    write_single_line(path, limit + 1)
    tracemalloc.start()
    try:
        with pytest.raises(LoadError, match="too large"):
            load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1024 * 1024


def test_a_big_single_line_file_chunks_in_linear_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Above the limit it is skipped (see above); with the limit raised it
    # loads and chunks, and the chunker looks at each character a bounded
    # number of times. Counting the characters it estimates shows that
    # without timing anything.
    path = tmp_path / "line.txt"
    size = 6 * 1024 * 1024
    write_single_line(path, size)
    doc = load(path, options=LoaderOptions(max_bytes=size))
    assert doc.text.count("\n") == 0
    seen = 0

    def counting(text: str) -> int:
        nonlocal seen
        seen += len(text)
        return estimate_tokens(text)

    monkeypatch.setattr(_chunker, "estimate_tokens", counting)
    options = ChunkingOptions()
    count = 0
    end = 0
    for chunk in chunk_document(doc, options):
        count += 1
        assert chunk.start >= end - 400  # moves forward: overlap only
        end = chunk.end
        assert (chunk.line_start, chunk.line_end) == (1, 1)
    assert end == len(doc.text.rstrip())
    assert count > size // (options.target_tokens * 4)
    assert seen < 4 * size


def test_loader_options_are_validated() -> None:
    with pytest.raises(ConfigError, match="encoding_fallback"):
        LoaderOptions(encoding_fallback="klingon-8")
    with pytest.raises(ConfigError, match="max_bytes"):
        LoaderOptions(max_bytes=0)
    with pytest.raises(ConfigError, match="pdf_max_pages"):
        LoaderOptions(pdf_max_pages=0)
    with pytest.raises(ConfigError, match="pdf_timeout_s"):
        LoaderOptions(pdf_timeout_s=0)
