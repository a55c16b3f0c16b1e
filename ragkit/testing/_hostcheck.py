"""Which Host headers a real Ollama serves: its guard against DNS rebinding."""

from __future__ import annotations

import ipaddress
import socket

__all__ = ["host_allowed"]

_LOCAL_SUFFIXES = (".localhost", ".local", ".internal")


def host_allowed(header: str | None, bound: str) -> bool:
    """Whether Ollama would answer a request carrying this ``Host`` header.

    A server listening on loopback answers only requests addressed to a local
    name: an IP that is loopback, private or unspecified, ``localhost``, the
    machine's own name, or a name under ``.localhost``, ``.local`` or
    ``.internal``. Anything else (a web page's DNS-rebound name) gets 403. A
    server listening on another address answers every name.

    >>> host_allowed("127.0.0.1:11434", "127.0.0.1")
    True
    >>> host_allowed("evil.example.com", "127.0.0.1")
    False
    """
    if not _is_loopback(bound):
        return True
    host = _without_port(header or "").strip("[]").lower().rstrip(".")
    if not host:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return (
            host == "localhost"
            or host == socket.gethostname().lower()
            or host.endswith(_LOCAL_SUFFIXES)
        )
    return address.is_loopback or address.is_private or address.is_unspecified


def _is_loopback(bound: str) -> bool:
    try:
        return ipaddress.ip_address(bound.strip("[]")).is_loopback
    except ValueError:
        return bound.lower() == "localhost"


def _without_port(header: str) -> str:
    if header.startswith("["):  # [::1]:11434
        return header.split("]", 1)[0] + "]"
    if header.count(":") == 1:  # name:port or IPv4:port
        return header.split(":", 1)[0]
    return header  # a bare name, or a bare IPv6 address
