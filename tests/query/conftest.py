"""Query engine fixtures: indexes built by the pipeline or by hand, chat clients."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from query_helpers import ChatLog, ChatProxy, ChatScript, Doc, build_index

from ragkit.pipeline import ingest, load_recipe
from ragkit.testing import FakeOllama

SAMPLE_DOCS = Path(__file__).resolve().parents[2] / "sample_docs"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index of ``sample_docs/`` built by the ingest pipeline (read-only!).

    FakeOllama's embeddings are deterministic, so any FakeOllama can query it.
    """
    root = tmp_path_factory.mktemp("sample")
    shutil.copytree(SAMPLE_DOCS, root / "sample_docs")
    with FakeOllama() as server:
        ingest(
            [root / "sample_docs"],
            load_recipe("general"),
            index=root / ".ragkit",
            host=server.url,
        )
    return root / ".ragkit"


@pytest.fixture
def make_index(tmp_path: Path, fake_ollama: FakeOllama) -> Callable[..., Path]:
    """Build a hand-made index in ``tmp_path`` with the test's FakeOllama."""
    counter = iter(range(1000))

    def make(docs: Sequence[Doc]) -> Path:
        return build_index(
            tmp_path / f"index{next(counter)}", docs, host=fake_ollama.url
        )

    return make


@pytest.fixture
def chat_log(fake_ollama: FakeOllama) -> Iterator[ChatLog]:
    """A recording chat client for ``QueryEngine.open(client=...)``."""
    log = ChatLog(fake_ollama.url)
    yield log
    log.client.close()


@pytest.fixture
def chat_proxy(fake_ollama: FakeOllama) -> Iterator[Callable[[ChatScript], ChatProxy]]:
    proxies: list[ChatProxy] = []

    def make(script: ChatScript) -> ChatProxy:
        proxy = ChatProxy(fake_ollama, script)
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in proxies:
        proxy.close()
