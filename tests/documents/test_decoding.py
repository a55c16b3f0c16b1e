"""Encodings, newlines and binary detection (``decode_text`` and ``load``)."""

from __future__ import annotations

import codecs
import logging
from pathlib import Path

import pytest

from ragkit.documents import LoaderOptions, LoadError, decode_text, load

TEXT = "Grüße, café: naïve ½\r\nsecond line\rthird\n"
NORMALISED = "Grüße, café: naïve ½\nsecond line\nthird\n"
OPTIONS = LoaderOptions()


@pytest.mark.parametrize(
    "data",
    [
        TEXT.encode("utf-8"),
        codecs.BOM_UTF8 + TEXT.encode("utf-8"),
        codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"),
        codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"),
        codecs.BOM_UTF32_LE + TEXT.encode("utf-32-le"),
        codecs.BOM_UTF32_BE + TEXT.encode("utf-32-be"),
    ],
    ids=["utf-8", "utf-8-bom", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"],
)
def test_unicode_encodings_decode_without_bom_and_with_lf(
    data: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    assert decode_text(data, options=OPTIONS) == NORMALISED
    assert caplog.records == []


def test_invalid_utf8_falls_back_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    data = "naïve café".encode("latin-1")
    with caplog.at_level(logging.WARNING, logger="ragkit.documents"):
        text = decode_text(data, options=OPTIONS, relpath="notes/old.txt")
    assert text == "naïve café"
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert "notes/old.txt" in record.getMessage()
    assert "latin-1" in record.getMessage()


def test_the_fallback_encoding_is_configurable(
    caplog: pytest.LogCaptureFixture,
) -> None:
    data = "“smart quotes” – dash".encode("cp1252")
    text = decode_text(data, options=LoaderOptions(encoding_fallback="cp1252"))
    assert text == "“smart quotes” – dash"
    assert "cp1252" in caplog.text


def test_without_a_fallback_invalid_utf8_is_skipped() -> None:
    data = b"valid start \xff\xfe\xfa invalid"
    with pytest.raises(LoadError) as info:
        decode_text(data, options=LoaderOptions(encoding_fallback=None))
    assert info.value.reason == "undecodable: invalid bytes at offset 12 for utf-8"


def test_a_fallback_that_cannot_decode_either_is_skipped() -> None:
    with pytest.raises(LoadError, match="undecodable.*utf-8, ascii"):
        decode_text(b"caf\xe9", options=LoaderOptions(encoding_fallback="ascii"))


def test_a_declared_encoding_comes_before_the_fallback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    data = "Привет".encode("koi8-r")
    assert decode_text(data, options=OPTIONS, declared="koi8-r") == "Привет"
    assert "koi8-r" in caplog.text


def test_an_unknown_declared_encoding_is_ignored() -> None:
    data = "café".encode("latin-1")
    assert decode_text(data, options=OPTIONS, declared="no-such-codec") == "café"


def test_a_bom_with_invalid_content_is_undecodable() -> None:
    with pytest.raises(LoadError, match="utf-16-le byte order mark"):
        decode_text(codecs.BOM_UTF16_LE + b"a\x00\x00\xdc", options=OPTIONS)


def test_nul_bytes_mean_binary() -> None:
    with pytest.raises(LoadError) as info:
        decode_text(b"PK\x03\x04\x00\x00 looks like a zip", options=OPTIONS)
    assert info.value.reason == "binary content"


def test_utf16_without_bom_is_taken_for_binary() -> None:
    with pytest.raises(LoadError, match="binary content"):
        decode_text("plain".encode("utf-16-le"), options=OPTIONS)


def test_many_control_characters_mean_binary() -> None:
    data = bytes(range(1, 9)) * 200 + b"some text"
    with pytest.raises(LoadError, match="binary content"):
        decode_text(data, options=OPTIONS)


def test_coloured_logs_are_text() -> None:
    line = "\x1b[32mINFO\x1b[0m server started on port 8080 after warm-up\n"
    assert decode_text(line.encode() * 50, options=OPTIONS).startswith("\x1b[32mINFO")


def test_form_feeds_and_tabs_are_text() -> None:
    assert decode_text(b"a\tb\x0cc\x0bd", options=OPTIONS) == "a\tb\x0cc\x0bd"


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_load_reports_binary_content_with_the_path(tmp_path: Path) -> None:
    path = write(tmp_path, "data.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(LoadError) as info:
        load(path, relpath="img/data.txt")
    assert info.value.reason == "binary content"
    assert info.value.path == "img/data.txt"
    assert str(info.value) == "img/data.txt: binary content"


def test_load_invalid_utf8_with_the_default_fallback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path, "legacy.txt", b"Ol\xe1, mundo! Isto \xe9 texto.\n")
    doc = load(path)
    assert doc.text == "Olá, mundo! Isto é texto.\n"
    assert "legacy.txt" in caplog.text


def test_load_utf16_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "win.txt",
        codecs.BOM_UTF16_LE + "line one\r\nline two".encode("utf-16-le"),
    )
    assert load(path).text == "line one\nline two"


def test_whitespace_only_file_is_empty(tmp_path: Path) -> None:
    path = write(tmp_path, "blank.md", b"  \n\n\t\n")
    with pytest.raises(LoadError) as info:
        load(path)
    assert info.value.reason == "empty (no text)"
