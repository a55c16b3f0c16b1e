"""Slots, the wait queue and the cost model: how busy FakeOllama pretends to be."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from ragkit.testing._wire import ApiError

__all__ = [
    "QUEUE_FULL",
    "CostModel",
    "EndpointStats",
    "Scheduler",
    "ServerStats",
    "Slot",
]

QUEUE_FULL = "server busy, please try again.  maximum pending requests exceeded"


@dataclass(frozen=True)
class CostModel:
    """Simulated time a request spends in its model's slot, in milliseconds.

    Attributes:
        per_request_ms: Once per request that runs a model.
        per_input_ms: Per embedded input (``/api/embed`` inputs run one after another).
        per_token_ms: Per generated token (streams are paced token by token).
        load_ms: When a model that is not loaded gets loaded.
    """

    per_request_ms: float = 0.0
    per_input_ms: float = 0.0
    per_token_ms: float = 0.0
    load_ms: float = 0.0


@dataclass(frozen=True)
class EndpointStats:
    """Counters of one endpoint path.

    Attributes:
        requests: Requests received (any outcome).
        errors: Requests answered with a status of 400 or more, or dropped.
        inputs: Inputs embedded (``/api/embed``, ``/api/embeddings``,
            ``/v1/embeddings``).
        prompt_tokens: Tokens read from prompts and inputs.
        eval_tokens: Tokens generated.
    """

    requests: int = 0
    errors: int = 0
    inputs: int = 0
    prompt_tokens: int = 0
    eval_tokens: int = 0


@dataclass(frozen=True)
class ServerStats:
    """A snapshot of FakeOllama's counters.

    Attributes:
        endpoints: Per endpoint path (e.g. ``/api/embed``).
        busy_seconds: Per model (display name), wall time its slots were held,
            summed over slots.
        simulated_seconds: Per model, the time the cost model charged, which is
            the server-bound ideal of a benchmark.
        active: Requests holding a model slot right now.
        waiting: Requests queued for a slot right now.
    """

    endpoints: Mapping[str, EndpointStats] = field(default_factory=dict)
    busy_seconds: Mapping[str, float] = field(default_factory=dict)
    simulated_seconds: Mapping[str, float] = field(default_factory=dict)
    active: int = 0
    waiting: int = 0

    def endpoint(self, path: str) -> EndpointStats:
        """The counters of one path (zeros if it was never called)."""
        return self.endpoints.get(path, EndpointStats())


class _ModelSlots:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.active = 0


class Slot:
    """A held slot of one model: charge simulated time to it, then release it."""

    def __init__(self, scheduler: Scheduler, model: str) -> None:
        self._scheduler = scheduler
        self._model = model
        self._started = time.perf_counter()
        self._released = False

    def spend(self, milliseconds: float) -> None:
        """Sleep for simulated work (cut short when the server stops)."""
        if milliseconds <= 0:
            return
        self._scheduler.charge(self._model, milliseconds / 1000.0)
        self._scheduler.stopping.wait(milliseconds / 1000.0)

    def release(self) -> None:
        """Give the slot back (idempotent)."""
        if self._released:
            return
        self._released = True
        self._scheduler.release(self._model, time.perf_counter() - self._started)


class Scheduler:
    """Per-model slots with one shared wait queue, like Ollama's scheduler.

    A request first waits for a free slot of its model; when ``max_queue``
    requests are already waiting, it is refused with the real 503 text.
    """

    def __init__(self, *, num_parallel: int, max_queue: int) -> None:
        if num_parallel < 1:
            raise ValueError("num_parallel must be at least 1")
        if max_queue < 0:
            raise ValueError("max_queue must not be negative")
        self.num_parallel = num_parallel
        self.max_queue = max_queue
        self.stopping = threading.Event()
        self._resumed = threading.Event()
        self._resumed.set()
        self._cond = threading.Condition()
        self._slots: dict[str, _ModelSlots] = {}
        self._waiting = 0
        self._busy: defaultdict[str, float] = defaultdict(float)
        self._simulated: defaultdict[str, float] = defaultdict(float)

    def acquire(self, model: str, *, single: bool) -> Slot:
        """Wait for a slot of ``model`` (``single``: the model has only one slot).

        Raises:
            ApiError: 503 when the wait queue is full, 500 when the server stops.
        """
        with self._cond:
            slots = self._slots.get(model)
            if slots is None:
                slots = _ModelSlots(1 if single else self.num_parallel)
                self._slots[model] = slots
            if slots.active >= slots.capacity:
                if self._waiting >= self.max_queue:
                    raise ApiError(503, QUEUE_FULL)
                self._waiting += 1
                try:
                    while slots.active >= slots.capacity:
                        if self.stopping.is_set():
                            raise ApiError(500, "server shutting down")
                        self._cond.wait(0.05)
                finally:
                    self._waiting -= 1
            slots.active += 1
        # A paused server holds requests inside their slots, so tests can
        # build up a queue without relying on timing.
        while not self._resumed.wait(0.05) and not self.stopping.is_set():
            pass
        # stop() sets `stopping` before it resumes, so a held request never
        # runs on after the server was told to stop.
        if self.stopping.is_set():
            self._release_raw(model)
            raise ApiError(500, "server shutting down")
        return Slot(self, model)

    def _release_raw(self, model: str) -> None:
        with self._cond:
            self._slots[model].active -= 1
            self._cond.notify_all()

    def release(self, model: str, held_seconds: float) -> None:
        """Return a slot and add the time it was held to the model's busy time."""
        with self._cond:
            self._busy[model] += held_seconds
            self._slots[model].active -= 1
            self._cond.notify_all()

    def charge(self, model: str, seconds: float) -> None:
        """Record simulated work for a model."""
        with self._cond:
            self._simulated[model] += seconds

    def pause(self) -> None:
        """Hold every request that gets a slot until :meth:`resume`."""
        self._resumed.clear()

    def resume(self) -> None:
        """Let held requests go on."""
        self._resumed.set()

    def occupancy(self) -> tuple[int, int]:
        """Requests holding a slot and requests waiting for one."""
        with self._cond:
            return sum(s.active for s in self._slots.values()), self._waiting

    def times(self) -> tuple[dict[str, float], dict[str, float]]:
        """Busy and simulated seconds per model."""
        with self._cond:
            return dict(self._busy), dict(self._simulated)

    def reset_times(self) -> None:
        """Zero the busy and simulated times."""
        with self._cond:
            self._busy.clear()
            self._simulated.clear()
