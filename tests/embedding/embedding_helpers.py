"""Helpers for the embedder tests: a scripted Ollama, and waiting for FakeOllama's log.

FakeOllama covers everything a real server does on demand; the scripted
server (behind ``httpx.MockTransport``) covers the rest: rejecting one
particular input, returning vectors of the wrong size or with NaN, timing out
on large batches.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from ragkit.ollama import Client
from ragkit.testing import FakeOllama, RequestRecord

__all__ = ["EmbedHandler", "ScriptedOllama", "fake_vector", "logged"]

EmbedHandler = Callable[[list[str], bool], httpx.Response | list[list[float]]]


def fake_vector(text: str, dimension: int) -> list[float]:
    """A deterministic vector per text, exact in float32 (multiples of 1/256)."""
    digest = hashlib.sha256(text.encode()).digest()
    return [digest[i] / 256.0 for i in range(dimension)]


def logged(server: FakeOllama, path: str) -> list[RequestRecord]:
    """The server's log of requests to ``path`` (FakeOllama logs before it replies)."""
    return [r for r in server.requests if r.path == path]


@dataclass
class ScriptedOllama:
    """Answers show/tags itself and hands /api/embed to ``on_embed``."""

    dimension: int = 4
    show_dimension: int | None = 4
    on_embed: EmbedHandler | None = None
    embeds: list[tuple[list[str], bool]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, request: httpx.Request) -> httpx.Response:
        body: dict[str, Any] = json.loads(request.content or b"{}")
        if request.url.path == "/api/show":
            info: dict[str, Any] = {
                "general.architecture": "bert",
                "bert.context_length": 512,
            }
            if self.show_dimension is not None:
                info["bert.embedding_length"] = self.show_dimension
            return httpx.Response(
                200, json={"model_info": info, "capabilities": ["embedding"]}
            )
        if request.url.path == "/api/tags":
            return httpx.Response(
                200, json={"models": [{"name": "scripted:latest", "digest": "ab" * 32}]}
            )
        assert request.url.path == "/api/embed"
        texts = list(body["input"])
        truncate = bool(body.get("truncate", True))
        with self._lock:
            self.embeds.append((texts, truncate))
        outcome = self.on_embed(texts, truncate) if self.on_embed else None
        if isinstance(outcome, httpx.Response):
            return outcome
        vectors = outcome or [fake_vector(t, self.dimension) for t in texts]
        # json.dumps writes NaN/Infinity literals, which the client accepts.
        content = json.dumps({"model": body["model"], "embeddings": vectors})
        return httpx.Response(
            200, content=content, headers={"content-type": "application/json"}
        )

    def factory(self, host: str) -> Client:
        return Client(host, retries=0, transport=httpx.MockTransport(self.handle))
