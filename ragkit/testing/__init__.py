"""FakeOllama: an Ollama-protocol server on loopback for tests, CI and demos.

Example::

    from ragkit.testing import FakeOllama

    with FakeOllama() as server:
        client = ollama.Client(host=server.url)
        client.embed(model="nomic-embed-text", input="hello")

pytest users enable the fixtures with
``pytest_plugins = ["ragkit.testing.pytest_plugin"]``.
"""

from __future__ import annotations

from ragkit.testing._faults import FaultKind, Faults
from ragkit.testing._registry import DEFAULT_MODELS, FakeModel
from ragkit.testing._server import FakeOllama, RequestRecord
from ragkit.testing._slots import QUEUE_FULL, CostModel, EndpointStats, ServerStats

__all__ = [
    "CostModel",
    "DEFAULT_MODELS",
    "EndpointStats",
    "FakeModel",
    "FakeOllama",
    "FaultKind",
    "Faults",
    "QUEUE_FULL",
    "RequestRecord",
    "ServerStats",
]
