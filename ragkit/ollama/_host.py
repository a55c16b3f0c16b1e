"""Resolving the server URL (``OLLAMA_HOST``) and auth headers (``OLLAMA_API_KEY``)."""

from __future__ import annotations

import ipaddress
import os
import re
import urllib.parse
from collections.abc import Mapping

from ragkit.ollama._errors import InvalidHostError

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "auth_headers", "parse_host"]

DEFAULT_PORT = 11434
DEFAULT_HOST = f"http://127.0.0.1:{DEFAULT_PORT}"

# Credentials in a host URL (``http://user:secret@host``) must not reach error messages.
_USERINFO = re.compile(r"^([^/]*//)?[^/@]*@")


def parse_host(value: str | None) -> str:
    """Turn an ``OLLAMA_HOST``-style value into a base URL.

    The rules are the official Python client's (wire facts, section 7): a missing
    scheme means ``http`` and port 11434, an explicit ``http``/``https`` scheme
    without a port means 80/443, a missing host means 127.0.0.1, IPv6 literals
    must be bracketed, host names are lowercased and a path prefix is kept
    without its surrounding slashes. Unlike the Go server, ``ollama.com`` gets no
    special case and surrounding quotes or spaces are not stripped.

    Args:
        value: The value to parse; ``None`` or ``""`` means the default host.

    Returns:
        A URL of the form ``scheme://host:port`` or ``scheme://host:port/path``.

    Raises:
        InvalidHostError: The port is not a number in 0-65535 or an IPv6 address
            lacks brackets (also a :class:`ValueError`, as in the official client).

    Examples:
        >>> parse_host(None)
        'http://127.0.0.1:11434'
        >>> parse_host("example.com:8080/ollama/")
        'http://example.com:8080/ollama'
        >>> parse_host("https://[::1]")
        'https://[::1]:443'
    """
    text = value or ""
    port = DEFAULT_PORT
    scheme, _, rest = text.partition("://")
    if not rest:
        scheme, rest = "http", text
    elif scheme == "http":
        port = 80
    elif scheme == "https":
        port = 443
    try:
        split = urllib.parse.urlsplit(f"{scheme}://{rest}")
        hostname = split.hostname or "127.0.0.1"
        # An explicit port 0 falls back to the default, as in the official client.
        port = split.port or port
    except ValueError as exc:
        shown = _USERINFO.sub(r"\1***@", text)
        raise InvalidHostError(f"invalid Ollama host {shown!r}: {exc}") from exc
    try:
        is_v6 = isinstance(ipaddress.ip_address(hostname), ipaddress.IPv6Address)
    except ValueError:
        is_v6 = False
    if is_v6:
        hostname = f"[{hostname}]"
    path = split.path.strip("/")
    base = f"{scheme}://{hostname}:{port}"
    return f"{base}/{path}" if path else base


def auth_headers(
    headers: Mapping[str, str] | None, api_key: str | None
) -> dict[str, str]:
    """Merge the caller's headers with ``Authorization: Bearer <key>``.

    The key comes from ``api_key`` or else ``OLLAMA_API_KEY``; it is only added
    when the caller did not give an ``Authorization`` header of their own.

    Args:
        headers: Headers the caller passed, kept as given.
        api_key: An explicit key; ``None`` reads ``OLLAMA_API_KEY``.

    Returns:
        A new header dict.
    """
    merged = dict(headers or {})
    if any(name.lower() == "authorization" for name in merged):
        return merged
    key = api_key if api_key is not None else os.environ.get("OLLAMA_API_KEY")
    if key:
        merged["Authorization"] = f"Bearer {key}"
    return merged
