"""Client overhead: what ``ragkit.ollama.Client`` adds per call over raw httpx.

Run ``python bench/client_overhead.py`` (20-40 seconds). It starts FakeOllama
with zero simulated cost in a separate process (so the server does not share
the benchmark's interpreter lock), then times the same requests made

* raw: an ``httpx.Client`` posting ``json.dumps`` of the body and decoding the
  reply with ``json.loads`` (for a stream: splitting the bytes on newlines and
  decoding each line), which is the least any caller has to do; and
* client: the matching ``ragkit.ollama.Client`` call, which also builds typed
  replies, checks for in-stream errors and translates exceptions,

for three workloads: a non-streamed chat, a streamed chat of 500 tokens, and
one embed request of 256 texts (768-dimension vectors, ``nomic-embed-text``).
Calls are made in raw/client pairs so load on the machine hits both alike;
each figure is the median over the runs of the median call, and the ratio
compares the two sides measured in the same run of this script. The target is
a wall-time ratio of at most 1.10. The CPU ratio compares the CPU time this
process spends per call, which isolates the client's own work from the
server's.

The last figures are written to ``bench/results/client_overhead.txt``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from ragkit.ollama import Client

RESULTS = Path(__file__).with_name("results") / "client_overhead.txt"
TARGET = 1.10

_SERVER = """
import sys
from ragkit.testing import FakeOllama
with FakeOllama() as server:
    print(server.url, flush=True)
    sys.stdin.read()
"""

CHAT_MODEL = "llama3.2"
EMBED_MODEL = "nomic-embed-text"
# FakeOllama echoes a question it has no sources for; 600 words and
# num_predict=500 make exactly 500 streamed tokens.
LONG_QUESTION = " ".join(f"term{i}" for i in range(600))
EMBED_TEXTS = [
    f"Chunk {i}: rotate the API keys every ninety days and keep them in the vault."
    for i in range(256)
]


@dataclass(frozen=True)
class Workload:
    """One thing to time, done two ways."""

    name: str
    calls: int
    raw: Callable[[], object]
    client: Callable[[], object]


@dataclass(frozen=True)
class Figure:
    """Median seconds per call (wall and this process's CPU), raw and client."""

    name: str
    calls: int
    raw: float
    client: float
    raw_cpu: float
    client_cpu: float

    @property
    def ratio(self) -> float:
        return self.client / self.raw

    @property
    def cpu_ratio(self) -> float:
        return self.client_cpu / self.raw_cpu

    @property
    def overhead_us(self) -> float:
        return (self.client - self.raw) * 1e6


@contextmanager
def fake_ollama() -> Iterator[str]:
    """Run FakeOllama in a child process; yield its URL; stop it on exit."""
    process = subprocess.Popen(
        [sys.executable, "-c", _SERVER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None and process.stdin is not None
        url = process.stdout.readline().strip()
        if not url.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"FakeOllama did not start (said {url!r})")
        yield url
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def _post_json(http: httpx.Client, path: str, body: dict[str, Any]) -> Any:
    response = http.post(
        path,
        content=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    response.raise_for_status()
    return json.loads(response.content)


def _stream_json(http: httpx.Client, path: str, body: dict[str, Any]) -> int:
    lines = 0
    tail = b""
    with http.stream(
        "POST",
        path,
        content=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    ) as response:
        response.raise_for_status()
        for chunk in response.iter_bytes():
            parts = (tail + chunk).split(b"\n")
            tail = parts.pop()
            for part in parts:
                if part:
                    json.loads(part)
                    lines += 1
    return lines


def workloads(http: httpx.Client, client: Client, scale: float) -> list[Workload]:
    """The three workloads, each as a raw and a client call."""
    question = [{"role": "user", "content": "How often are the keys rotated?"}]
    long_question = [{"role": "user", "content": LONG_QUESTION}]
    chat_body = {"model": CHAT_MODEL, "messages": question, "stream": False}
    stream_body = {
        "model": CHAT_MODEL,
        "messages": long_question,
        "stream": True,
        "options": {"num_predict": 500},
    }
    embed_body = {"model": EMBED_MODEL, "input": EMBED_TEXTS}

    def client_stream() -> int:
        chunks = client.chat(
            CHAT_MODEL, long_question, stream=True, options={"num_predict": 500}
        )
        return sum(1 for _ in chunks)

    return [
        Workload(
            "chat",
            max(1, int(50 * scale)),
            lambda: _post_json(http, "/api/chat", chat_body),
            lambda: client.chat(CHAT_MODEL, question),
        ),
        Workload(
            "chat stream, 500 tokens",
            max(1, int(5 * scale)),
            lambda: _stream_json(http, "/api/chat", stream_body),
            client_stream,
        ),
        Workload(
            "embed 256 x 768-d",
            max(1, int(5 * scale)),
            lambda: _post_json(http, "/api/embed", embed_body),
            lambda: client.embed(EMBED_MODEL, EMBED_TEXTS),
        ),
    ]


def _timed(func: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    func()
    return time.perf_counter() - wall, time.process_time() - cpu


def measure(work: Workload, runs: int) -> Figure:
    """Median per-call times of both sides, measured in pairs.

    Each call of one side is paired with a call of the other (alternating
    which goes first), so a load spike on the machine hits both alike. A
    run's figure is the median of its calls; the result is the median of the
    runs.
    """
    for _ in range(3):  # warm up: model loads, connections, caches
        work.raw()
        work.client()
    per_run: dict[str, list[float]] = {k: [] for k in ("raw", "client", "rc", "cc")}
    for run in range(runs):
        gc.collect()
        samples: dict[str, list[float]] = {k: [] for k in per_run}
        for call in range(work.calls):
            order = ("raw", "client") if (run + call) % 2 == 0 else ("client", "raw")
            for side in order:
                wall, cpu = _timed(work.raw if side == "raw" else work.client)
                samples[side].append(wall)
                samples["rc" if side == "raw" else "cc"].append(cpu)
        for key, values in samples.items():
            per_run[key].append(statistics.median(values))
    median = {key: statistics.median(values) for key, values in per_run.items()}
    return Figure(
        work.name,
        work.calls,
        raw=median["raw"],
        client=median["client"],
        raw_cpu=median["rc"],
        client_cpu=median["cc"],
    )


def check_streams_match(http: httpx.Client, client: Client) -> None:
    """Make sure both sides really do the same work before timing them."""
    for work in workloads(http, client, 1.0):
        if work.name.startswith("chat stream"):
            raw_lines, client_chunks = work.raw(), work.client()
            if raw_lines != client_chunks or raw_lines != 501:
                raise RuntimeError(
                    f"stream sizes differ: raw {raw_lines}, client {client_chunks}"
                )


def table(figures: list[Figure], runs: int) -> str:
    """The figures as a small text table."""
    lines = [
        "ragkit.ollama.Client vs raw httpx; FakeOllama at zero cost in its own "
        f"process; medians of {runs} runs",
        f"{'workload':<25}{'calls':>6}{'raw ms':>9}{'client ms':>10}"
        f"{'overhead':>10}{'ratio':>7}{'cpu ratio':>11}",
    ]
    for f in figures:
        verdict = "ok" if f.ratio <= TARGET else "over"
        lines.append(
            f"{f.name:<25}{f.calls:>6}{f.raw * 1e3:>9.2f}{f.client * 1e3:>10.2f}"
            f"{f.overhead_us:>8.0f}µs{f.ratio:>6.2f}x{f.cpu_ratio:>10.2f}x  {verdict}"
        )
    lines.append(
        f"target: ratio <= {TARGET:.2f} (wall time per call); cpu ratio: this "
        "process's CPU time per call, client / raw"
    )
    return "\n".join(lines)


def main() -> int:
    """Run the benchmark, print the table and write the results file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per workload")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply the calls per run"
    )
    parser.add_argument(
        "--no-write", action="store_true", help="do not update the results file"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    with (
        fake_ollama() as url,
        httpx.Client(base_url=url) as http,
        Client(url, retries=0) as client,
    ):
        check_streams_match(http, client)
        figures = [measure(w, args.runs) for w in workloads(http, client, args.scale)]
    elapsed = time.perf_counter() - started
    text = table(figures, args.runs)
    print(text)
    print(f"({elapsed:.1f} s)")
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime())
        environment = (
            f"{stamp}; Python {platform.python_version()}, httpx {httpx.__version__}, "
            f"{os.cpu_count()} CPUs, load average "
            f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}"
        )
        RESULTS.write_text(f"{text}\n{environment}\n", encoding="utf-8")
    return 0 if all(f.ratio <= TARGET for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
