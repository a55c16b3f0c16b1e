"""``ragkit index``: bring an index up to date with folders of documents."""

from __future__ import annotations

from pathlib import Path

import click

from ragkit.app import Index
from ragkit.cli._main import AppContext, cli, pass_app
from ragkit.cli._output import echo_json, is_terminal, one_line, say, warn
from ragkit.pipeline import DEFAULT_RECIPE, IngestProgress, IngestReport, Pipeline

__all__ = ["EXIT_SKIPPED", "index"]

EXIT_SKIPPED = 3
"""Exit status of ``ragkit index --strict`` when some files were skipped."""


@cli.command()
@click.argument(
    "paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path)
)
@click.option(
    "-p",
    "--pipeline",
    default=DEFAULT_RECIPE,
    show_default=True,
    help="Recipe name (general, docs, papers, code) or a .toml file.",
)
@click.option("--embed-model", help="Embedding model (overrides the recipe).")
@click.option(
    "--embed-host",
    "embed_hosts",
    multiple=True,
    help="Ollama server to embed on; repeat to spread the work over several.",
)
@click.option("--batch-size", type=click.IntRange(min=1), help="Inputs per request.")
@click.option("--rebuild", is_flag=True, help="Start the index over.")
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
@click.option(
    "--strict",
    is_flag=True,
    help=f"Exit with status {EXIT_SKIPPED} when any file was skipped.",
)
@click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=0.0,
    help="Seconds to wait for another run writing the same index.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_app
def index(
    app: AppContext,
    paths: tuple[Path, ...],
    pipeline: str,
    embed_model: str | None,
    embed_hosts: tuple[str, ...],
    batch_size: int | None,
    rebuild: bool,
    dry_run: bool,
    strict: bool,
    wait: float,
    as_json: bool,
) -> None:
    """Index folders (or files) into the index; later runs redo only what changed.

    \b
    Examples:
      ragkit index docs/
      ragkit index docs/ notes/ --pipeline docs
      ragkit index papers/ -p papers --embed-host gpu1:11434 --embed-host gpu2:11434
      ragkit index docs/ --dry-run
    """
    if rebuild and dry_run:
        raise click.UsageError("--rebuild and --dry-run cannot be used together")
    chosen = Pipeline.load(pipeline)
    changes: dict[str, object] = {}
    if embed_model:
        changes["model"] = embed_model
    if embed_hosts:
        changes["hosts"] = embed_hosts
    if batch_size:
        changes["batch_size"] = batch_size
    if changes:
        chosen = chosen.with_embedding(**changes)
    if dry_run:
        report = Index.preview(app.index, paths, pipeline=chosen)
    else:
        status = _StatusLine() if is_terminal() and not as_json else None
        try:
            with Index.create(
                app.index,
                pipeline=chosen,
                host=app.host,
                exist_ok=True,
                overwrite=rebuild,
                wait=wait,
            ) as opened:
                report = opened.add_files(
                    paths, progress=status.update if status else None
                )
        finally:
            if status:
                status.close()
    if as_json:
        echo_json(report.to_dict())
    else:
        _print_summary(report)
    if strict and report.skipped:
        click.get_current_context().exit(EXIT_SKIPPED)


class _StatusLine:
    """One self-rewriting line on stderr while a run goes: files, chunks, time left."""

    def __init__(self) -> None:
        self._last = 0.0
        self._width = 0

    def update(self, event: IngestProgress) -> None:
        if event.elapsed - self._last < 0.1 and event.phase != "done":
            return
        self._last = event.elapsed
        rate = event.chunks_embedded / event.elapsed if event.elapsed > 0 else 0.0
        files = f"{event.files_seen}" + (
            f"/{event.files_total}" if event.files_total is not None else ""
        )
        left = event.seconds_left()
        text = (
            f"{event.phase}: {files} files, "
            f"{event.chunks_embedded}/{event.chunks_queued} chunks embedded "
            f"({rate:.0f}/s), {event.chunks_written} written, "
            f"{event.elapsed:.1f}s"
            + (f", ~{_duration(left)} left" if left is not None else "")
        )
        padding = " " * max(0, self._width - len(text))
        self._width = len(text)
        click.echo(f"\r{text}{padding}", nl=False, err=True)

    def close(self) -> None:
        if self._width:
            click.echo("\r" + " " * self._width + "\r", nl=False, err=True)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _print_summary(report: IngestReport) -> None:
    verb = "Would index" if report.dry_run else "Indexed"
    files = len(report.added) + len(report.changed)
    index = one_line(str(report.index))
    say(f"{verb} {files} file(s) into {index} in {report.seconds:.1f}s")
    say(
        f"  added {len(report.added)}, changed {len(report.changed)}, "
        f"removed {len(report.removed)}, unchanged {report.unchanged}, "
        f"skipped {len(report.skipped)}"
        + (f", unsupported {report.unsupported}" if report.unsupported else "")
    )
    if report.dry_run:
        for label, paths in (
            ("add", report.added),
            ("change", report.changed),
            ("remove", report.removed),
        ):
            for path in paths:
                say(f"  would {label}: {one_line(path)}")
    else:
        say(
            f"  {report.chunks} chunks written; {report.embedded} embedded in "
            f"{report.requests} request(s), {report.reused} reused from the cache"
        )
    for skipped in report.skipped:
        warn(f"skipped {one_line(skipped.path)}: {skipped.reason}")
    for problem in report.truncated:
        warn(f"truncated {one_line(problem.location)}: {problem.reason}")
    for problem in report.failed:
        warn(f"not embedded {one_line(problem.location)}: {problem.reason}")
