"""Fixtures for the embedder tests: the scripted Ollama and Embedders on it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from embedding_helpers import ScriptedOllama

from ragkit.embedding import Embedder


@pytest.fixture
def scripted() -> ScriptedOllama:
    return ScriptedOllama()


@pytest.fixture
def scripted_embedder(
    scripted: ScriptedOllama,
) -> Iterator[Callable[..., Embedder]]:
    """Build Embedders on the scripted server; all are closed at teardown."""
    made: list[Embedder] = []

    def make(**kwargs: Any) -> Embedder:
        kwargs.setdefault("hosts", ["http://scripted:11434"])
        kwargs.setdefault("backoff", 0.001)
        embedder = Embedder("scripted", client_factory=scripted.factory, **kwargs)
        made.append(embedder)
        return embedder

    yield make
    for embedder in made:
        embedder.close()
