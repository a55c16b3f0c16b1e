"""Guarantee 8: reading waits for a stalled server, memory stays flat, timeouts hold.

Also: the client gives up on a silent server and FakeOllama stays on loopback.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hostile_corpus import write_prose_corpus
from reliability_helpers import RagkitProcess, run_ragkit, wait_for

from ragkit.cli import cli
from ragkit.embedding import Embedder
from ragkit.errors import OllamaConnectionError, OllamaTimeoutError
from ragkit.ollama import Client
from ragkit.testing import DEFAULT_MODELS, FakeModel, FakeOllama

SMALL, LARGE = 100, 1000
"""Files in the two corpora whose runs' peak memory is compared."""

MAX_GROWTH = 1.5
"""Peak memory of the ten times larger run, relative to the small one."""

MAX_READ_WHILE_STALLED = 0.25
"""Share of the corpus a run may read while the server answers nothing."""

# A 16-dimension model keeps the index itself tiny, so what the comparison
# measures is the ingest machinery (queues, pending documents, results),
# not the vectors every index must hold.
TINY = FakeModel(
    name="tiny-embed",
    kind="embedding",
    dimension=16,
    context_length=2048,
    family="bert",
    parameter_size="1M",
    quantization_level="F16",
)


def bytes_read(pid: int) -> int:
    """Bytes the process has read through read() calls so far (Linux)."""
    with open(f"/proc/{pid}/io") as fh:
        for line in fh:
            if line.startswith("rchar:"):
                return int(line.split()[1])
    raise AssertionError("no rchar in /proc/<pid>/io")


def settled(read: Callable[[], int], *, timeout: float = 60.0) -> int:
    """Poll ``read`` until two looks 0.2 s apart agree; that value."""
    deadline = time.monotonic() + timeout
    last = read()
    while True:
        time.sleep(0.2)
        current = read()
        if current == last:
            return current
        assert time.monotonic() < deadline, "the process never stopped reading"
        last = current


@pytest.mark.skipif(
    not Path("/proc/self/io").exists(), reason="needs Linux /proc/<pid>/io"
)
def test_reading_waits_for_a_stalled_server_and_memory_stays_flat(
    tmp_path: Path, fake_ollama_factory: Any, figures: dict[str, Any]
) -> None:
    server: FakeOllama = fake_ollama_factory(models=[*DEFAULT_MODELS, TINY])
    write_prose_corpus(tmp_path / "small", SMALL, seed=1, paragraphs=4)
    large = write_prose_corpus(tmp_path / "large", LARGE, seed=2, paragraphs=4)
    corpus_bytes = sum(path.stat().st_size for path in large)

    def args(folder: str) -> list[str]:
        return ["--host", server.url, "--index", f"index-{folder}", "index", folder]

    options = ["--embed-model", "tiny-embed", "--batch-size", "16"]
    small_run = run_ragkit([*args("small"), *options], cwd=tmp_path)
    assert small_run.returncode == 0, small_run.stderr

    # The large run starts against a server that holds every request: a
    # bounded pipeline reads a few batches ahead and then waits.
    server.pause()
    try:
        process = RagkitProcess([*args("large"), *options], cwd=tmp_path)
        wait_for(lambda: server.stats.active >= 1)
        first = bytes_read(process.pid)
        read_while_stalled = settled(lambda: bytes_read(process.pid)) - first
    finally:
        server.resume()
    large_run = process.wait()

    assert large_run.returncode == 0, large_run.stderr
    assert read_while_stalled < MAX_READ_WHILE_STALLED * corpus_bytes
    growth = large_run.max_rss_kib / small_run.max_rss_kib
    assert growth < MAX_GROWTH, (small_run.max_rss_kib, large_run.max_rss_kib)
    figures["resources: corpus read while the server stalled"] = (
        f"{read_while_stalled / corpus_bytes:.1%} of {corpus_bytes:,} bytes"
    )
    figures[f"resources: peak memory, {SMALL} vs {LARGE} files (MiB)"] = (
        f"{small_run.max_rss_kib // 1024} vs {large_run.max_rss_kib // 1024}"
    )


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A loopback server that accepts connections and never answers.

    It lets go of them after 10 s, so a client that ignores its timeout fails
    (with a connection error) instead of hanging the suite.
    """
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    held: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            held.append(connection)
        for connection in held:
            connection.close()

    def release_later() -> None:
        stop.wait(10)
        stop.set()

    threads = [threading.Thread(target=serve), threading.Thread(target=release_later)]
    for thread in threads:
        thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        listener.close()


def test_the_client_gives_up_on_a_server_that_never_answers(silent_server: str) -> None:
    with Client(silent_server, timeout=0.3, retries=0) as client:
        with pytest.raises(OllamaTimeoutError, match="timed out"):
            client.embed("nomic-embed-text", "hello")
    with Embedder(
        "nomic-embed-text", hosts=[silent_server], timeout=0.3, retries=1, backoff=0
    ) as embedder:
        with pytest.raises((OllamaTimeoutError, OllamaConnectionError)) as caught:
            embedder.embed_documents(["hello"])
    assert isinstance(caught.value.__cause__, OllamaTimeoutError) or isinstance(
        caught.value, OllamaTimeoutError
    )


def test_fake_ollama_binds_loopback_by_default() -> None:
    with FakeOllama() as server:
        assert ipaddress.ip_address(server.host).is_loopback
        assert server.url.startswith(f"http://{server.host}:")
        with socket.create_connection((server.host, server.port), timeout=5):
            pass


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "example.com"])
def test_fake_ollama_command_refuses_a_public_address(
    host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[str] = []

    class NeverStarted(FakeOllama):
        def start(self) -> FakeOllama:
            # Nothing may listen beyond loopback, even if the guard broke.
            started.append(host)
            raise OSError("the test does not bind public addresses")

    monkeypatch.setattr("ragkit.testing.FakeOllama", NeverStarted)

    result = CliRunner().invoke(cli, ["fake-ollama", "--host", host, "--port", "0"])

    assert result.exit_code == 2
    assert f"refusing to bind {host}" in result.stderr
    assert "--allow-remote" in result.stderr
    assert started == []
