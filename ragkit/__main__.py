"""``python -m ragkit``: the same command line as the ``ragkit`` script."""

from __future__ import annotations

from ragkit.cli import main

if __name__ == "__main__":
    main()
