"""Fixtures for the CLI tests of ask, chat, search and info: indexes built by ingest."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import ragkit.cli._query  # noqa: F401  (registers ask, chat, search, info)
from ragkit.pipeline import ingest, load_recipe
from ragkit.testing import FakeOllama

SAMPLE_DOCS = Path(__file__).resolve().parents[2] / "sample_docs"

EVIL_MARKDOWN = (
    "# Backups \x1b[31mred\x1b[0m\n\n"
    "The backup window starts at 02:00 UTC \x1b[2J every night.\n"
)
EVIL_TEXT = "The restore drill runs \x1b]0;pwned\x07 every quarter.\n"


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index of ``sample_docs/`` (read-only; any FakeOllama can query it)."""
    root = tmp_path_factory.mktemp("cli-sample")
    shutil.copytree(SAMPLE_DOCS, root / "sample_docs")
    with FakeOllama() as server:
        ingest(
            [root / "sample_docs"],
            load_recipe("general"),
            index=root / ".ragkit",
            host=server.url,
        )
    return root / ".ragkit"


@pytest.fixture(scope="session")
def evil_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index whose documents hold terminal control sequences."""
    root = tmp_path_factory.mktemp("cli-evil")
    docs = root / "docs"
    docs.mkdir()
    (docs / "backups.md").write_text(EVIL_MARKDOWN, encoding="utf-8")
    (docs / "drills.txt").write_text(EVIL_TEXT, encoding="utf-8")
    with FakeOllama() as server:
        ingest([docs], load_recipe("general"), index=root / ".ragkit", host=server.url)
    return root / ".ragkit"
