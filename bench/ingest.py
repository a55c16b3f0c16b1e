"""Ingest benchmark: how close ragkit keeps Ollama to fully busy, and what re-runs cost.

Run ``python bench/ingest.py`` (about two minutes). It prints, against
FakeOllama with a cost model of 5 ms per request and 2 ms per embedded input:

1. one server with one embedding slot: wall time of a whole ingest (walking,
   loading and chunking included) against the server's busy time, the
   server-bound ideal;
2. four servers as four hosts: wall time against a quarter of that ideal;
3. an unchanged re-run of a 5,000-file corpus: embedding requests and time;
4. peak memory of an ingest at two corpus sizes (each in a fresh process).

Figures are medians of several runs; the last ones are written to
``bench/results/ingest.txt``. The corpus is real text: the CPython standard
library's own modules and its pydoc topics, which ship with Python.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

from ragkit.embedding import Embedder
from ragkit.pipeline import Recipe, ingest
from ragkit.testing import CostModel, FakeOllama

COST = CostModel(per_request_ms=5.0, per_input_ms=2.0)
MODEL = "nomic-embed-text"
RESULTS = Path(__file__).with_name("results") / "ingest.txt"


def real_text_corpus(folder: Path, *, min_bytes: int) -> Path:
    """Copy standard-library modules and pydoc topics into ``folder``."""
    import pydoc_data.topics

    folder.mkdir(parents=True, exist_ok=True)
    for name, text in sorted(pydoc_data.topics.topics.items()):
        (folder / f"topic-{name}.md").write_text(f"# {name}\n\n{text}", "utf-8")
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    total = sum(p.stat().st_size for p in folder.iterdir())
    for source in sorted(stdlib.rglob("*.py")):
        if total >= min_bytes:
            break
        if "test" in source.parts or "site-packages" in source.parts:
            continue
        target = folder / source.relative_to(stdlib).as_posix().replace("/", "__")
        shutil.copyfile(source, target)
        total += target.stat().st_size
    return folder


def many_small_files(folder: Path, count: int) -> Path:
    """``count`` distinct short Markdown files, one paragraph each."""
    import pydoc_data.topics

    paragraphs = [
        p.strip()
        for text in pydoc_data.topics.topics.values()
        for p in text.split("\n\n")
        if len(p.strip()) > 80
    ]
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        sub = folder / f"part{i // 500:02d}"
        sub.mkdir(exist_ok=True)
        paragraph = paragraphs[i % len(paragraphs)]
        (sub / f"note{i:05d}.md").write_text(f"# Note {i}\n\n{paragraph}\n", "utf-8")
    return folder


def timed_ingest(corpus: Path, index: Path, hosts: list[str]) -> tuple[float, int]:
    """One full ingest from scratch; returns wall seconds and chunks written."""
    shutil.rmtree(index, ignore_errors=True)
    with Embedder(MODEL, hosts=hosts) as embedder:
        started = time.perf_counter()
        report = ingest([corpus], Recipe(), index=index, embedder=embedder)
        return time.perf_counter() - started, report.chunks


class ServerProcess:
    """FakeOllama servers in a process of their own, as a real Ollama would be.

    Keeping them out of the benchmark's process means their stand-in model
    (pure Python) does not compete with ragkit for the interpreter lock; the
    figures then measure ragkit, not the fake's own CPU time.
    """

    def __init__(self, count: int, cost: CostModel) -> None:
        parent, child = multiprocessing.Pipe()
        self._conn = parent
        self._process = multiprocessing.Process(
            target=_serve, args=(child, count, cost), daemon=True
        )
        self._process.start()
        self.urls: list[str] = self._conn.recv()

    def busy_seconds(self) -> list[float]:
        """Seconds each server's embedding slot was busy since the last reset."""
        self._conn.send("busy")
        return list(self._conn.recv())

    def reset(self) -> None:
        self._conn.send("reset")
        self._conn.recv()

    def stop(self) -> None:
        self._conn.send("stop")
        self._process.join(timeout=30)


def _serve(conn: Connection, count: int, cost: CostModel) -> None:
    servers = [FakeOllama(cost=cost).start() for _ in range(count)]
    conn.send([server.url for server in servers])
    try:
        while True:
            command = conn.recv()
            if command == "busy":
                conn.send([sum(s.stats.busy_seconds.values()) for s in servers])
            elif command == "reset":
                for server in servers:
                    server.reset()
                conn.send(True)
            else:
                return
    finally:
        for server in servers:
            server.stop()


def bench_throughput(work: Path, runs: int) -> list[str]:
    corpus = real_text_corpus(work / "stdlib", min_bytes=3_800_000)
    lines = []
    for count in (1, 4):
        servers = ServerProcess(count, COST)
        try:
            ratios, walls, ideals = [], [], []
            chunks = 0
            for _ in range(runs):
                servers.reset()
                wall, chunks = timed_ingest(corpus, work / "index", servers.urls)
                # The ideal: the servers' total busy time, shared evenly.
                ideal = sum(servers.busy_seconds()) / count
                ratios.append(wall / ideal)
                walls.append(wall)
                ideals.append(ideal)
            target = 1.1 if count == 1 else 1.2
            lines.append(
                f"{count} host(s), {chunks} chunks: "
                f"wall {statistics.median(walls):.2f}s, "
                f"ideal {statistics.median(ideals):.2f}s, "
                f"ratio {statistics.median(ratios):.3f}x (target <= {target}x; "
                f"median of {runs})"
            )
            print(lines[-1], flush=True)
        finally:
            servers.stop()
    return lines


def bench_unchanged_rerun(work: Path, runs: int) -> list[str]:
    corpus = many_small_files(work / "small", 5000)
    index = work / "small-index"
    with FakeOllama() as server:
        with Embedder(MODEL, hosts=[server.url]) as embedder:
            ingest([corpus], Recipe(), index=index, embedder=embedder)
            times = []
            requests = 0
            for _ in range(runs):
                server.reset()
                started = time.perf_counter()
                report = ingest([corpus], Recipe(), index=index, embedder=embedder)
                times.append(time.perf_counter() - started)
                requests = server.counts("/api/embed")
                assert report.unchanged == 5000, report
    line = (
        f"unchanged re-run of 5000 files: {statistics.median(times):.2f}s "
        f"(median of {runs}; target < 2s), {requests} embedding requests"
    )
    print(line, flush=True)
    return [line]


def bench_memory(work: Path) -> list[str]:
    lines = []
    with FakeOllama() as server:
        for files in (1500, 6000):
            result = subprocess.run(
                [sys.executable, __file__, "--memory-child", str(files), server.url],
                capture_output=True,
                text=True,
                check=True,
                cwd=work,
            )
            peak_mb, index_mb, chunks = result.stdout.split()
            lines.append(
                f"{files} files ({chunks} chunks): peak RSS {float(peak_mb):.0f} MB, "
                f"index on disk {float(index_mb):.1f} MB"
            )
            print(lines[-1], flush=True)
    return lines


def memory_child(files: int, host: str) -> None:
    work = Path(tempfile.mkdtemp(prefix="ragkit-mem-"))
    try:
        corpus = many_small_files(work / "corpus", files)
        with Embedder(MODEL, hosts=[host]) as embedder:
            report = ingest([corpus], Recipe(), index=work / "index", embedder=embedder)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        index_mb = sum(p.stat().st_size for p in (work / "index").iterdir()) / 2**20
        print(f"{peak_mb:.1f} {index_mb:.2f} {report.chunks}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per figure")
    parser.add_argument("--memory-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(int(args.memory_child[0]), args.memory_child[1])
        return
    with tempfile.TemporaryDirectory(prefix="ragkit-bench-") as tmp:
        work = Path(tmp)
        os.chdir(work)
        lines = [
            f"ragkit ingest benchmark, {time.strftime('%Y-%m-%d')}, "
            f"{os.cpu_count()} cores, cost {COST.per_request_ms} ms/request + "
            f"{COST.per_input_ms} ms/input",
            *bench_throughput(work, args.runs),
            *bench_unchanged_rerun(work, args.runs),
            *bench_memory(work),
        ]
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
