"""``ragkit doctor``: check the server, the models, the embeddings and the index."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import click

from ragkit.cli._main import AppContext, cli, pass_app
from ragkit.cli._output import echo_json, say
from ragkit.errors import (
    IndexMismatchError,
    IndexNotFoundError,
    ModelNotFoundError,
    OllamaConnectionError,
    OllamaError,
    OllamaTimeoutError,
    ResponseError,
    StoreError,
)
from ragkit.ollama import Client
from ragkit.store import Store, VectorIndexStatus

__all__ = [
    "BATCH_TOLERANCE",
    "DEFAULT_CHAT_MODEL",
    "DEFAULT_EMBED_MODEL",
    "Check",
    "check_batch_consistency",
    "doctor",
    "run_checks",
]

DEFAULT_EMBED_MODEL = "nomic-embed-text"
DEFAULT_CHAT_MODEL = "llama3.2"
BATCH_TOLERANCE = 1e-4
"""Largest element-wise difference allowed between a text's vector embedded
alone and inside a batch; past it, search results depend on batch size."""

_PROBE_TEXTS = (
    "The quick brown fox jumps over the lazy dog.",
    "Rotate the API keys every ninety days.",
    "ragkit doctor checks that batching does not change vectors.",
)
_FAISS_FILE = "vectors.faiss"
_MARKS = {"ok": "✓", "fail": "✗", "skip": "-"}

Status = Literal["ok", "fail", "skip"]


@dataclass
class Check:
    """The outcome of one doctor check.

    Attributes:
        name: What was checked, e.g. ``server`` or ``embedding model``.
        status: ``ok``, ``fail``, or ``skip`` (could not be checked; not a failure).
        message: What was found.
        hint: What to do about it (empty when nothing needs doing).
        details: Figures for ``--json`` (host, version, drift, counts, ...).
    """

    name: str
    status: Status
    message: str
    hint: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether the check passed."""
        return self.status == "ok"

    def line(self) -> str:
        """The check as one line: mark, name, message and hint."""
        text = f"{_MARKS[self.status]} {self.name}: {self.message}"
        return f"{text}; {self.hint}" if self.hint else text


def _max_difference(
    alone: Sequence[Sequence[float]], batch: Sequence[Sequence[float]]
) -> float:
    if len(alone) != len(batch) or any(
        len(a) != len(b) for a, b in zip(alone, batch, strict=False)
    ):
        return float("inf")
    pairs = zip(alone, batch, strict=True)
    return max(
        (abs(x - y) for a, b in pairs for x, y in zip(a, b, strict=True)),
        default=0.0,
    )


def check_batch_consistency(
    client: Client, model: str, texts: Sequence[str] = _PROBE_TEXTS
) -> Check:
    """Embed ``texts`` one by one and as one batch, and compare the vectors.

    Some servers and models give slightly different vectors depending on the
    batch a text is in; an index built in batches would then not match the
    queries embedded alone.

    Args:
        client: A client for the server.
        model: The embedding model.
        texts: The probe texts (at least one).

    Returns:
        ``ok`` when the largest element-wise difference is below
        :data:`BATCH_TOLERANCE`, else ``fail``.

    Raises:
        OllamaError: The server failed to embed.
    """
    alone = [client.embed(model, text).embeddings[0] for text in texts]
    batch = client.embed(model, list(texts)).embeddings
    drift = _max_difference(alone, batch)
    details = {
        "model": model,
        "texts": len(texts),
        "max_abs_difference": drift,
        "tolerance": BATCH_TOLERANCE,
        "dimension": len(alone[0]) if alone else 0,
    }
    shown = "vectors differ in shape" if drift == float("inf") else f"{drift:.1e}"
    message = (
        f"{len(texts)} texts embedded alone and in one batch: max |difference| "
        f"{shown} (limit {BATCH_TOLERANCE:.0e})"
    )
    if drift < BATCH_TOLERANCE:
        return Check("batch consistency", "ok", message, details=details)
    return Check(
        "batch consistency",
        "fail",
        message,
        hint=f"vectors from {model} depend on batching on this server; update "
        "Ollama, or try another embedding model",
        details=details,
    )


def _server_check(client: Client) -> Check:
    try:
        version = client.version().version
    except OllamaConnectionError as exc:
        return Check(
            "server",
            "fail",
            f"cannot connect to Ollama at {client.host}",
            hint="start it with `ollama serve`, or set OLLAMA_HOST (or --host) "
            "to where it runs",
            details={"host": client.host, "error": str(exc)},
        )
    except OllamaTimeoutError as exc:
        return Check(
            "server",
            "fail",
            f"Ollama at {client.host} did not answer in time",
            hint="check that the server is not stuck or overloaded",
            details={"host": client.host, "error": str(exc)},
        )
    except OllamaError as exc:
        return Check(
            "server",
            "fail",
            f"{client.host} did not answer like Ollama: {exc}",
            hint="check that OLLAMA_HOST (or --host) points at an Ollama server",
            details={"host": client.host, "error": str(exc)},
        )
    return Check(
        "server",
        "ok",
        f"Ollama {version or '(unknown version)'} at {client.host}",
        details={"host": client.host, "version": version},
    )


def _model_check(client: Client, role: str, model: str, capability: str) -> Check:
    name = f"{role} model"
    pull = f"ragkit models pull {model}"
    try:
        info = client.show(model)
    except ModelNotFoundError:
        return Check(
            name,
            "fail",
            f"{model} is not installed",
            hint=f"run `{pull}`",
            details={"model": model, "present": False, "pull": pull},
        )
    except ResponseError as exc:
        return Check(name, "fail", f"{model}: {exc}", details={"model": model})
    details = {
        "model": model,
        "present": True,
        "capabilities": info.capabilities,
        "parameter_size": info.details.parameter_size,
    }
    if info.capabilities and capability not in info.capabilities:
        return Check(
            name,
            "fail",
            f"{model} cannot be used as the {role} model "
            f"(capabilities: {', '.join(info.capabilities)})",
            hint=f"choose a model with the {capability!r} capability "
            f"(`--{role}-model NAME`)",
            details=details,
        )
    size = info.details.parameter_size
    return Check(
        name,
        "ok",
        f"{model} is installed" + (f" ({size})" if size else ""),
        details=details,
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _index_checks(
    store: Store, explicit_model: str | None, dimension: int | None
) -> list[Check]:
    stats = store.stats()
    where = str(store.path)
    details = {
        "path": where,
        "documents": stats.documents,
        "chunks": stats.chunks,
        "embed_model": stats.embed_model,
        "dimension": stats.dimension,
        "generation": stats.generation,
    }
    message = (
        f"{where}: {_count(stats.documents, 'document')}, "
        f"{_count(stats.chunks, 'chunk')}, {stats.embed_model} ({stats.dimension}-d)"
    )
    index = Check("index", "ok", message, details=details)
    try:
        store.check_compatible(embed_model=explicit_model, dimension=dimension)
    except IndexMismatchError as exc:
        index = Check(
            "index",
            "fail",
            str(exc).partition("; ")[0],
            hint=str(exc).partition("; ")[2],
            details=details,
        )
    return [index, _vectors_check(store)]


def _tombstone_note(status: VectorIndexStatus) -> str:
    if not status.tombstones:
        return ""
    return f"; tombstones: {status.tombstones} of {status.size} entries"


def _vectors_check(store: Store) -> Check:
    """Check ``vectors.faiss`` against meta.sqlite, and bring it up to date."""
    before = store.vector_index_status()
    generation = before.current_generation
    if not before.stale and not before.rebuild:
        return Check(
            _FAISS_FILE,
            "ok",
            f"up to date (generation {generation}{_tombstone_note(before)})",
            details={"fresh": True, "generation": generation, **asdict(before)},
        )
    existed = store.path is not None and (store.path / _FAISS_FILE).exists()
    try:
        store.sync()
        after = store.vector_index_status()
    except (StoreError, OSError, RuntimeError) as exc:
        return Check(
            _FAISS_FILE,
            "fail",
            f"cannot be rebuilt: {exc}",
            hint="rebuild the index with `ragkit index <folder> --rebuild`",
            details={"fresh": False, **asdict(before)},
        )
    details: dict[str, Any] = {
        "fresh": False,
        "generation": after.current_generation,
        "before": asdict(before),
        "after": asdict(after),
    }
    if after.stale or after.rebuild:
        return Check(
            _FAISS_FILE,
            "fail",
            f"is stale and could not be written ({after.reason or 'unknown cause'})",
            hint=f"check that {store.path} is writable, then run `ragkit index`",
            details=details,
        )
    done = f"from meta.sqlite (generation {after.current_generation})"
    if not existed:
        state = f"was missing; rebuilt {done}"
    elif before.kind is None:
        state = f"was unreadable or damaged; rebuilt {done}"
    elif not before.rebuild:
        state = (
            f"was stale (generation {before.built_generation}); brought up to "
            f"date {done} without a rebuild"
        )
    elif before.stale:
        state = f"was stale ({before.reason}); rebuilt {done}"
    else:
        state = f"rebuilt to drop tombstones ({before.reason}) {done}"
    return Check(_FAISS_FILE, "ok", state + _tombstone_note(after), details=details)


@contextlib.contextmanager
def _open_index(path: Path) -> Iterator[Store | Check]:
    try:
        store = Store.open(path)
    except IndexNotFoundError:
        yield Check(
            "index",
            "skip",
            f"no index at {path}",
            hint="build one with `ragkit index <folder>`",
            details={"path": str(path)},
        )
        return
    except StoreError as exc:
        yield Check(
            "index",
            "fail",
            str(exc),
            hint="rebuild it with `ragkit index <folder> --rebuild`",
            details={"path": str(path)},
        )
        return
    with store:
        yield store


def run_checks(
    app: AppContext, *, embed_model: str | None, chat_model: str
) -> list[Check]:
    """Run every doctor check and return them in display order.

    Args:
        app: The CLI state (host, index path).
        embed_model: The embedding model given on the command line, if any;
            otherwise the index's, else :data:`DEFAULT_EMBED_MODEL`.
        chat_model: The chat model to look for.

    Returns:
        The checks: server, embedding model, chat model, batch consistency,
        index and its FAISS file.
    """
    checks: list[Check] = []
    with contextlib.ExitStack() as stack:
        opened = stack.enter_context(_open_index(app.index))
        store = opened if isinstance(opened, Store) else None
        index_model = store.manifest.embed_model if store is not None else None
        model = embed_model or index_model or DEFAULT_EMBED_MODEL
        # One quick answer beats retries here: doctor is run to find out
        # whether the server is up.
        client = stack.enter_context(Client(app.host, retries=0))
        server = _server_check(client)
        checks.append(server)
        dimension = None
        if server.ok:
            embed = _model_check(client, "embed", model, "embedding")
            checks += [embed, _model_check(client, "chat", chat_model, "completion")]
            if embed.ok:
                try:
                    batch = check_batch_consistency(client, model)
                except OllamaError as exc:
                    batch = Check("batch consistency", "fail", str(exc))
                checks.append(batch)
                dimension = batch.details.get("dimension") or None
            else:
                checks.append(
                    Check("batch consistency", "skip", f"{model} is not available")
                )
        else:
            reason = "the server is unreachable"
            checks += [
                Check("embed model", "skip", f"{model}: {reason}"),
                Check("chat model", "skip", f"{chat_model}: {reason}"),
                Check("batch consistency", "skip", reason),
            ]
        if store is None:
            assert isinstance(opened, Check)
            checks.append(opened)
        else:
            try:
                checks += _index_checks(store, embed_model, dimension)
            except StoreError as exc:
                checks.append(Check("index", "fail", str(exc)))
    return checks


@cli.command("doctor")
@click.option(
    "--embed-model",
    metavar="NAME",
    help=f"Embedding model to check (default: the index's, else "
    f"{DEFAULT_EMBED_MODEL}).",
)
@click.option(
    "--chat-model",
    metavar="NAME",
    default=DEFAULT_CHAT_MODEL,
    show_default=True,
    help="Chat model to check.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
@pass_app
@click.pass_context
def doctor(
    ctx: click.Context,
    app: AppContext,
    embed_model: str | None,
    chat_model: str,
    as_json: bool,
) -> None:
    """Check that ragkit can work: server, models, embeddings and the index.

    Each check prints one line (✓ passed, ✗ failed, - skipped) with what to
    do next. The exit status is 0 when nothing failed, 1 otherwise.

    \b
    Examples:
      ragkit doctor
      ragkit doctor --chat-model qwen3 --embed-model mxbai-embed-large
      ragkit --index ~/notes/.ragkit doctor --json
    """
    checks = run_checks(app, embed_model=embed_model, chat_model=chat_model)
    failed = [check for check in checks if check.status == "fail"]
    if as_json:
        echo_json(
            {
                "ok": not failed,
                "host": checks[0].details.get("host"),
                "index": os.fspath(app.index),
                "checks": [asdict(check) for check in checks],
            }
        )
    else:
        for check in checks:
            say(check.line())
    if failed:
        ctx.exit(1)
