"""The sample corpus loads completely, with the structure the demos rely on."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from ragkit.documents import Skipped, SourceFile, chunk_document, find_files, load

SAMPLE_DOCS = Path(__file__).resolve().parents[2] / "sample_docs"


def test_every_sample_file_loads_without_a_skip() -> None:
    found = list(find_files([SAMPLE_DOCS]))
    assert [f for f in found if isinstance(f, Skipped)] == []
    files = [f for f in found if isinstance(f, SourceFile)]
    assert 10 <= len(files) <= 20
    assert sum(f.size for f in files) < 1024 * 1024
    docs = [load(f) for f in files]
    kinds = Counter(d.kind for d in docs)
    assert kinds["markdown"] >= 3
    assert kinds["pdf"] >= 2
    for kind in ("text", "rst", "html", "code"):
        assert kinds[kind] >= 1, kind
    for doc in docs:
        assert list(chunk_document(doc)), doc.path


def test_sample_pdfs_have_several_pages_of_text() -> None:
    for name in ("security-policy.pdf", "architecture-overview.pdf"):
        doc = load(SAMPLE_DOCS / name)
        assert [s.page for s in doc.sections] == [1, 2, 3, 4], name
        assert all(s.end - s.start > 300 for s in doc.sections), name


def test_the_demo_fact_is_in_one_place_under_its_heading() -> None:
    holders = []
    for item in find_files([SAMPLE_DOCS]):
        assert isinstance(item, SourceFile)
        doc = load(item)
        for chunk in chunk_document(doc):
            if "rotated automatically every 90 days" in chunk.text:
                holders.append((chunk.document, chunk.heading_path))
    assert holders == [
        (
            "api-guide.md",
            ("Tidepool API guide", "Authentication", "API keys", "Key rotation"),
        )
    ]
