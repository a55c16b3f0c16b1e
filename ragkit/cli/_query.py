"""``ragkit ask``, ``chat``, ``search`` and ``info``: questions from the shell."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import click

from ragkit.app import Index
from ragkit.cli._main import AppContext, cli, pass_app
from ragkit.cli._output import clean, echo_json, is_terminal, one_line, warn
from ragkit.errors import QueryError
from ragkit.query import (
    DEFAULT_CHAT_MODEL,
    FALLBACK_WARNING,
    SEARCH_MODES,
    AnswerDelta,
    AnswerEvent,
    AnswerRetry,
    ChatSession,
    SearchMode,
    answer_to_dict,
    citation_location,
    format_source,
    hit_to_dict,
)
from ragkit.types import Answer, Citation, Hit

F = TypeVar("F", bound=Callable[..., Any])

_SNIPPET_CHARS = 240
_HEADING_SEPARATOR = " › "


# -- shared options --------------------------------------------------------------


def _parse_where(
    ctx: click.Context, param: click.Parameter, values: Sequence[str]
) -> dict[str, object]:
    """``key=value`` pairs into metadata conditions; JSON values keep their type."""
    where: dict[str, object] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", ctx, param)
        if key in where:
            raise click.BadParameter(f"{key!r} is given twice", ctx, param)
        value: object = raw
        try:
            decoded = json.loads(raw)
        except ValueError:
            decoded = None
        # Only scalars: `--where year=2024` compares a number, `team=infra` text.
        if isinstance(decoded, str | int | float | bool):
            value = decoded
        where[key] = value
    return where


def _search_options(command: F) -> F:
    """``--k --mode --mmr --threshold --path --kind --where``, shared by commands."""
    options = [
        click.option(
            "-k",
            "--k",
            "k",
            type=click.IntRange(min=1),
            default=8,
            show_default=True,
            help="Passages to retrieve.",
        ),
        click.option(
            "--mode",
            type=click.Choice(SEARCH_MODES),
            default="hybrid",
            show_default=True,
            help="Vector search, word search (BM25), or both fused.",
        ),
        click.option(
            "--mmr",
            type=click.FloatRange(0.0, 1.0),
            default=None,
            help="Diversify results with MMR: 1 = relevance only, 0 = diversity only.",
        ),
        click.option(
            "--threshold",
            type=float,
            default=None,
            help="Drop passages below this cosine similarity (BM25 score with "
            "--mode lexical).",
        ),
        click.option(
            "--path",
            "paths",
            multiple=True,
            metavar="GLOB",
            help="Only documents matching this glob (repeatable; any may match).",
        ),
        click.option(
            "--kind",
            "kinds",
            multiple=True,
            metavar="KIND",
            help="Only this document kind or extension: md, pdf, html, ... "
            "(repeatable).",
        ),
        click.option(
            "--where",
            multiple=True,
            metavar="KEY=VALUE",
            callback=_parse_where,
            help="Only chunks whose metadata KEY equals VALUE (repeatable; all "
            "must hold).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _model_options(command: F) -> F:
    """``--model`` and ``--temperature``, shared by ``ask`` and ``chat``."""
    command = click.option(
        "--temperature",
        type=click.FloatRange(min=0.0),
        default=None,
        help="Sampling temperature of the chat model [default: 0].",
    )(command)
    return click.option(
        "--model",
        envvar="RAGKIT_CHAT_MODEL",
        show_envvar=True,
        default=DEFAULT_CHAT_MODEL,
        show_default=True,
        help="The Ollama chat model that answers.",
    )(command)


def _open_index(
    app: AppContext,
    *,
    model: str = DEFAULT_CHAT_MODEL,
    temperature: float | None = None,
) -> Index:
    options = {} if temperature is None else {"temperature": temperature}
    return Index.open(app.index, host=app.host, chat_model=model, options=options)


def _search_kwargs(
    *,
    k: int,
    mode: str,
    mmr: float | None,
    threshold: float | None,
    paths: tuple[str, ...],
    kinds: tuple[str, ...],
    where: dict[str, object],
) -> dict[str, Any]:
    """The search flags as keyword arguments of ``Index.search``/``ask``/``chat``."""
    search_mode: SearchMode = mode  # type: ignore[assignment]  # click.Choice
    return {
        "k": k,
        "mode": search_mode,
        "mmr": mmr,
        "threshold": threshold,
        "paths": paths,
        "kinds": kinds,
        "where": where,
    }


def _require_text(text: str, what: str) -> str:
    if not text.strip():
        raise click.UsageError(f"the {what} is empty; say what you are looking for")
    return text


# -- rendering -------------------------------------------------------------------


def _headings(path: Iterable[str]) -> str:
    return _HEADING_SEPARATOR.join(h.strip() for h in path if h.strip())


def _one_line(text: str, limit: int) -> str:
    flat = " ".join(clean(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _citation_header(citation: Citation) -> str:
    line = f"[{citation.source}] {citation_location(citation)}"
    headings = _headings(citation.heading_path)
    return one_line(f"{line}{_HEADING_SEPARATOR}{headings}" if headings else line)


def _print_citations(answer: Answer) -> None:
    verified = answer.verified_citations
    unverified = [c for c in answer.citations if not c.verified]
    if verified:
        click.echo("\nSources:")
        for citation in verified:
            click.echo(_citation_header(citation))
            click.echo(f'    "{_one_line(citation.quote, 400)}"')
    if unverified:
        title = "Unverified citations (not found in the sources; do not rely on them):"
        click.echo("\n" + click.style(title, fg="yellow"))
        for citation in unverified:
            click.echo(
                click.style("UNVERIFIED ", fg="yellow")
                + f"{_citation_header(citation)}: {clean(citation.reason)}"
            )
            click.echo(f'    claimed quote: "{_one_line(citation.quote, 400)}"')


def _print_warnings(answer: Answer) -> None:
    for message in answer.warnings:
        warn(f"warning: {message}")


def _print_events(events: Iterable[AnswerEvent]) -> Answer:
    """Print deltas as they come; return the final answer."""
    answer: Answer | None = None
    written = False
    for event in events:
        if isinstance(event, AnswerDelta):
            click.echo(clean(event.text), nl=False)
            written = written or bool(event.text)
        elif isinstance(event, AnswerRetry):
            if written:
                click.echo()
                written = False
            warn(f"the model's reply was not valid ({event.reason}); asking again")
        else:
            answer = event
    assert answer is not None  # every event stream ends with an Answer
    if FALLBACK_WARNING in answer.warnings or not written:
        # The fallback text (raw reply and sources) or a reply with no
        # streamed answer field was not shown yet.
        if written:
            click.echo()
        click.echo(clean(answer.text), nl=False)
    click.echo()
    return answer


def _print_answer(answer: Answer) -> None:
    click.echo(clean(answer.text))


def _print_sources(hits: Sequence[Hit]) -> None:
    if not hits:
        click.echo("No sources yet: ask a question first.")
        return
    for number, hit in enumerate(hits, 1):
        click.echo(one_line(format_source(number, hit)))
        click.echo(f"    {_one_line(hit.chunk.text, _SNIPPET_CHARS)}")


# -- commands --------------------------------------------------------------------


@cli.command("ask")
@click.argument("question")
@_model_options
@_search_options
@click.option(
    "--stream/--no-stream",
    default=None,
    help="Show the answer as it is written [default: on a terminal].",
)
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")
@pass_app
def ask(
    app: AppContext,
    question: str,
    model: str,
    temperature: float | None,
    k: int,
    mode: str,
    mmr: float | None,
    threshold: float | None,
    paths: tuple[str, ...],
    kinds: tuple[str, ...],
    where: dict[str, object],
    stream: bool | None,
    as_json: bool,
) -> None:
    """Answer a question from the indexed documents, with checked citations.

    Each citation is checked against the passage it names: verified ones are
    listed as sources with the lines of the quote, the rest are flagged as
    unverified.

    \b
    Examples:
      ragkit ask "How often are API keys rotated?"
      ragkit ask "What changed in 2.0?" --kind md --path "docs/**"
      ragkit ask "Who approves access?" --model qwen3 --json
    """
    _require_text(question, "question")
    if stream is None:
        stream = not as_json and is_terminal(sys.stdout)
    search = _search_kwargs(
        k=k,
        mode=mode,
        mmr=mmr,
        threshold=threshold,
        paths=paths,
        kinds=kinds,
        where=where,
    )
    with _open_index(app, model=model, temperature=temperature) as index:
        if as_json:
            answer = index.ask(question, stream=bool(stream), **search)
            echo_json(answer_to_dict(answer))
            return
        if stream:
            answer = _print_events(index.ask_stream(question, **search))
        else:
            answer = index.ask(question, **search)
            _print_answer(answer)
    _print_citations(answer)
    _print_warnings(answer)


_CHAT_HELP = """\
Commands: /sources (passages of the last answer), /reset (forget the
conversation), /exit (or Ctrl-D) to leave, /help."""


@cli.command("chat")
@_model_options
@_search_options
@pass_app
def chat(
    app: AppContext,
    model: str,
    temperature: float | None,
    k: int,
    mode: str,
    mmr: float | None,
    threshold: float | None,
    paths: tuple[str, ...],
    kinds: tuple[str, ...],
    where: dict[str, object],
) -> None:
    """Talk with your documents: follow-up questions keep their context.

    Reads one message per line from standard input. Each follow-up is
    rewritten into a standalone question before retrieval, and the
    conversation is sent along with it.

    \b
    Commands:
      /sources   the passages behind the last answer
      /reset     forget the conversation
      /exit      leave (so does Ctrl-D)

    \b
    Examples:
      ragkit chat
      ragkit chat --model qwen3 --kind pdf
    """
    interactive = is_terminal(sys.stdin)
    with _open_index(app, model=model, temperature=temperature) as index:
        session = index.chat(
            **_search_kwargs(
                k=k,
                mode=mode,
                mmr=mmr,
                threshold=threshold,
                paths=paths,
                kinds=kinds,
                where=where,
            )
        )
        if interactive:
            warn(f"ragkit chat with {model}. {_CHAT_HELP}")
        _repl(session, sys.stdin, interactive)


def _repl(session: ChatSession, stdin: Any, interactive: bool) -> None:
    while True:
        if interactive:
            click.echo("> ", nl=False, err=True)
        line = stdin.readline()
        if not line:
            if interactive:
                click.echo(err=True)
            return
        message = line.strip()
        if not message:
            continue
        if message.startswith("/"):
            if not _slash_command(session, message):
                return
            continue
        try:
            answer = _print_events(session.ask_stream(message))
        except QueryError as exc:
            # A question that cannot be answered does not end the conversation.
            warn(f"error: {exc}")
            continue
        _print_citations(answer)
        _print_warnings(answer)
        click.echo()


def _slash_command(session: ChatSession, command: str) -> bool:
    """Run a slash command; False when the conversation should end."""
    name = command.split()[0].lower()
    if name in ("/exit", "/quit"):
        return False
    if name == "/reset":
        session.reset()
        click.echo("Conversation cleared.")
    elif name == "/sources":
        _print_sources(session.sources)
    elif name == "/help":
        click.echo(_CHAT_HELP)
    else:
        warn(f"unknown command {clean(name)}; {_CHAT_HELP}")
    return True


@cli.command("search")
@click.argument("query")
@_search_options
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@pass_app
def search(
    app: AppContext,
    query: str,
    k: int,
    mode: str,
    mmr: float | None,
    threshold: float | None,
    paths: tuple[str, ...],
    kinds: tuple[str, ...],
    where: dict[str, object],
    as_json: bool,
) -> None:
    """Show the passages a question would be answered from (no chat model).

    Each result shows its rank, score (fused rank score in hybrid mode,
    cosine similarity in vector mode, BM25 in lexical mode), location and
    the start of its text.

    \b
    Examples:
      ragkit search "key rotation"
      ragkit search "deploy rollback" --mode lexical --k 3
      ragkit search "on-call" --path "operations/**" --json
    """
    _require_text(query, "query")
    with _open_index(app) as index:
        hits = index.search(
            query,
            **_search_kwargs(
                k=k,
                mode=mode,
                mmr=mmr,
                threshold=threshold,
                paths=paths,
                kinds=kinds,
                where=where,
            ),
        )
    if as_json:
        echo_json([hit_to_dict(hit, rank) for rank, hit in enumerate(hits, 1)])
        return
    if not hits:
        warn("no passage matched")
        return
    for rank, hit in enumerate(hits, 1):
        headings = _headings(hit.chunk.heading_path)
        where_ = hit.chunk.location + (
            f"{_HEADING_SEPARATOR}{headings}" if headings else ""
        )
        click.echo(f"{rank:>2}. {hit.score:.4f}  {one_line(where_)}")
        click.echo(f"    {_one_line(hit.chunk.text, _SNIPPET_CHARS)}")


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


@cli.command("info")
@click.option("--json", "as_json", is_flag=True, help="Print the facts as JSON.")
@pass_app
def info(app: AppContext, as_json: bool) -> None:
    """Describe the index: documents, chunks, model, size, last update.

    \b
    Examples:
      ragkit info
      ragkit --index other/.ragkit info --json
    """
    with Index.open(app.index, host=app.host) as index:
        stats = index.stats()
        manifest = index.manifest
    data: dict[str, Any] = {
        "index": stats.path,
        "documents": stats.documents,
        "chunks": stats.chunks,
        "vectors": stats.vectors,
        "embed_model": stats.embed_model,
        "model_digest": manifest.model_digest,
        "dimension": stats.dimension,
        "metric": manifest.metric,
        "index_type": stats.index_type,
        "index_type_requested": manifest.index_type,
        "size_bytes": stats.total_bytes,
        "files": dict(stats.file_sizes),
        "updated_at": stats.updated_at,
        "created_at": manifest.created_at,
        "pipeline": manifest.pipeline,
        "document_prefix": manifest.document_prefix,
        "query_prefix": manifest.query_prefix,
        "chunking": dict(manifest.chunking),
        "format_version": manifest.format_version,
    }
    if as_json:
        echo_json(data)
        return
    index_type = stats.index_type
    if manifest.index_type != stats.index_type:
        index_type += f" ({manifest.index_type})"
    rows = [
        ("index", str(stats.path)),
        ("documents", str(stats.documents)),
        ("chunks", str(stats.chunks)),
        (
            "embedding",
            f"{stats.embed_model} ({stats.dimension} dimensions, {manifest.metric})",
        ),
        ("index type", index_type),
        ("size on disk", _size(stats.total_bytes)),
        ("last update", stats.updated_at or "never"),
        ("created", manifest.created_at),
        ("pipeline", manifest.pipeline or "-"),
        (
            "prefixes",
            f"document {json.dumps(manifest.document_prefix)}, "
            f"query {json.dumps(manifest.query_prefix)}",
        ),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        click.echo(f"{name:<{width}}  {clean(value)}")
