"""The root ``ragkit`` group, its shared options, and where errors become exits."""

from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from ragkit.cli._output import one_line, warn
from ragkit.errors import RagkitError

__all__ = ["AppContext", "cli", "main", "pass_app"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


@dataclass
class AppContext:
    """State shared by every command: where the index is, how loud to be."""

    index: Path
    host: str | None
    verbose: bool


pass_app = click.make_pass_decorator(AppContext)


class RagkitGroup(click.Group):
    """A group that turns every :class:`RagkitError` into one clear line (exit 1)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RagkitError as exc:
            app = ctx.find_object(AppContext)
            if app is not None and app.verbose:
                warn(traceback.format_exc().rstrip())
            raise click.ClickException(one_line(str(exc))) from exc


@click.group(cls=RagkitGroup, context_settings={"auto_envvar_prefix": "RAGKIT"})
@click.option(
    "--index",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path(".ragkit"),
    show_default=True,
    help="The index directory.",
)
@click.option(
    "--host",
    default=None,
    help="Ollama server (default: OLLAMA_HOST, else http://127.0.0.1:11434).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log details and show tracebacks.")
@click.version_option(package_name="ragkit")
@click.pass_context
def cli(ctx: click.Context, index: Path, host: str | None, verbose: bool) -> None:
    """ragkit: index folders and ask questions about them through Ollama.

    \b
    Examples:
      ragkit index docs/
      ragkit ask "How do I rotate the API keys?"
      ragkit search "rotation schedule" --json
    """
    _route_logs(verbose)
    ctx.obj = AppContext(index=index, host=host, verbose=verbose)


class _StderrHandler(logging.Handler):
    """Log records as lines on the current stderr (looked up at each write)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            warn(self.format(record))
        except Exception:  # a broken stderr must not break the command
            self.handleError(record)


def _route_logs(verbose: bool) -> None:
    # The library only logs; the CLI decides what reaches the terminal:
    # warnings as one plain line each, everything with --verbose.
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _StderrHandler):
            root.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(
        logging.Formatter(
            "%(levelname)s %(name)s: %(message)s" if verbose else "%(message)s"
        )
    )
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.WARNING)


def main() -> None:
    """Entry point of the ``ragkit`` console script."""
    cli(prog_name="ragkit")
