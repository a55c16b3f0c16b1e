"""Which Ollama hosts are in rotation, and when a failing one is tried again."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

__all__ = ["HostPool", "is_refused"]


def is_refused(exc: BaseException) -> bool:
    """Whether ``exc`` was caused, somewhere down its chain, by a refused connection.

    A refused connection means nothing listens on the host, so retrying it at
    once is pointless, unlike a dropped connection or a timeout.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ConnectionRefusedError):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


@dataclass(slots=True)
class _Health:
    failures: int = 0
    down: bool = False
    down_until: float = 0.0
    last_error: str = ""


class HostPool:
    """Health bookkeeping for a fixed list of hosts, shared by all threads.

    A host leaves the rotation after ``max_failures`` consecutive failures, or
    at once when its connection is refused, for ``cooldown`` seconds; after
    that the next request sent to it is the probe that brings it back (one
    success) or sends it out again. When every host is out, all of them are
    eligible again: with nowhere else to go, retrying under the caller's
    backoff is better than waiting out a cool-down.
    """

    def __init__(self, hosts: list[str], *, cooldown: float, max_failures: int) -> None:
        self.hosts = list(hosts)
        self._cooldown = cooldown
        self._max_failures = max_failures
        self._lock = threading.Lock()
        self._health = {host: _Health() for host in self.hosts}
        self._next = 0

    def eligible(self, host: str, now: float | None = None) -> bool:
        """Whether a request may be sent to ``host`` now."""
        now = time.monotonic() if now is None else now
        with self._lock:
            if self._health[host].down_until <= now:
                return True
            return all(h.down_until > now for h in self._health.values())

    def back_at(self, host: str) -> float:
        """The monotonic time at which ``host``'s cool-down ends (0 if none)."""
        with self._lock:
            return self._health[host].down_until

    def others_available(self, host: str, now: float | None = None) -> bool:
        """Whether some host other than ``host`` is in rotation."""
        now = time.monotonic() if now is None else now
        with self._lock:
            return any(
                h.down_until <= now for name, h in self._health.items() if name != host
            )

    def pick(self, now: float | None = None) -> str:
        """A host for a one-off request: the next in rotation, round robin.

        When every host is cooling down, the one whose cool-down ends first.
        """
        now = time.monotonic() if now is None else now
        with self._lock:
            count = len(self.hosts)
            for step in range(count):
                host = self.hosts[(self._next + step) % count]
                if self._health[host].down_until <= now:
                    self._next = (self._next + step + 1) % count
                    return host
            return min(self.hosts, key=lambda name: self._health[name].down_until)

    def succeeded(self, host: str) -> bool:
        """Record a success; True when this brings ``host`` back into rotation."""
        with self._lock:
            health = self._health[host]
            came_back = health.down
            health.failures = 0
            health.down = False
            health.down_until = 0.0
            return came_back

    def failed(self, host: str, exc: BaseException) -> bool:
        """Record a failure that says something about the host's health.

        Returns:
            True when this takes ``host`` out of rotation.
        """
        now = time.monotonic()
        with self._lock:
            health = self._health[host]
            health.failures += 1
            health.last_error = str(exc)
            if not (is_refused(exc) or health.failures >= self._max_failures):
                return False
            health.down_until = now + self._cooldown
            went_down = not health.down
            health.down = True
            return went_down

    def describe(self) -> str:
        """One line naming each host and its last error, for error messages."""
        with self._lock:
            parts = [
                f"{host} ({health.last_error or 'no error'})"
                for host, health in self._health.items()
            ]
        return ", ".join(parts)
