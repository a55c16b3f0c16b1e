"""Fixtures of the reliability suite: one shared corpus, its clean index, figures."""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hostile_corpus import write_prose_corpus
from reliability_helpers import (
    Workspace,
    reap_all,
    small_batch_pipeline,
    snapshot,
)

from ragkit.testing import FakeOllama

FIGURES: dict[str, Any] = {}
"""What the suite measured (faults injected, kills survived, ...), by test."""

FIGURES_ENV = "RAGKIT_RELIABILITY_FIGURES"
"""If set, the figures are also written to this file as JSON."""


@pytest.fixture(scope="session")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """Fifty prose files (about a hundred chunks) and their clean index."""
    base = tmp_path_factory.mktemp("reliability")
    docs = base / "docs"
    files = write_prose_corpus(docs, 50, seed=2024, paragraphs=4, sentences=8)
    with FakeOllama() as server:
        small_batch_pipeline().run(docs, index=base / "clean", host=server.url)
    clean = snapshot(base / "clean")
    return Workspace(base, docs, len(files), clean, itertools.count(1))


@pytest.fixture(autouse=True)
def no_stray_processes() -> Iterator[None]:
    """A test that fails half-way leaves no ragkit process running behind it."""
    yield
    reap_all()


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on asyncio (the only backend installed)."""
    return "asyncio"


@pytest.fixture(scope="session")
def figures() -> dict[str, Any]:
    """Record a figure for the suite's summary: ``figures["kills"] = 22``."""
    return FIGURES


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the figures of this run (and save them when asked to)."""
    if not FIGURES:
        return
    terminalreporter.section("ragkit reliability figures")
    for key, value in sorted(FIGURES.items()):
        terminalreporter.write_line(f"{key}: {value}")
    target = os.environ.get(FIGURES_ENV)
    if target:
        Path(target).write_text(json.dumps(FIGURES, indent=2, sort_keys=True) + "\n")
