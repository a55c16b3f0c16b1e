"""App API benchmark: ``Index.add`` of 10,000 short texts, and a search from Python.

Run ``python bench/index_add.py`` (about two minutes). It prints:

1. **add**: wall time of ``index.add(texts)`` for 10,000 short texts (40
   words of a Zipf vocabulary, as in ``bench/query.py``) into a new on-disk
   index, against the server-bound ideal: the busy time of
   FakeOllama's one embedding slot with a cost model of 5 ms per request and
   2 ms per embedded input (the server runs in a process of its own, see
   ``bench/ingest.py``). Closing the index afterwards builds and writes the
   FAISS file; that time is shown apart.
2. **search**: ``index.search(query)`` p50/p99 on that index (10k chunks),
   hybrid and vector-only, against a zero-cost FakeOllama, and the same
   minus the query-embedding request (timed alone with the same request), to
   set beside the retrieval figures of ``bench/query.py``
   (``bench/results/query.txt``), with FAISS on one thread as there.

Figures are medians of ``--runs`` runs; the last ones are written to
``bench/results/index_add.txt``.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import COST, MODEL, ServerProcess  # noqa: E402  (bench/ingest.py)
from query import content_words, search_threads, texts  # noqa: E402  (bench/query.py)

from ragkit import Index  # noqa: E402
from ragkit.embedding import Embedder  # noqa: E402
from ragkit.testing import CostModel  # noqa: E402

RESULTS = Path(__file__).with_name("results") / "index_add.txt"
QUERY_RESULTS = Path(__file__).with_name("results") / "query.txt"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def time_each(call: Callable[[int], object], count: int) -> list[float]:
    took = []
    for i in range(count):
        started = time.perf_counter()
        call(i)
        took.append((time.perf_counter() - started) * 1000)
    return took


def bench_add(work: Path, texts: list[str], runs: int) -> tuple[list[str], Path]:
    servers = ServerProcess(1, COST)
    path = work / "index"
    try:
        walls, ideals, closes = [], [], []
        for run in range(runs):
            path = work / f"index-{run}"
            index = Index.create(path, host=servers.urls[0])
            servers.reset()
            started = time.perf_counter()
            report = index.add(texts)
            walls.append(time.perf_counter() - started)
            ideals.append(sum(servers.busy_seconds()))
            started = time.perf_counter()
            index.close()
            closes.append(time.perf_counter() - started)
            assert report.chunks == len(texts), report
    finally:
        servers.stop()
    ratios = [w / i for w, i in zip(walls, ideals, strict=True)]
    line = (
        f"add {len(texts)} texts ({report.requests} requests): wall "
        f"{statistics.median(walls):.2f}s, ideal {statistics.median(ideals):.2f}s, "
        f"ratio {statistics.median(ratios):.3f}x (target <= 1.1x; median of {runs}); "
        f"close (build and write the {index_kind(path)} FAISS file) "
        f"{statistics.median(closes):.2f}s"
    )
    print(line, flush=True)
    return [line], path


def index_kind(path: Path) -> str:
    with Index.open(path) as index:
        return index.stats().index_type


def bench_search(path: Path, queries: list[str], runs: int) -> list[str]:
    servers = ServerProcess(1, CostModel())
    figures: dict[str, tuple[float, float]] = {}
    try:
        url = servers.urls[0]
        with Index.open(path, host=url) as index, search_threads(1):
            manifest = index.manifest
            chunks = index.stats().chunks
            with Embedder(
                manifest.embed_model,
                hosts=[url],
                query_prefix=manifest.query_prefix,
                document_prefix=manifest.document_prefix,
            ) as embedder:
                for query in queries[:20]:  # load the FAISS file, warm the caches
                    index.search(query)
                    embedder.embed_query(query)
                calls: dict[str, Callable[[int], object]] = {
                    "hybrid": lambda i: index.search(queries[i]),
                    "vector": lambda i: index.search(queries[i], mode="vector"),
                    "embed": lambda i: embedder.embed_query(queries[i]),
                }
                for name, call in calls.items():
                    took = [time_each(call, len(queries)) for _ in range(runs)]
                    figures[name] = (
                        statistics.median(percentile(t, 50) for t in took),
                        statistics.median(percentile(t, 99) for t in took),
                    )
    finally:
        servers.stop()
    embed50 = figures["embed"][0]
    lines = [
        f"search {chunks} chunks k=8 from Python ({len(queries)} queries, median of "
        f"{runs}): query embedding alone p50 {embed50:.2f} ms"
    ]
    for mode in ("hybrid", "vector"):
        p50, p99 = figures[mode]
        lines.append(
            f"  {mode:<6} index.search p50 {p50:.2f} ms p99 {p99:.2f} ms; "
            f"without the query embedding p50 {p50 - embed50:.2f} ms"
        )
    reference = query_reference()
    if reference:
        lines.append(f"bench/query.py for comparison: {reference}")
    for line in lines:
        print(line, flush=True)
    return lines


def query_reference() -> str:
    """The 10k retrieval line of the last ``bench/query.py`` run, if any."""
    try:
        text = QUERY_RESULTS.read_text(encoding="utf-8")
    except OSError:
        return ""
    for line in text.splitlines():
        if line.startswith("retrieval") and " 10k " in line:
            return " ".join(line.split())
    return ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    corpus = texts(args.texts, args.seed)
    rng = random.Random(args.seed + 1)
    queries = [content_words(rng.choice(corpus)) for _ in range(args.queries)]
    lines = [
        f"# bench/index_add.py --texts {args.texts} --runs {args.runs}; "
        f"{time.strftime('%Y-%m-%d')}, Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} cores, cost {COST.per_request_ms} ms/request + "
        f"{COST.per_input_ms} ms/input, model {MODEL}"
    ]
    print(lines[0], flush=True)
    with tempfile.TemporaryDirectory(prefix="ragkit-bench-") as tmp:
        added, path = bench_add(Path(tmp), corpus, args.runs)
        lines += added
        lines += bench_search(path, queries, args.runs)
    if not args.no_write:
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
