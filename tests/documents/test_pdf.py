"""PDF loading: pages as sections, and every way a PDF can be bad."""

from __future__ import annotations

import io
import itertools
import logging
from pathlib import Path

import pytest
from pypdf import PageObject, PdfReader, PdfWriter
from pypdf.errors import DependencyError

from ragkit.documents import (
    ChunkingOptions,
    LoaderOptions,
    LoadError,
    _pdf,
    chunk_document,
    load,
)

SAMPLE = Path(__file__).resolve().parents[2] / "sample_docs" / "security-policy.pdf"


def write(tmp_path: Path, data: bytes, name: str = "doc.pdf") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def encrypted(user_password: str) -> bytes:
    writer = PdfWriter(clone_from=SAMPLE)
    writer.encrypt(
        user_password=user_password, owner_password="owner", algorithm="RC4-128"
    )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def blank_pages(count: int) -> bytes:
    writer = PdfWriter()
    for _ in range(count):
        writer.add_blank_page(200, 200)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_pages_become_sections_with_page_numbers() -> None:
    doc = load(SAMPLE)
    assert doc.kind == "pdf"
    assert doc.title == "Harbor Labs security policy"
    assert [s.page for s in doc.sections] == [1, 2, 3, 4]
    page_texts = [doc.text[s.start : s.end] for s in doc.sections]
    assert page_texts[0].startswith("Harbor Labs security policy")
    assert "A grant lasts at most 4 hours" in " ".join(page_texts[1].split())
    assert "within 1 hour" in " ".join(page_texts[3].split())
    for before, after in itertools.pairwise(doc.sections):
        assert doc.text[before.end : after.start] == "\n\n"


def test_page_text_is_what_pypdf_extracts_in_reading_order() -> None:
    doc = load(SAMPLE)
    reader = PdfReader(SAMPLE)
    for section, page in zip(doc.sections, reader.pages, strict=True):
        assert doc.text[section.start : section.end] == page.extract_text().strip("\n")


def test_chunks_carry_their_page() -> None:
    doc = load(SAMPLE)
    chunks = list(chunk_document(doc, ChunkingOptions(target_tokens=64)))
    assert {c.page for c in chunks} == {1, 2, 3, 4}
    grant = next(c for c in chunks if "A grant lasts" in c.text)
    assert grant.page == 2
    assert grant.location.endswith(" p.2")


def test_encrypted_pdf_is_skipped(tmp_path: Path) -> None:
    with pytest.raises(LoadError) as info:
        load(write(tmp_path, encrypted("secret")))
    assert info.value.reason == "encrypted PDF (password required)"


def test_pdf_with_only_an_owner_password_is_read(tmp_path: Path) -> None:
    doc = load(write(tmp_path, encrypted("")))
    assert [s.page for s in doc.sections] == [1, 2, 3, 4]
    assert doc.text == load(SAMPLE).text


def test_a_cipher_pypdf_cannot_decrypt_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def needs_cryptography(self: PdfReader, password: str) -> object:
        raise DependencyError("cryptography>=3.1 is required for AES algorithm")

    monkeypatch.setattr(PdfReader, "decrypt", needs_cryptography)
    with pytest.raises(LoadError, match="needs the 'cryptography' package"):
        load(write(tmp_path, encrypted("secret")))


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.95])
def test_truncated_pdf_is_broken(tmp_path: Path, fraction: float) -> None:
    data = SAMPLE.read_bytes()
    with pytest.raises(LoadError) as info:
        load(write(tmp_path, data[: int(len(data) * fraction)]))
    assert info.value.reason.startswith("broken PDF (")


@pytest.mark.parametrize("data", [b"%PDF-1.7\nnot really", b"plain text named .pdf"])
def test_malformed_pdf_is_broken(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(LoadError, match=r"^doc\.pdf: broken PDF \("):
        load(write(tmp_path, data))


def test_pdf_without_pages_is_broken(tmp_path: Path) -> None:
    with pytest.raises(LoadError) as info:
        load(write(tmp_path, blank_pages(0)))
    assert info.value.reason == "broken PDF (no pages)"


def test_pdf_without_text_is_skipped(tmp_path: Path) -> None:
    with pytest.raises(LoadError) as info:
        load(write(tmp_path, blank_pages(2)))
    assert info.value.reason == "no extractable text (a scanned or image-only PDF?)"


def test_page_limit(tmp_path: Path) -> None:
    with pytest.raises(LoadError) as info:
        load(SAMPLE, options=LoaderOptions(pdf_max_pages=3))
    assert info.value.reason == "too many pages (4 > pdf_max_pages 3)"
    assert len(load(SAMPLE, options=LoaderOptions(pdf_max_pages=4)).sections) == 4


def test_time_limit_is_checked_between_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    # A clock that moves 10 s each time it is read: the limit of 25 s runs
    # out after two pages, whatever the machine's speed.
    ticks = itertools.count(step=10.0)
    monkeypatch.setattr(_pdf, "_monotonic", lambda: next(ticks))
    with pytest.raises(LoadError) as info:
        load(SAMPLE, options=LoaderOptions(pdf_timeout_s=25))
    assert (
        info.value.reason
        == "PDF text extraction took over 25s (stopped before page 3 of 4)"
    )


def test_a_page_that_fails_is_left_out_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = PageObject.extract_text
    calls = itertools.count(1)

    def flaky(self: PageObject, *args: object, **kwargs: object) -> str:
        if next(calls) == 2:
            raise ValueError("bad content stream")
        return real(self)

    monkeypatch.setattr(PageObject, "extract_text", flaky)
    with caplog.at_level(logging.WARNING, logger="ragkit.documents"):
        doc = load(SAMPLE)
    assert [s.page for s in doc.sections] == [1, 3, 4]
    assert "page 2 skipped: ValueError: bad content stream" in caplog.text
