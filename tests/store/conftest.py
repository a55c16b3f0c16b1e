"""Fixtures for the store tests: small manifests and stores, on disk and in memory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from store_helpers import DIM

from ragkit.store import Manifest, Store


@pytest.fixture
def manifest() -> Manifest:
    return Manifest(embed_model="nomic-embed-text", dimension=DIM)


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    return tmp_path / "index"


@pytest.fixture
def store(index_dir: Path, manifest: Manifest) -> Iterator[Store]:
    with Store.create(index_dir, manifest) as s:
        yield s


@pytest.fixture(params=["disk", "memory"])
def any_store(
    request: pytest.FixtureRequest, index_dir: Path, manifest: Manifest
) -> Iterator[Store]:
    """The same behaviour is expected on disk and in memory."""
    if request.param == "disk":
        s = Store.create(index_dir, manifest)
    else:
        s = Store.memory(manifest)
    with s:
        yield s
