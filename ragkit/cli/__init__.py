"""The ``ragkit`` command line: a thin shell that parses, calls the library, prints."""

from __future__ import annotations

# Each command module registers its commands on the root group when imported.
import ragkit.cli._doctor  # noqa: F401
import ragkit.cli._fake  # noqa: F401
import ragkit.cli._index  # noqa: F401
import ragkit.cli._models  # noqa: F401
import ragkit.cli._query  # noqa: F401
from ragkit.cli._main import cli, main

__all__ = ["cli", "main"]
