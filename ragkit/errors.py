"""The one error tree every ragkit exception belongs to.

::

    RagkitError
    ├── ConfigError                 bad settings, recipe or flag values
    ├── OllamaError                 anything that went wrong talking to Ollama
    │   ├── OllamaConnectionError   the server cannot be reached (a ConnectionError)
    │   ├── OllamaTimeoutError      no answer in time (a TimeoutError)
    │   └── ResponseError           an error answer (.status_code, .error)
    │       └── ModelNotFoundError  404 for a model: pull it first
    ├── StoreError                  the index on disk
    │   ├── IndexNotFoundError      no index where one was expected
    │   ├── IndexMismatchError      the index was built with another model or dimension
    │   └── IndexLockedError        another process is writing to the index
    ├── IngestError                 an ingest run failed as a whole
    └── QueryError                  a question could not be answered
        └── CitationError           an answer's citations could not be parsed

Messages are written for the person at the terminal: what failed, where, and
what to do next. They never contain secrets.
"""

from __future__ import annotations

__all__ = [
    "CitationError",
    "ConfigError",
    "IndexLockedError",
    "IndexMismatchError",
    "IndexNotFoundError",
    "IngestError",
    "ModelNotFoundError",
    "OllamaConnectionError",
    "OllamaError",
    "OllamaTimeoutError",
    "QueryError",
    "RagkitError",
    "ResponseError",
    "StoreError",
]


class RagkitError(Exception):
    """Base class of every error ragkit raises on purpose."""


class ConfigError(RagkitError):
    """A setting, recipe or argument has a value ragkit cannot use."""


class OllamaError(RagkitError):
    """Talking to the Ollama server failed."""


class OllamaConnectionError(OllamaError, ConnectionError):
    """The Ollama server could not be reached (refused, DNS, dropped connection)."""


class OllamaTimeoutError(OllamaError, TimeoutError):
    """The Ollama server did not answer within the configured timeout."""


class ResponseError(OllamaError):
    """The Ollama server answered with an error.

    Attributes:
        error: The server's own message (the ``error`` field of its JSON body,
            or the raw body when it was not JSON).
        status_code: The HTTP status. An error reported inside a stream that
            had already started keeps the stream's status (200), never -1.
    """

    def __init__(self, error: str, status_code: int, *, hint: str = "") -> None:
        self.error = error
        self.status_code = status_code
        self.hint = hint
        message = f"{error} (status code: {status_code})"
        super().__init__(f"{message}; {hint}" if hint else message)


class ModelNotFoundError(ResponseError):
    """The server does not have the model a request named.

    Attributes:
        model: The model name as the request gave it.
    """

    def __init__(self, error: str, status_code: int = 404, *, model: str = "") -> None:
        self.model = model
        hint = (
            f"run `ollama pull {model}` (or `ragkit models pull {model}`)"
            if model
            else ""
        )
        super().__init__(error, status_code, hint=hint)


class StoreError(RagkitError):
    """The index on disk cannot be read or written."""


class IndexNotFoundError(StoreError):
    """There is no index at the given path."""


class IndexMismatchError(StoreError):
    """The index was built with a different embedding model, dimension or format."""


class IndexLockedError(StoreError):
    """Another process holds the index's write lock."""


class IngestError(RagkitError):
    """An ingest run could not continue."""


class QueryError(RagkitError):
    """A search or question could not be answered."""


class CitationError(QueryError):
    """A model's answer could not be parsed into the citation schema."""
