"""One streaming embedding run: a feeder thread, per-host workers, results as ready."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Generic

import numpy as np
import numpy.typing as npt

from ragkit.embedding._hosts import HostPool
from ragkit.embedding._policy import (
    backoff_delay,
    exhausted,
    hurts_host,
    is_transient,
    not_found_on,
)
from ragkit.embedding._types import EmbedFailure, EmbedResult, EmbedStats, K
from ragkit.errors import (
    IngestError,
    ModelNotFoundError,
    OllamaTimeoutError,
    ResponseError,
)

__all__ = ["Run", "RunSettings", "Send", "StatsFanout", "check_vectors"]

logger = logging.getLogger("ragkit.embedding")

Vectors = npt.NDArray[np.float32]
Send = Callable[[str, list[str], bool], Vectors]
"""``send(host, texts, truncate)``: one ``/api/embed`` request, vectors as an array."""

NON_FINITE = "the server returned a vector with NaN or infinite values"

# How long a partly filled batch may wait for more input while a worker is
# idle. A fast source fills a batch well within it, so batches stay full; a
# slow one (a big PDF being parsed) does not leave the server idle for long.
LINGER_SECONDS = 0.05


class StatsFanout:
    """Applies each count to several :class:`EmbedStats` (the run's, the embedder's)."""

    def __init__(self, *targets: EmbedStats) -> None:
        self._targets = targets

    def add(self, host: str | None = None, **counts: int | float) -> None:
        """See :meth:`EmbedStats.add`."""
        for target in self._targets:
            target.add(host, **counts)

    def set_available(self, host: str, available: bool) -> None:
        """See :meth:`EmbedStats.set_available`."""
        for target in self._targets:
            target.set_available(host, available)


def check_vectors(vectors: Vectors, count: int, dimension: int, where: str) -> None:
    """Raise :class:`IngestError` unless ``vectors`` is ``count`` rows of ``dimension``.

    Args:
        vectors: What the server returned, as an array.
        count: How many inputs were sent.
        dimension: The model's dimension.
        where: ``"<model> on <host>"``, for the message.
    """
    if vectors.ndim != 2 or vectors.shape[0] != count:
        raise IngestError(
            f"{where} returned {vectors.shape[0] if vectors.ndim else 0} vectors "
            f"for {count} inputs; the server's reply is malformed"
        )
    if vectors.shape[1] != dimension:
        raise IngestError(
            f"{where} returned {vectors.shape[1]}-dimensional vectors, but the "
            f"model's dimension is {dimension}; the model may have changed on "
            "the server: rebuild the index with the model it has now"
        )


@dataclass(frozen=True, slots=True)
class RunSettings:
    """Everything a run needs to know besides its input."""

    model: str
    dimension: int
    prefix: str
    batch_size: int
    max_batch_tokens: int
    in_flight_per_host: int
    queue_size: int
    retries: int
    backoff: float
    dedup_window: int
    estimate_tokens: Callable[[str], int]


@dataclass(slots=True)
class _Batch:
    texts: list[str] = field(default_factory=list)
    tokens: int = 0
    truncate: bool = False
    attempts: int = 0
    not_before: float = 0.0
    started: float = 0.0


@dataclass(slots=True)
class _Entry(Generic[K]):
    text: str
    keys: list[K]


class Run(Generic[K]):
    """The machinery behind :meth:`Embedder.embed_stream`.

    Invariants, all guarded by ``self._cv``:

    - every distinct prefixed text read from the source and not yet delivered
      is in ``_pending`` and in exactly one batch (building, queued or in
      flight); repeats only add their key to its entry;
    - the feeder waits while ``queue_size`` batches are queued, and workers
      wait while ``queue_size`` results are unread, so at most
      ``batch_size * (2 * queue_size + workers + 1)`` distinct inputs are read
      ahead of what the caller has consumed;
    - the run is finished when the source is exhausted and no batch is
      building, queued or in flight.
    """

    def __init__(
        self,
        items: Iterable[tuple[K, str]],
        settings: RunSettings,
        pool: HostPool,
        send: Send,
        stats: StatsFanout,
    ) -> None:
        self._items = items
        self._settings = settings
        self._pool = pool
        self._send = send
        self._stats = stats
        self._cv = threading.Condition()
        self._queue: deque[_Batch] = deque()
        self._building = _Batch()
        self._results: deque[EmbedResult[K] | EmbedFailure[K]] = deque()
        self._pending: dict[str, _Entry[K]] = {}
        self._recent: OrderedDict[bytes, tuple[Vectors, str]] = OrderedDict()
        self._in_flight = 0
        self._exhausted_source = False
        self._stopping = False
        self._error: BaseException | None = None
        self._threads: list[threading.Thread] = []

    # -- lifecycle -------------------------------------------------------

    def start(self) -> None:
        """Start the feeder and ``in_flight_per_host`` workers per host."""
        self._threads.append(
            threading.Thread(target=self._feed, name="ragkit-embed-feeder", daemon=True)
        )
        for host in self._pool.hosts:
            for slot in range(self._settings.in_flight_per_host):
                self._threads.append(
                    threading.Thread(
                        target=self._work,
                        args=(host,),
                        name=f"ragkit-embed-{host}-{slot}",
                        daemon=True,
                    )
                )
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Stop every thread and wait for them.

        A worker finishes the request it is in (bounded by the client's
        timeout); the feeder stops at its next item.
        """
        with self._cv:
            self._stopping = True
            self._cv.notify_all()
        for thread in self._threads:
            thread.join()

    def results(self) -> Iterator[EmbedResult[K] | EmbedFailure[K]]:
        """Yield results as they complete; raise the run's error after the last one."""
        while True:
            with self._cv:
                while not self._results:
                    if self._error is not None:
                        raise self._error
                    if self._finished():
                        return
                    self._cv.wait()
                item = self._results.popleft()
                self._cv.notify_all()
            yield item

    # -- shared state helpers (call with self._cv held) -------------------

    def _halted(self) -> bool:
        return self._stopping or self._error is not None

    def _finished(self) -> bool:
        return (
            self._exhausted_source
            and not self._queue
            and not self._building.texts
            and self._in_flight == 0
        )

    def _fail(self, exc: BaseException) -> None:
        with self._cv:
            if self._error is None:
                self._error = exc
            self._cv.notify_all()

    def _wait_for_result_room(self) -> bool:
        while len(self._results) >= self._settings.queue_size and not self._halted():
            self._cv.wait()
        return not self._halted()

    # -- feeder ------------------------------------------------------------

    def _feed(self) -> None:
        try:
            for key, text in self._items:
                if not self._add(key, text):
                    return
        except BaseException as exc:  # the consumer re-raises it
            self._fail(exc)
            return
        with self._cv:
            if self._building.texts:
                self._queue.append(self._building)
                self._building = _Batch()
            self._exhausted_source = True
            self._cv.notify_all()

    def _add(self, key: K, text: str) -> bool:
        settings = self._settings
        full = settings.prefix + text
        digest = _digest(full)
        # Estimated outside the lock: a real tokenizer may be slow, and the
        # workers must not wait for it.
        tokens = max(1, settings.estimate_tokens(full))
        self._stats.add(items=1)
        with self._cv:
            if self._halted():
                return False
            entry = self._pending.get(full)
            if entry is not None:
                entry.keys.append(key)
                self._stats.add(duplicates=1)
                return True
            recent = self._recent.get(digest)
            if recent is not None:
                self._recent.move_to_end(digest)
                if not self._wait_for_result_room():
                    return False
                vector, host = recent
                self._results.append(EmbedResult([key], vector[np.newaxis, :], host))
                self._cv.notify_all()
                self._stats.add(duplicates=1, embedded=1)
                return True
            building = self._building
            if building.texts and building.tokens + tokens > settings.max_batch_tokens:
                if not self._close_batch():
                    return False
            self._pending[full] = _Entry(text, [key])
            if not self._building.texts:
                self._building.started = time.monotonic()
            self._building.texts.append(full)
            self._building.tokens += tokens
            if (
                len(self._building.texts) >= settings.batch_size
                or self._building.tokens >= settings.max_batch_tokens
            ):
                return self._close_batch()
            return True

    def _close_batch(self) -> bool:
        while len(self._queue) >= self._settings.queue_size and not self._halted():
            self._cv.wait()
        if self._halted():
            return False
        # A worker may have taken the batch while we waited; then there is
        # nothing left to close.
        if self._building.texts:
            self._queue.append(self._building)
            self._building = _Batch()
            self._cv.notify_all()
        return True

    # -- workers -----------------------------------------------------------

    def _work(self, host: str) -> None:
        while True:
            with self._cv:
                batch = self._take(host)
                if batch is None:
                    return
                self._in_flight += 1
            try:
                self._attempt(host, batch)
            except BaseException as exc:  # the consumer re-raises it
                self._fail(exc)
            finally:
                with self._cv:
                    self._in_flight -= 1
                    self._cv.notify_all()

    def _take(self, host: str) -> _Batch | None:
        while True:
            if self._halted():
                return None
            now = time.monotonic()
            wake: float | None = None
            if self._pool.eligible(host, now):
                for index, batch in enumerate(self._queue):
                    if batch.not_before <= now:
                        del self._queue[index]
                        self._cv.notify_all()
                        return batch
                    wake = _earliest(wake, batch.not_before)
                # Nothing queued because the source is slow: send what the
                # feeder has so far rather than let the server sit idle.
                if not self._queue and self._building.texts:
                    ripe = self._building.started + LINGER_SECONDS
                    if ripe <= now:
                        batch, self._building = self._building, _Batch()
                        return batch
                    wake = _earliest(wake, ripe)
            else:
                wake = _earliest(wake, self._pool.back_at(host))
            if self._finished():
                return None
            self._cv.wait(None if wake is None else max(wake - now, 0.001))

    def _attempt(self, host: str, batch: _Batch) -> None:
        settings = self._settings
        try:
            vectors = self._send(host, batch.texts, batch.truncate)
        except ModelNotFoundError as exc:
            raise not_found_on(exc, host, settings.model) from exc
        except ResponseError as exc:
            if exc.status_code == 400:
                self._host_ok(host)
                self._rejected(batch, exc)
                return
            if not is_transient(exc):
                raise
            self._retry(host, batch, exc)
            return
        except OllamaTimeoutError as exc:
            self._retry(host, batch, exc, split=True)
            return
        except Exception as exc:
            if not is_transient(exc):
                raise
            self._retry(host, batch, exc)
            return
        self._host_ok(host)
        check_vectors(
            vectors, len(batch.texts), settings.dimension, f"{settings.model} on {host}"
        )
        self._deliver(host, batch, vectors)

    def _host_ok(self, host: str) -> None:
        if self._pool.succeeded(host):
            logger.info("embedding host %s is back in rotation", host)
            self._stats.set_available(host, True)

    def _retry(
        self, host: str, batch: _Batch, exc: Exception, *, split: bool = False
    ) -> None:
        settings = self._settings
        self._stats.add(host, failures=1)
        took_out = hurts_host(exc) and self._pool.failed(host, exc)
        if took_out:
            logger.warning("embedding host %s taken out of rotation: %s", host, exc)
            self._stats.set_available(host, False)
        batch.attempts += 1
        if batch.attempts > settings.retries:
            raise exhausted(settings.model, settings.retries, self._pool, exc) from exc
        self._stats.add(retries=1)
        if took_out and self._pool.others_available(host):
            delay = 0.0  # another host takes it at once
        else:
            delay = backoff_delay(settings.backoff, batch.attempts)
        logger.debug(
            "retrying %d inputs (attempt %d) in %.2fs after: %s",
            len(batch.texts),
            batch.attempts,
            delay,
            exc,
        )
        batch.not_before = time.monotonic() + delay
        # A timeout may mean the batch is too big for the server to finish in
        # time, so it comes back as two halves.
        parts = _halves(batch) if split and len(batch.texts) > 1 else [batch]
        with self._cv:
            self._queue.extendleft(reversed(parts))
            self._cv.notify_all()

    def _rejected(self, batch: _Batch, exc: ResponseError) -> None:
        if len(batch.texts) > 1:
            # Bisect until the inputs the server refuses stand alone.
            self._stats.add(splits=1)
            with self._cv:
                self._queue.extendleft(reversed(_halves(batch)))
                self._cv.notify_all()
            return
        if not batch.truncate:
            # A lone input refused with truncate:false is retried with
            # truncate:true: if that works, length was the problem (status
            # 400 either way; the message's wording varies across versions).
            batch.truncate = True
            with self._cv:
                self._queue.appendleft(batch)
                self._cv.notify_all()
            return
        with self._cv:
            entry = self._pending.pop(batch.texts[0])
            failures = [EmbedFailure(key, entry.text, exc.error) for key in entry.keys]
            if not self._wait_for_result_room():
                return
            self._results.extend(failures)
            self._cv.notify_all()
        logger.warning(
            "skipped an input the server rejected (%d chars): %s",
            len(entry.text),
            exc.error,
        )
        self._stats.add(failed=len(failures))

    def _deliver(self, host: str, batch: _Batch, vectors: Vectors) -> None:
        finite = np.isfinite(vectors).min(axis=1, initial=True).tolist()
        keys: list[K] = []
        rows: list[int] = []
        failures: list[EmbedFailure[K]] = []
        with self._cv:
            for row, text in enumerate(batch.texts):
                entry = self._pending.pop(text)
                if finite[row]:
                    keys.extend(entry.keys)
                    rows.extend([row] * len(entry.keys))
                    self._remember(text, vectors[row].copy(), host)
                else:
                    failures.extend(
                        EmbedFailure(key, entry.text, NON_FINITE) for key in entry.keys
                    )
            if not self._wait_for_result_room():
                return
            if keys:
                truncated = tuple(keys) if batch.truncate else ()
                self._results.append(EmbedResult(keys, vectors[rows], host, truncated))
            self._results.extend(failures)
            self._cv.notify_all()
        if batch.truncate:
            logger.warning(
                "an input longer than the context of %s was embedded truncated",
                self._settings.model,
            )
        self._stats.add(
            host,
            inputs=len(batch.texts),
            embedded=len(keys),
            failed=len(failures),
            truncated=len(keys) if batch.truncate else 0,
        )

    def _remember(self, text: str, vector: Vectors, host: str) -> None:
        """Keep ``vector`` for repeats of ``text`` (call with the lock held)."""
        # ``vector`` must be a copy: a row view would keep its whole batch alive.
        if self._settings.dedup_window <= 0:
            return
        self._recent[_digest(text)] = (vector, host)
        while len(self._recent) > self._settings.dedup_window:
            self._recent.popitem(last=False)


def _digest(text: str) -> bytes:
    return hashlib.blake2b(
        text.encode("utf-8", "surrogatepass"), digest_size=16
    ).digest()


def _earliest(current: float | None, candidate: float) -> float:
    return candidate if current is None else min(current, candidate)


def _halves(batch: _Batch) -> list[_Batch]:
    middle = len(batch.texts) // 2
    return [
        _Batch(
            texts,
            tokens=0,
            truncate=batch.truncate,
            attempts=batch.attempts,
            not_before=batch.not_before,
        )
        for texts in (batch.texts[:middle], batch.texts[middle:])
    ]
