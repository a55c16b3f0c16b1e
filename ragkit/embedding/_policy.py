"""The retry policy: which failures are transient, how long to wait, what to raise."""

from __future__ import annotations

import random
from collections.abc import Sequence

from ragkit.embedding._hosts import HostPool
from ragkit.errors import (
    IngestError,
    ModelNotFoundError,
    OllamaConnectionError,
    OllamaError,
    OllamaTimeoutError,
    RagkitError,
    ResponseError,
)

__all__ = [
    "BUSY_STATUSES",
    "TRANSIENT_STATUSES",
    "backoff_delay",
    "exhausted",
    "hurts_host",
    "is_transient",
    "not_found_on",
    "unreachable",
]

# 429 and 503 mean "busy, come back later"; 500/502/504 are a runner crash or a
# proxy in front of Ollama, which a retry (maybe on another host) often cures.
BUSY_STATUSES = frozenset({429, 503})
TRANSIENT_STATUSES = BUSY_STATUSES | {500, 502, 504}


def is_transient(exc: BaseException) -> bool:
    """Whether sending the same request again (here or elsewhere) may succeed."""
    if isinstance(exc, (OllamaConnectionError, OllamaTimeoutError)):
        return True
    if not isinstance(exc, ResponseError) or isinstance(exc, ModelNotFoundError):
        return False
    # A reply that could not be read (status 200, body not JSON) is a garbled
    # answer, most often from a proxy or a cut connection; asking again helps.
    return exc.status_code in TRANSIENT_STATUSES or exc.status_code < 400


def hurts_host(exc: BaseException) -> bool:
    """Whether a transient failure counts against the host's health.

    A busy answer proves the host is alive and working, so it only delays.
    """
    return not (isinstance(exc, ResponseError) and exc.status_code in BUSY_STATUSES)


def backoff_delay(backoff: float, attempt: int) -> float:
    """Exponential backoff with jitter: about ``backoff * 2**(attempt-1)`` seconds.

    The jitter (0.5x to 1.5x) keeps the workers of several clients from
    retrying in lockstep against a busy server.
    """
    return backoff * (2 ** max(attempt - 1, 0)) * random.uniform(0.5, 1.5)


def not_found_on(exc: ModelNotFoundError, host: str, model: str) -> ModelNotFoundError:
    """The same error, naming the host, which matters when there are several."""
    return ModelNotFoundError(f"{exc.error} on {host}", exc.status_code, model=model)


def unreachable(hosts: Sequence[str]) -> OllamaConnectionError:
    """The error for hosts that all refused the connection: no server runs there."""
    where = ", ".join(hosts)
    return OllamaConnectionError(
        f"cannot connect to Ollama at {where}: nothing is listening there. "
        "Start it with `ollama serve`, or point OLLAMA_HOST / --embed-host at "
        "a running one."
    )


def exhausted(
    model: str, retries: int, pool: HostPool, exc: BaseException
) -> RagkitError:
    """The error to raise when a request failed ``retries + 1`` times.

    Connection problems become :class:`OllamaConnectionError` (the hosts are
    gone), server errors :class:`IngestError`; both name every host with its
    last error and say what to do.
    """
    hosts = pool.describe()
    if isinstance(exc, (OllamaConnectionError, OllamaTimeoutError)):
        return OllamaConnectionError(
            f"could not embed with {model!r}: no host answered after "
            f"{retries + 1} attempts; hosts: {hosts}. Start the server with "
            "`ollama serve`, or point OLLAMA_HOST / --embed-host at a running one."
        )
    detail = str(exc) if isinstance(exc, OllamaError) else repr(exc)
    return IngestError(
        f"embedding with {model!r} failed {retries + 1} times: {detail}; hosts: "
        f"{hosts}. The server keeps failing: check its log, or retry later."
    )
