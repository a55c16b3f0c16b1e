"""Host health: when a host leaves the rotation and when it comes back."""

from __future__ import annotations

from ragkit.embedding._hosts import HostPool, is_refused
from ragkit.errors import OllamaConnectionError

A, B = "http://a:1", "http://b:1"


def _refused() -> OllamaConnectionError:
    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except ConnectionRefusedError as inner:
            raise OllamaConnectionError("cannot reach http://a:1") from inner
    except OllamaConnectionError as outer:
        return outer


def test_is_refused_follows_the_cause_chain() -> None:
    assert is_refused(_refused())
    assert not is_refused(OllamaConnectionError("connection dropped"))


def test_consecutive_failures_take_a_host_out_and_a_success_resets() -> None:
    pool = HostPool([A, B], cooldown=60.0, max_failures=2)
    error = OllamaConnectionError("dropped")
    assert not pool.failed(A, error)
    assert pool.succeeded(A) is False  # it never left
    assert not pool.failed(A, error)
    assert pool.failed(A, error)  # second in a row
    assert not pool.eligible(A)
    assert pool.eligible(B)
    assert pool.others_available(A)
    assert pool.pick() == B
    assert pool.succeeded(A)  # a probe that works brings it back
    assert pool.eligible(A)


def test_a_refused_connection_takes_a_host_out_at_once() -> None:
    pool = HostPool([A, B], cooldown=60.0, max_failures=5)
    assert pool.failed(A, _refused())
    assert not pool.eligible(A)
    assert pool.describe().startswith(f"{A} (cannot reach")


def test_when_every_host_is_out_all_are_eligible_again() -> None:
    pool = HostPool([A, B], cooldown=60.0, max_failures=1)
    pool.failed(A, OllamaConnectionError("x"))
    assert not pool.eligible(A)
    pool.failed(B, OllamaConnectionError("y"))
    assert pool.eligible(A) and pool.eligible(B)
    assert not pool.others_available(A)
    assert pool.pick() == A  # its cool-down ends first


def test_cooldown_ends_by_the_clock() -> None:
    pool = HostPool([A, B], cooldown=5.0, max_failures=1)
    pool.failed(A, OllamaConnectionError("x"))
    back = pool.back_at(A)
    assert not pool.eligible(A, now=back - 1.0)
    assert pool.eligible(A, now=back)


def test_pick_goes_round_robin_over_available_hosts() -> None:
    pool = HostPool([A, B], cooldown=5.0, max_failures=1)
    assert [pool.pick() for _ in range(4)] == [A, B, A, B]
