"""Errors specific to the Ollama client, each a subclass of the shared tree."""

from __future__ import annotations

from ragkit.errors import ConfigError

__all__ = ["InvalidHostError"]


class InvalidHostError(ConfigError, ValueError):
    """``OLLAMA_HOST`` (or ``host=``) cannot be turned into a URL.

    It is also a :class:`ValueError` because the official client raises
    ``ValueError`` for the same inputs, and code written against it catches that.
    """
