"""``ragkit fake-ollama``: run FakeOllama in the foreground until Ctrl-C."""

from __future__ import annotations

import ipaddress
import signal
import threading
from types import FrameType

import click

from ragkit.cli._main import cli
from ragkit.cli._output import warn


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@cli.command("fake-ollama")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=11434,
    show_default=True,
    help="Port to bind (0 picks a free one).",
)
@click.option(
    "--cost-request-ms",
    type=click.FloatRange(min=0),
    default=0.0,
    help="Simulated milliseconds per request.",
)
@click.option(
    "--cost-input-ms",
    type=click.FloatRange(min=0),
    default=0.0,
    help="Simulated milliseconds per embedded input.",
)
@click.option(
    "--cost-token-ms",
    type=click.FloatRange(min=0),
    default=0.0,
    help="Simulated milliseconds per generated token.",
)
@click.option(
    "--parallel",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Requests each chat model serves at once (like OLLAMA_NUM_PARALLEL).",
)
@click.option(
    "--allow-remote",
    is_flag=True,
    help="Allow binding a non-loopback address (anyone who can reach it can use it).",
)
def fake_ollama(
    host: str,
    port: int,
    cost_request_ms: float,
    cost_input_ms: float,
    cost_token_ms: float,
    parallel: int,
    allow_remote: bool,
) -> None:
    """Run FakeOllama, an Ollama-protocol server with stand-in models.

    It answers like a real Ollama (embeddings, chat, pull, ...) with
    deterministic models, for tests, CI and offline demos. Ctrl-C stops it.

    \b
    Examples:
      ragkit fake-ollama
      ragkit fake-ollama --port 0 --cost-input-ms 5 --parallel 4
      OLLAMA_HOST=http://127.0.0.1:11434 ragkit search "rotation"
    """
    if not _is_loopback(host) and not allow_remote:
        raise click.UsageError(
            f"refusing to bind {host}: FakeOllama serves loopback only; "
            "pass --allow-remote to expose it"
        )
    # Imported here: the other commands need not load the server's code.
    from ragkit.testing import CostModel, FakeOllama

    cost = CostModel(
        per_request_ms=cost_request_ms,
        per_input_ms=cost_input_ms,
        per_token_ms=cost_token_ms,
    )
    server = FakeOllama(host=host, port=port, cost=cost, num_parallel=parallel)
    try:
        server.start()
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from exc
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    try:
        warn(
            f"FakeOllama listening on {server.url} (stand-in models); "
            f"point ragkit or ollama at it with OLLAMA_HOST={server.url}"
        )
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.stop()
