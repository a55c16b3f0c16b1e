"""Query benchmark: retrieval latency and recall, answer overhead, index memory.

Run ``python bench/query.py`` (10k and 100k chunks, a few minutes) or
``python bench/query.py --sizes 10k,100k,1m`` for the full run (the 1M build
takes a quarter of an hour or more on 2 cores). Figures are printed and
written to ``bench/results/query.txt`` (``--no-write`` to skip).

What is measured:

- **Retrieval latency**: ``Retriever.search`` with a query vector given, so
  everything but the query-embedding request: filters, FAISS, FTS5 (hybrid),
  fusion, reading the chunks from SQLite, neighbour merging; in hybrid,
  vector and lexical mode. p50 and p99 over the queries; the figure is the
  median over ``--runs`` runs. The 10k and 100k stores are built through the
  public ``Store`` API (the index type is ``auto``: exact below 10k chunks,
  HNSW from there). The 1M case is built on the store's FAISS layer directly
  (``AnnIndex``, the same HNSW settings), its latency the FAISS search alone;
  ``--store-1m`` also builds a 1M-chunk store through the ``Store`` API (15+
  minutes, 8 GB of disk) and times it like the others. ``--keep DIR`` keeps
  the stores and reuses them on the next run.
- **Recall@10** of the vector search against exact inner-product search.
- **Answer overhead** at 100k chunks: ``QueryEngine.ask`` wall time minus the
  time FakeOllama reports spending (``total_duration`` of the embed and chat
  replies). FakeOllama runs in a child process at zero simulated cost.
- **Memory** of a 1M × 768 index (flat, HNSW) and of the compressed 8-bit
  scalar-quantised options (``sq8`` scan, ``hnsw-sq8`` graph) with their
  recall, measured as the growth of the process's resident memory.

Data: unit vectors of dimension 768 drawn around 2,000 random centres
(random vectors without such structure are an unrealistically hard case for
graph indexes: every point is about as far from every other); queries are
data points plus noise. Texts are 40 words from a Zipf-distributed
vocabulary, so lexical search has common and rare words to work with.
"""

from __future__ import annotations

import argparse
import gc
import json
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import faiss
import httpx
import numpy as np

import ragkit.store._ann as ann_module  # the efSearch sweep sets its default
from ragkit.embedding import Embedder
from ragkit.ollama import Client
from ragkit.query import QueryEngine, Retriever, SearchSettings
from ragkit.store import DocumentRecord, Manifest, Store
from ragkit.store._ann import AnnIndex  # the 1M case skips SQLite on purpose
from ragkit.types import Chunk

DIM = 768
CENTRES = 2000
CHUNKS_PER_DOC = 50
WORDS = 40
VOCABULARY = 20_000
RESULTS = Path(__file__).resolve().parent / "results" / "query.txt"

_SERVER = """
import sys
from ragkit.testing import FakeOllama
with FakeOllama() as server:
    print(server.url, flush=True)
    sys.stdin.read()
"""


# --- data -------------------------------------------------------------------------


def unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def vectors(n: int, seed: int, block: int = 100_000) -> np.ndarray:
    """``n`` clustered unit vectors, float32, generated in blocks to bound memory."""
    rng = np.random.default_rng(seed)
    centres = unit(rng.standard_normal((CENTRES, DIM))).astype(np.float32)
    out = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, block):
        size = min(block, n - start)
        noise = rng.standard_normal((size, DIM)).astype(np.float32)
        noise *= 0.9 / np.sqrt(DIM)
        out[start : start + size] = unit(
            centres[rng.integers(0, CENTRES, size)] + noise
        )
    return out


def queries(base: np.ndarray, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed + 1)
    picked = rng.integers(0, len(base), count)
    noise = rng.standard_normal((count, DIM)).astype(np.float32) * (0.4 / np.sqrt(DIM))
    return unit(base[picked] + noise).astype(np.float32), picked


def texts(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed + 2)
    ranks = (rng.zipf(1.3, size=(n, WORDS)) - 1) % VOCABULARY + 1
    return [" ".join(f"w{r}" for r in row) for row in ranks]


def content_words(text: str, count: int = 4) -> str:
    """Words of a chunk a person might search for: not among the 100 commonest.

    The FTS query ORs every word, so words that occur in most chunks (what
    stop words are to English) make BM25 rank nearly the whole index.
    """
    rare = [w for w in text.split() if int(w[1:]) > 100]
    return " ".join((rare or text.split())[:count])


def exact_top(base: np.ndarray, qs: np.ndarray, k: int) -> np.ndarray:
    scores = qs @ base.T
    return np.argsort(-scores, axis=1)[:, :k]


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


# --- stores ---------------------------------------------------------------------


def build_store(path: Path, base: np.ndarray, words: list[str]) -> list[int]:
    """Write the chunks through the public Store API; return their rowids."""
    manifest = Manifest(embed_model="nomic-embed-text", dimension=DIM)
    rowids: list[int] = []
    with Store.create(path, manifest) as store:
        for doc in range(0, len(base), CHUNKS_PER_DOC):
            name = f"docs/d{doc // CHUNKS_PER_DOC:06d}.md"
            chunks, keys, offset = [], [], 0
            for i in range(doc, min(doc + CHUNKS_PER_DOC, len(base))):
                text = words[i]
                chunks.append(
                    Chunk(
                        id=f"c{i}",
                        document=name,
                        text=text,
                        start=offset,
                        end=offset + len(text),
                        line_start=i - doc + 1,
                        line_end=i - doc + 1,
                    )
                )
                offset += len(text) + 1
                keys.append(f"v{i}")
            store.put_vectors(zip(keys, base[doc : doc + len(keys)], strict=True))
            rowids += store.replace_document(
                DocumentRecord(name, content_hash=name), chunks, keys
            )
        store.sync()
    return rowids


@contextmanager
def search_threads(threads: int) -> Iterator[None]:
    """FAISS threads while timing searches; building keeps one per core.

    One query at a time gains nothing from OpenMP, and on a loaded machine its
    threads spin waiting for cores: 1.4 ms against 8.6 ms for an HNSW search
    at 10k chunks on this 2-core box.
    """
    before = faiss.omp_get_max_threads()
    if threads:
        faiss.omp_set_num_threads(threads)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def time_calls(
    call: Callable[[int], object], count: int, runs: int
) -> tuple[float, float]:
    """Median over runs of (p50, p99) milliseconds of ``call(i)`` for i < count."""
    p50s, p99s = [], []
    for _ in range(runs):
        took = []
        for i in range(count):
            started = time.perf_counter()
            call(i)
            took.append((time.perf_counter() - started) * 1000)
        p50s.append(percentile(took, 50))
        p99s.append(percentile(took, 99))
    return statistics.median(p50s), statistics.median(p99s)


def recall(found: Sequence[Sequence[int]], truth: np.ndarray) -> float:
    hits = sum(len(set(f) & set(t.tolist())) for f, t in zip(found, truth, strict=True))
    return hits / truth.size


# --- the figures ------------------------------------------------------------------


def retrieval_on_store(
    n: int, args: argparse.Namespace, workdir: Path, report: list[str]
) -> Path:
    base = vectors(n, args.seed)
    words = texts(n, args.seed)
    qs, picked = queries(base, args.queries, args.seed)
    query_words = [content_words(words[p]) for p in picked]
    started = time.perf_counter()
    path = workdir / f"store-{n}-seed{args.seed}"
    if (path / "meta.sqlite").exists():  # kept by an earlier --keep run
        uri = f"file:{path / 'meta.sqlite'}?mode=ro"
        with closing(sqlite3.connect(uri, uri=True)) as db:
            rowids = np.asarray(
                [r for (r,) in db.execute("SELECT id FROM chunks ORDER BY id")]
            )
        built_note = "reused"
    else:
        rowids = np.asarray(build_store(path, base, words))
        built_note = f"built in {time.perf_counter() - started:.0f} s"
    truth = rowids[exact_top(base, qs, 10)]
    with search_threads(args.threads), Store.open(path) as store:
        kind = store.stats().index_type
        retriever = Retriever(store)
        modes = {
            "hybrid": SearchSettings(),
            "vector": SearchSettings(mode="vector"),
            "lexical": SearchSettings(mode="lexical"),
            # A tenth of the documents (names ending in 0), as a path filter.
            "hybrid, 10% path filter": SearchSettings(paths=("docs/d*0.md",)),
        }
        for i in range(min(20, args.queries)):  # warm caches and the FAISS load
            retriever.search(query_words[i], qs[i], modes["hybrid"])

        def timed(settings: SearchSettings) -> tuple[float, float]:
            return time_calls(
                lambda i: retriever.search(query_words[i], qs[i], settings),
                args.queries,
                args.runs,
            )

        figures = []
        for name, settings in modes.items():
            p50, p99 = timed(settings)
            figures.append(f"{name} p50 {p50:6.2f} ms p99 {p99:6.2f} ms")
        found = [[r for r, _ in store.search_vectors(q, 10)] for q in qs]
    line = (
        f"retrieval {label(n):>5} chunks  index={kind:<5} "
        + " | ".join(figures)
        + f" | recall@10 {recall(found, truth):.3f} | {built_note}"
    )
    emit(report, line)
    return path


def retrieval_on_faiss(n: int, args: argparse.Namespace, report: list[str]) -> None:
    base = vectors(n, args.seed)
    qs, _ = queries(base, args.queries, args.seed)
    truth = np.concatenate(
        [exact_top(base, qs[i : i + 50], 10) for i in range(0, len(qs), 50)]
    )
    ids = np.arange(n, dtype=np.int64)
    sample = base[np.random.default_rng(0).integers(0, n, 65_536)]
    kinds = ("hnsw", "sq8", "flat") + (("hnsw-sq8",) if args.hnsw_sq8 else ())
    for kind in kinds:
        gc.collect()
        before = rss_bytes()
        started = time.perf_counter()
        ann = AnnIndex.new(kind, DIM, 0, sample=sample)
        for start in range(0, n, 100_000):
            ann.add(ids[start : start + 100_000], base[start : start + 100_000])
        built = time.perf_counter() - started
        memory = rss_bytes() - before
        count = args.queries if kind.startswith("hnsw") else min(args.queries, 30)
        search = ann.search
        with search_threads(args.threads):
            for i in range(min(10, count)):
                search(qs[i], 8)
            p50, p99 = time_calls(
                lambda i, search=search: search(qs[i], 8), count, args.runs
            )
            found = [[r for r, _ in search(q, 10)] for q in qs[:count]]
        emit(
            report,
            f"faiss     {label(n):>5} vectors index={kind:<8} p50 {p50:7.2f} ms "
            f"p99 {p99:7.2f} ms | recall@10 {recall(found, truth[:count]):.3f} | "
            f"memory {memory / 2**30:5.2f} GiB | built in {built:.0f} s",
        )
        if kind == "hnsw":
            ef_sweep(ann, qs, truth, args, report)
        del ann
    del base


def ef_sweep(
    ann: AnnIndex,
    qs: np.ndarray,
    truth: np.ndarray,
    args: argparse.Namespace,
    report: list[str],
) -> None:
    """Recall and latency of the built graph at each ``--ef-sweep`` efSearch."""
    default = ann_module.HNSW_EF_SEARCH
    try:
        for ef in args.ef_sweep:
            ann_module.HNSW_EF_SEARCH = ef
            with search_threads(args.threads):
                p50, p99 = time_calls(
                    lambda i: ann.search(qs[i], 8), len(qs), args.runs
                )
                found = [[r for r, _ in ann.search(q, 10)] for q in qs]
            emit(
                report,
                f"  efSearch {ef:4d}{' (default)' if ef == default else '':10} "
                f"p50 {p50:5.2f} ms p99 {p99:5.2f} ms | "
                f"recall@10 {recall(found, truth):.3f}",
            )
    finally:
        ann_module.HNSW_EF_SEARCH = default


@contextmanager
def fake_ollama() -> Iterator[str]:
    """FakeOllama in a child process (its own interpreter lock); yield its URL."""
    process = subprocess.Popen(
        [sys.executable, "-c", _SERVER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        if not url.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"FakeOllama did not start (said {url!r})")
        yield url
    finally:
        if process.stdin is not None:
            process.stdin.close()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


class ServerTime:
    """Adds up the ``total_duration`` FakeOllama reports in its replies."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def hook(self, response: httpx.Response) -> None:
        response.read()
        if response.headers.get("content-type", "").startswith("application/json"):
            data: Any = json.loads(response.content)
            self.seconds += (data.get("total_duration") or 0) / 1e9


def answer_overhead(path: Path, args: argparse.Namespace, report: list[str]) -> None:
    server = ServerTime()
    hooks = {"response": [server.hook]}
    with search_threads(args.threads), fake_ollama() as url:
        with Store.open(path) as probe:
            manifest = probe.manifest
        embedder = Embedder(
            manifest.embed_model,
            hosts=[url],
            query_prefix="",
            client_factory=lambda host: Client(host, retries=0, event_hooks=hooks),
        )
        engine = QueryEngine(Store.open(path), embedder, Client(url, event_hooks=hooks))
        with engine:
            # Content words of middling frequency, as in a real question.
            questions = [
                f"What does w{300 + 7 * i} say about w{1200 + 13 * i}?"
                for i in range(40)
            ]
            for question in questions[:5]:
                engine.ask(question)
            overheads, walls = [], []
            for _ in range(args.runs):
                for question in questions:
                    server.seconds = 0.0
                    started = time.perf_counter()
                    engine.ask(question)
                    wall = time.perf_counter() - started
                    walls.append(wall * 1000)
                    overheads.append((wall - server.seconds) * 1000)
    emit(
        report,
        f"answer    100k chunks  wall p50 {percentile(walls, 50):6.2f} ms | "
        f"overhead (wall - FakeOllama) p50 {percentile(overheads, 50):6.2f} ms "
        f"p99 {percentile(overheads, 99):6.2f} ms",
    )


def label(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 else f"{n // 1000}k"


def parse_size(text: str) -> int:
    text = text.strip().lower()
    if text.endswith("m"):
        return int(float(text[:-1]) * 1_000_000)
    if text.endswith("k"):
        return int(float(text[:-1]) * 1000)
    return int(text)


def emit(report: list[str], line: str) -> None:
    print(line, flush=True)
    report.append(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10k,100k", help="e.g. 10k,100k,1m")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument(
        "--hnsw-sq8",
        action="store_true",
        help="at 1M also build the quantised graph (another 10+ minutes)",
    )
    parser.add_argument(
        "--store-1m",
        action="store_true",
        help="at 1M also build the SQLite store and time hybrid retrieval "
        "(about 15 more minutes and 5 GB of disk)",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        help="build the stores in this folder and reuse the ones already there "
        "(the 1M store takes 15+ minutes to build)",
    )
    parser.add_argument(
        "--skip-faiss",
        action="store_true",
        help="at 1M, skip the FAISS-only figures (index types, memory, sweep)",
    )
    parser.add_argument(
        "--ef-sweep",
        type=lambda text: [int(x) for x in text.split(",") if x.strip()],
        default=[],
        help="at 1M also time the graph at these efSearch values, e.g. 64,128,192",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="FAISS (OpenMP) threads; 0 keeps FAISS's default of one per core",
    )
    args = parser.parse_args()
    sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    report = [
        f"# bench/query.py --sizes {args.sizes} --queries {args.queries} "
        f"--runs {args.runs} --threads {args.threads}; Python "
        f"{sys.version.split()[0]}, faiss {faiss.__version__}, dimension {DIM}"
    ]
    with tempfile.TemporaryDirectory(prefix="ragkit-bench-") as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for n in sizes:
            if n >= 1_000_000:
                if not args.skip_faiss:
                    retrieval_on_faiss(n, args, report)
                if not args.store_1m:
                    continue
            path = retrieval_on_store(n, args, workdir, report)
            if n == 100_000:
                answer_overhead(path, args, report)
    if not args.no_write:
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text("\n".join(report) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
