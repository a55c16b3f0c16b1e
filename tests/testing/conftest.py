"""Fixtures for FakeOllama's own tests: an HTTP client bound to ``fake_ollama``."""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import httpx
import pytest

from ragkit.testing import FakeOllama


@pytest.fixture(scope="session")
def tls_context() -> ssl.SSLContext:
    """One TLS context for the session: building one per client costs ~150 ms."""
    return ssl.create_default_context()


@pytest.fixture
def client(
    fake_ollama: FakeOllama, tls_context: ssl.SSLContext
) -> Iterator[httpx.Client]:
    """An httpx client whose base URL is the test's FakeOllama."""
    with httpx.Client(base_url=fake_ollama.url, verify=tls_context) as client:
        yield client
