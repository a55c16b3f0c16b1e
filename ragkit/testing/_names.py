"""Ollama model names: parsing, validation, defaults and the display form."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["ModelName", "parse_name"]

DEFAULT_HOST = "registry.ollama.ai"
DEFAULT_NAMESPACE = "library"
DEFAULT_TAG = "latest"

_HOST = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,349}")
_NAMESPACE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,79}")
_MODEL = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}")
_TAG = _MODEL


@dataclass(frozen=True, slots=True)
class ModelName:
    """A fully qualified model name with every default filled in."""

    host: str
    namespace: str
    model: str
    tag: str

    @property
    def display(self) -> str:
        """The short form shown by tags, ps and ``/v1/models`` (tag always shown)."""
        short = f"{self.model}:{self.tag}"
        if self.host.lower() != DEFAULT_HOST:
            return f"{self.host}/{self.namespace}/{short}"
        if self.namespace.lower() != DEFAULT_NAMESPACE:
            return f"{self.namespace}/{short}"
        return short

    @property
    def full(self) -> str:
        """The long form used in some server errors (``host/namespace/model:tag``)."""
        return f"{self.host}/{self.namespace}/{self.model}:{self.tag}"

    @property
    def key(self) -> str:
        """The case-insensitive identity used for lookups."""
        return self.full.casefold()


def parse_name(text: str) -> ModelName | None:
    """Parse a model reference, filling in the defaults.

    A ``:`` is the tag separator only after the last ``/`` (so ``host:5000/ns/m``
    keeps the port in the host), and an optional ``scheme://`` is dropped.

    Args:
        text: The name as a client sent it; surrounding whitespace is ignored.

    Returns:
        The parsed name, or ``None`` when it breaks the syntax rules.

    >>> parse_name("llama3.2").display
    'llama3.2:latest'
    >>> parse_name("a//m") is None
    True
    """
    name = text.strip()
    if "://" in name:
        name = name.split("://", 1)[1]
    if not name or "@" in name:
        return None
    slash = name.rfind("/")
    colon = name.rfind(":")
    tag = DEFAULT_TAG
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
        if not _TAG.fullmatch(tag):
            return None
    parts = name.split("/")
    if len(parts) > 3:
        return None
    host, namespace = DEFAULT_HOST, DEFAULT_NAMESPACE
    if len(parts) == 3:
        host, namespace, model = parts
    elif len(parts) == 2:
        namespace, model = parts
    else:
        (model,) = parts
    if not (
        _HOST.fullmatch(host)
        and _NAMESPACE.fullmatch(namespace)
        and _MODEL.fullmatch(model)
    ):
        return None
    return ModelName(host=host, namespace=namespace, model=model, tag=tag)
