"""Guarantee 7: OLLAMA_API_KEY goes to the server and nowhere else.

No output, log record, error, ``--json`` document or repr contains it.
"""

from __future__ import annotations

import logging
import secrets
import socket
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hostile_corpus import write_prose_corpus
from reliability_helpers import clean_env, run_ragkit

from ragkit.cli import cli
from ragkit.embedding import Embedder
from ragkit.errors import RagkitError
from ragkit.ollama import AsyncClient, Client
from ragkit.pipeline import Pipeline
from ragkit.query import QueryEngine
from ragkit.store import Store
from ragkit.testing import FakeOllama


@pytest.fixture
def api_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """A key nothing else could print by chance, set as ``OLLAMA_API_KEY``."""
    key = "rk-" + secrets.token_hex(20)
    monkeypatch.setenv("OLLAMA_API_KEY", key)
    return key


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A few documents in ``docs/``; the working directory is their parent."""
    write_prose_corpus(tmp_path / "docs", 6, seed=7)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def down_url() -> Iterator[str]:
    """A loopback URL where nothing listens (the port stays ours meanwhile)."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    try:
        yield f"http://127.0.0.1:{holder.getsockname()[1]}"
    finally:
        holder.close()


class Transcript:
    """Everything ragkit said during a test: outputs of commands and log records."""

    def __init__(self) -> None:
        self.parts: list[tuple[str, str]] = []

    def add(self, label: str, text: str) -> None:
        self.parts.append((label, text))

    def run(self, *args: str) -> tuple[int, str]:
        """Run a command in-process; record stdout, stderr and any exception."""
        result = CliRunner().invoke(cli, list(args))
        self.add(f"{args} stdout", result.stdout)
        self.add(f"{args} stderr", result.stderr)
        if result.exc_info is not None and not isinstance(result.exception, SystemExit):
            self.add(
                f"{args} exception",
                "".join(traceback.format_exception(*result.exc_info)),
            )
        return result.exit_code, result.stdout

    def leaks(self, key: str) -> list[str]:
        """Where the key (or its secret half) showed up."""
        half = key[len(key) // 2 :]
        return [label for label, text in self.parts if key in text or half in text]


def log_text(records: list[logging.LogRecord]) -> str:
    lines = []
    for record in records:
        lines.append(record.getMessage())
        lines.append(repr(record.args))
        if record.exc_info:
            lines.append("".join(traceback.format_exception(*record.exc_info)))
    return "\n".join(lines)


def test_a_whole_session_of_commands_never_shows_the_key(
    api_key: str,
    project: Path,
    fake_ollama: FakeOllama,
    down_url: str,
    caplog: pytest.LogCaptureFixture,
    figures: dict[str, Any],
) -> None:
    caplog.set_level(logging.DEBUG)
    said = Transcript()
    host = ["--host", fake_ollama.url]
    commands: list[tuple[list[str], int | None]] = [
        ([*host, "index", "docs"], 0),
        ([*host, "--verbose", "index", "docs", "--rebuild", "--json"], 0),
        ([*host, "search", "rotation schedule"], 0),
        ([*host, "search", "rotation schedule", "--json"], 0),
        ([*host, "--verbose", "ask", "How often do keys rotate?"], 0),
        ([*host, "ask", "How often do keys rotate?", "--json"], 0),
        ([*host, "info", "--json"], 0),
        ([*host, "--verbose", "doctor", "--json"], None),
        ([*host, "models", "list", "--json"], 0),
        # The error paths: a missing model, then a server that is gone.
        ([*host, "--verbose", "ask", "keys?", "--model", "no-such-model"], 1),
        (
            [*host, "--verbose", "index", "docs", "--embed-model", "nope", "--rebuild"],
            1,
        ),
        (["--host", down_url, "--verbose", "index", "docs"], 1),
        (["--host", down_url, "--verbose", "ask", "How often do keys rotate?"], 1),
        (["--host", down_url, "--verbose", "search", "rotation", "--json"], 1),
    ]
    for args, expected in commands:
        code, _ = said.run(*args)
        assert expected is None or code == expected, (args, said.parts[-2:])
    said.add("log records", log_text(caplog.records))

    assert said.leaks(api_key) == []
    # The key was in use all along: every request carried it.
    sent = {r.headers.get("authorization") for r in fake_ollama.requests}
    assert sent == {f"Bearer {api_key}"}
    figures["secrets: commands scanned for the key"] = len(commands)


def test_the_console_script_with_verbose_tracebacks_never_shows_the_key(
    project: Path, fake_ollama: FakeOllama, down_url: str
) -> None:
    key = "rk-" + secrets.token_hex(20)
    env = clean_env(OLLAMA_API_KEY=key)
    said = Transcript()
    for args in (
        ["--host", fake_ollama.url, "--verbose", "index", "docs", "--json"],
        ["--host", fake_ollama.url, "--verbose", "ask", "keys?", "--model", "nope"],
        ["--host", down_url, "--verbose", "search", "rotation"],
    ):
        finished = run_ragkit(args, cwd=project, env=env)
        said.add(f"{args} stdout", finished.stdout)
        said.add(f"{args} stderr", finished.stderr)
    assert "Traceback" in said.parts[-1][1], "--verbose showed no traceback"
    assert said.leaks(key) == []


@pytest.mark.anyio
async def test_reprs_and_errors_of_library_objects_never_show_the_key(
    api_key: str, project: Path, fake_ollama: FakeOllama, down_url: str
) -> None:
    Pipeline().run("docs", host=fake_ollama.url)
    said = Transcript()
    explicit = "rk-" + secrets.token_hex(20)
    with (
        Client(fake_ollama.url, api_key=explicit) as client,
        Embedder(
            "nomic-embed-text", hosts=[fake_ollama.url], api_key=explicit
        ) as embedder,
        QueryEngine.open(".ragkit", host=fake_ollama.url) as engine,
        Store.open(".ragkit") as store,
    ):
        async with AsyncClient(fake_ollama.url, api_key=explicit) as async_client:
            for thing in (client, async_client, embedder, engine, store, engine.client):
                said.add(type(thing).__name__, f"{thing!r} {thing!s}")
            said.add("embedder config", repr(embedder.config))
    with Client(down_url, api_key=explicit, retries=0) as client:
        with pytest.raises(RagkitError) as caught:
            client.list()
    said.add("error", "".join(traceback.format_exception(caught.value)))
    said.add("error repr", repr(caught.value))
    leaks = said.leaks(api_key) + said.leaks(explicit)
    assert leaks == []
