"""What the embedder hands back: results, skipped inputs, model facts and counters."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import numpy as np
import numpy.typing as npt

from ragkit.ollama import KeepAlive

__all__ = [
    "EmbedFailure",
    "EmbedResult",
    "EmbedStats",
    "EmbedderConfig",
    "EmbeddingModelInfo",
    "HostStats",
    "K",
]

K = TypeVar("K")
"""The caller's key type: whatever identifies an input (a chunk id, an index)."""


@dataclass(frozen=True, slots=True)
class EmbedderConfig:
    """The settings of an :class:`~ragkit.embedding.Embedder`, as plain values.

    A pipeline recipe fills one in; ``Embedder.from_config`` builds the
    embedder, and ``embedder.config`` gives it back with the hosts and
    prefixes resolved (what an index manifest records). Secrets (the API key)
    and callables are not part of it. Each field means what the
    :class:`~ragkit.embedding.Embedder` argument of the same name means.
    """

    model: str
    hosts: tuple[str, ...] | None = None
    batch_size: int = 64
    max_batch_tokens: int = 8192
    in_flight_per_host: int = 2
    retries: int = 4
    backoff: float = 0.5
    document_prefix: str | None = None
    query_prefix: str | None = None
    keep_alive: KeepAlive | None = None
    timeout: float | None = None
    queue_size: int | None = None
    dedup_window: int = 2048
    cooldown: float = 30.0
    max_host_failures: int = 3


@dataclass(frozen=True, slots=True)
class EmbeddingModelInfo:
    """What ragkit knows about an embedding model on the server.

    Attributes:
        name: The model name as configured.
        dimension: Length of every vector the model returns.
        context_length: The most tokens one input may have before Ollama
            truncates it: the model's trained context, or the Modelfile's
            ``num_ctx`` when that is smaller.
        digest: The model's digest from ``/api/tags`` (64 hex digits), which
            fingerprints the exact weights; ``None`` when the listing lacks it.
        family: The architecture family (``"nomic-bert"``, ``"bert"``, ...).
        capabilities: What the server says the model can do.
        host: The server the facts were read from.
    """

    name: str
    dimension: int
    context_length: int | None
    digest: str | None
    family: str | None = None
    capabilities: tuple[str, ...] = ()
    host: str = ""


@dataclass(frozen=True, slots=True)
class EmbedResult(Generic[K]):
    """Vectors for a group of inputs that were embedded together.

    Attributes:
        keys: The caller's keys; ``vectors[i]`` belongs to ``keys[i]``. A key
            whose text repeated an earlier one shares that text's vector.
        vectors: float32 array of shape ``(len(keys), dimension)``.
        host: The server that computed the vectors.
        truncated_keys: Keys whose text was longer than the model's context
            and was embedded truncated (by the server, on ragkit's request).
    """

    keys: list[K]
    vectors: npt.NDArray[np.float32]
    host: str
    truncated_keys: tuple[K, ...] = ()


@dataclass(frozen=True, slots=True)
class EmbedFailure(Generic[K]):
    """An input that was skipped because the server would not embed it.

    Attributes:
        key: The caller's key.
        text: The input's text, as the caller gave it (without prefix).
        reason: Why, in the server's words where it gave any.
    """

    key: K
    text: str
    reason: str


@dataclass(slots=True)
class HostStats:
    """Counters for one Ollama host.

    Attributes:
        host: The host's base URL.
        requests: ``/api/embed`` requests sent, failed ones included.
        inputs: Texts this host embedded.
        failures: Requests that failed (and were retried or split).
        seconds: Wall time spent waiting for this host's answers, summed over
            concurrent requests.
        available: False while the host is out of rotation after failures.
    """

    host: str
    requests: int = 0
    inputs: int = 0
    failures: int = 0
    seconds: float = 0.0
    available: bool = True


@dataclass(slots=True)
class EmbedStats:
    """Counters of an embedding run, safe to read while it runs.

    The embedder's worker threads update them under a lock; readers (a
    progress line, a summary) may read the fields at any time and see values
    that are at most one update old.

    Attributes:
        items: Inputs read from the caller's iterable.
        duplicates: Inputs whose text (with prefix) had been seen before in the
            run and were not sent again.
        embedded: Inputs yielded with a vector (duplicates included).
        failed: Inputs yielded as :class:`EmbedFailure`.
        truncated: Inputs embedded truncated because they were too long.
        requests: ``/api/embed`` requests sent, failed ones included.
        retries: Requests that repeated work after a transient failure.
        splits: Batches split in two to isolate an input the server rejected.
        hosts: Per-host counters, keyed by host URL.
    """

    items: int = 0
    duplicates: int = 0
    embedded: int = 0
    failed: int = 0
    truncated: int = 0
    requests: int = 0
    retries: int = 0
    splits: int = 0
    hosts: dict[str, HostStats] = field(default_factory=dict)
    _lock: threading.Lock = field(
        default_factory=threading.Lock, repr=False, compare=False
    )

    def add(self, host: str | None = None, **counts: int | float) -> None:
        """Add to counters atomically.

        Args:
            host: When given, counts named like :class:`HostStats` fields
                (``requests``, ``inputs``, ``failures``, ``seconds``) go to
                this host as well as to the totals that exist.
            **counts: Field name to amount.
        """
        with self._lock:
            for name, amount in counts.items():
                if name in _TOTALS:
                    setattr(self, name, getattr(self, name) + amount)
                if host is not None and name in _PER_HOST:
                    entry = self.hosts.setdefault(host, HostStats(host))
                    setattr(entry, name, getattr(entry, name) + amount)

    def set_available(self, host: str, available: bool) -> None:
        """Record whether ``host`` is in rotation."""
        with self._lock:
            self.hosts.setdefault(host, HostStats(host)).available = available


_TOTALS = frozenset(
    {
        "items",
        "duplicates",
        "embedded",
        "failed",
        "truncated",
        "requests",
        "retries",
        "splits",
    }
)
_PER_HOST = frozenset({"requests", "inputs", "failures", "seconds"})
