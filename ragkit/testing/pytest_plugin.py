"""pytest fixtures that run FakeOllama for a test, with or without ``OLLAMA_HOST``.

Enable them in a ``conftest.py`` with
``pytest_plugins = ["ragkit.testing.pytest_plugin"]``.
If an installed ``pytest11`` entry point already loaded it, naming it in
``pytest_plugins`` as well is harmless.

PYTEST_DONT_REWRITE: the module has no asserts to rewrite.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ragkit.testing._server import FakeOllama

__all__ = [
    "fake_ollama",
    "fake_ollama_env",
    "fake_ollama_factory",
    "pytest_plugin_registered",
]

FakeOllamaFactory = Callable[..., FakeOllama]


def pytest_plugin_registered(
    plugin: object, plugin_name: str, manager: pytest.PytestPluginManager
) -> None:
    """Let ``pytest_plugins`` name this module after an entry point loaded it.

    pytest refuses to register one module under two names, and an entry point
    registers it under the entry point's name; blocking the module name makes
    the second request a no-op instead of an error.
    """
    if plugin is sys.modules[__name__] and plugin_name != __name__:
        manager.set_blocked(__name__)


@pytest.fixture
def fake_ollama_factory() -> Iterator[FakeOllamaFactory]:
    """Start FakeOllama servers with custom settings; all stop at teardown.

    Call it with :class:`~ragkit.testing.FakeOllama` keyword arguments, e.g.
    ``fake_ollama_factory(cost=CostModel(per_input_ms=2), num_parallel=4)``;
    it returns the running server.
    """
    servers: list[FakeOllama] = []

    def start(**kwargs: Any) -> FakeOllama:
        server = FakeOllama(**kwargs).start()
        servers.append(server)
        return server

    try:
        yield start
    finally:
        for server in reversed(servers):
            server.stop()


@pytest.fixture
def fake_ollama(fake_ollama_factory: FakeOllamaFactory) -> FakeOllama:
    """A fresh FakeOllama for this test: default models, zero cost, no faults."""
    return fake_ollama_factory()


@pytest.fixture
def fake_ollama_env(
    fake_ollama: FakeOllama, monkeypatch: pytest.MonkeyPatch
) -> FakeOllama:
    """The ``fake_ollama`` server with ``OLLAMA_HOST`` pointing at it."""
    monkeypatch.setenv("OLLAMA_HOST", fake_ollama.url)
    return fake_ollama
