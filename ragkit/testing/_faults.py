"""Fault injection: random and scheduled 500s, 503s, drops, cuts and malformed lines."""

from __future__ import annotations

import random
import threading
from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal, get_args

__all__ = ["FaultKind", "FaultPlan", "Faults", "Injected"]

FaultKind = Literal["500", "503", "429", "drop", "cut", "stream_error", "malformed"]
"""What an injected fault does.

- ``"500"``/``"429"``: that status with a JSON error body, before any output.
- ``"503"``: the real queue-full answer.
- ``"drop"``: the connection is closed without a response.
- ``"cut"``: the reply starts, then the connection is closed mid-body (streams:
  after the first line, never delivering the final one).
- ``"stream_error"``: a stream sends a line, then ``{"error": ...}`` and ends
  (a non-streamed reply becomes a 500).
- ``"malformed"``: a line (or a whole non-streamed body) that is not JSON.
"""

_KINDS: tuple[str, ...] = get_args(FaultKind)


@dataclass(frozen=True)
class Faults:
    """Rates of randomly injected faults, each between 0 and 1.

    Draws come from ``random.Random(seed)``, one per kind and request, so a
    given request order always yields the same faults.

    Attributes:
        error_rate: 500 with ``{"error": "injected fault"}``.
        busy_rate: 503 with the real queue-full text.
        drop_rate: The connection closes without a response.
        cut_rate: The reply is cut off mid-body.
        malformed_rate: A line that is not JSON.
        stream_error_rate: An in-stream ``{"error": ...}`` line after output.
        seed: Seed of the random generator.
        endpoints: Routes faults apply to, e.g. ``["/api/embed"]`` (``None``:
            every route; blob uploads are ``/api/blobs``).
    """

    error_rate: float = 0.0
    busy_rate: float = 0.0
    drop_rate: float = 0.0
    cut_rate: float = 0.0
    malformed_rate: float = 0.0
    stream_error_rate: float = 0.0
    seed: int = 0
    endpoints: Collection[str] | None = None

    def __post_init__(self) -> None:
        for name in (
            "error_rate",
            "busy_rate",
            "drop_rate",
            "cut_rate",
            "malformed_rate",
            "stream_error_rate",
        ):
            rate = getattr(self, name)
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {rate}")


@dataclass(frozen=True)
class Injected:
    """A fault chosen for one request."""

    kind: FaultKind
    message: str = "injected fault"


@dataclass
class _Scheduled:
    kind: FaultKind
    remaining: int
    endpoint: str | None
    message: str


class FaultPlan:
    """Decides, request by request, which fault (if any) to inject."""

    def __init__(self, faults: Faults | None) -> None:
        self._lock = threading.Lock()
        self._scheduled: list[_Scheduled] = []
        self._faults = faults or Faults()
        self._random = random.Random(self._faults.seed)

    @property
    def faults(self) -> Faults:
        """The current rates."""
        return self._faults

    @faults.setter
    def faults(self, faults: Faults | None) -> None:
        with self._lock:
            self._faults = faults or Faults()
            self._random = random.Random(self._faults.seed)

    def fail_next(
        self,
        n: int,
        kind: FaultKind,
        endpoint: str | None,
        message: str,
    ) -> None:
        """Schedule ``kind`` for the next ``n`` requests (to ``endpoint`` if given)."""
        if kind not in _KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; use one of {_KINDS}")
        if n < 1:
            raise ValueError("n must be at least 1")
        with self._lock:
            self._scheduled.append(_Scheduled(kind, n, endpoint, message))

    def clear(self) -> None:
        """Forget scheduled faults and restart the random sequence."""
        with self._lock:
            self._scheduled.clear()
            self._random = random.Random(self._faults.seed)

    def pending(self) -> int:
        """How many scheduled faults have not fired yet."""
        with self._lock:
            return sum(item.remaining for item in self._scheduled)

    def choose(self, path: str) -> Injected | None:
        """The fault for a request to ``path``, scheduled ones first."""
        with self._lock:
            for item in self._scheduled:
                if item.endpoint is None or item.endpoint == path:
                    item.remaining -= 1
                    if item.remaining == 0:
                        self._scheduled.remove(item)
                    return Injected(item.kind, item.message)
            faults = self._faults
            if faults.endpoints is not None and path not in faults.endpoints:
                return None
            rates: tuple[tuple[FaultKind, float], ...] = (
                ("500", faults.error_rate),
                ("503", faults.busy_rate),
                ("drop", faults.drop_rate),
                ("cut", faults.cut_rate),
                ("malformed", faults.malformed_rate),
                ("stream_error", faults.stream_error_rate),
            )
            if not any(rate for _, rate in rates):
                return None
            # Always draw once per kind so the sequence depends only on
            # request order, not on which fault fired.
            draws = [(kind, self._random.random() < rate) for kind, rate in rates]
        for kind, hit in draws:
            if hit:
                return Injected(kind)
        return None
