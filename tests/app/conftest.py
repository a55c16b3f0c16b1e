"""Fixtures for the app API tests: in-memory and on-disk indexes over FakeOllama."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ragkit import Index
from ragkit.testing import FakeOllama


@pytest.fixture
def memory_index(fake_ollama: FakeOllama) -> Iterator[Index]:
    """An empty in-memory index on the test's FakeOllama."""
    with Index.memory(host=fake_ollama.url) as index:
        yield index


@pytest.fixture
def index_path(tmp_path: Path) -> Path:
    """Where an on-disk index of the test goes (not created)."""
    return tmp_path / "app.ragkit"
