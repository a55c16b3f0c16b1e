"""An embedder that dies while the caller is still adding must not hang it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from ragkit import Index
from ragkit.errors import ModelNotFoundError
from ragkit.ollama import Client
from ragkit.testing import FakeOllama

HANG = 60.0
"""Seconds after which a still-running add counts as hung (it takes well under 1)."""


@pytest.mark.parametrize("paragraphs", [5, 3000])
def test_add_raises_the_embedders_failure_instead_of_waiting_forever(
    tmp_path: Path, fake_ollama: FakeOllama, paragraphs: int
) -> None:
    # A document of 3000 paragraphs has more chunks than the bounded queue of
    # texts waiting for the embedder holds, 5 do not: both must end with the
    # embedder's error.
    document = "\n\n".join(
        f"Paragraph {i} is about topic {i % 7}. " * 40 for i in range(paragraphs)
    )
    index = Index.create(
        tmp_path / "idx", embed_model="nomic-embed-text", host=fake_ollama.url
    )
    with Client(host=fake_ollama.url) as client:
        client.delete("nomic-embed-text")
    outcome: list[BaseException | None] = []

    def add() -> None:
        try:
            index.add([document])
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            outcome.append(exc)
        else:
            outcome.append(None)

    worker = threading.Thread(target=add, daemon=True)
    worker.start()
    worker.join(HANG)
    index.close()

    assert not worker.is_alive(), "index.add hung after the embedder failed"
    assert isinstance(outcome[0], ModelNotFoundError)
    with Index.open(tmp_path / "idx") as reopened:
        assert reopened.stats().chunks == 0
