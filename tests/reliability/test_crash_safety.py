"""Guarantee 3: after SIGKILL at any point the index opens, is truthful and resumes.

"Resumes" means the next run ends with exactly the clean run's index.
"""

from __future__ import annotations

import json
import random
import shutil
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from reliability_helpers import (
    RagkitProcess,
    Workspace,
    assert_whole_documents,
    raw_counts,
    small_batch_pipeline,
    snapshot,
    wait_for,
)

from ragkit.cli import cli
from ragkit.testing import CostModel, FakeOllama

KILLS = 22
"""Kill points spread over one run (the issue asks for at least 20)."""

BATCH = 3
"""Inputs per request: small batches make many requests, so many kill points."""

SEED = 20240605


@dataclass(frozen=True)
class KillPoint:
    """Where a run is killed: after ``answered`` embedding replies, plus a delay."""

    answered: int
    delay: float


def kill_points(requests: int, seed: int = SEED) -> list[KillPoint]:
    """``KILLS`` distinct points: before embedding, through it, and at its end.

    Args:
        requests: About how many embedding requests a whole run makes.
        seed: Seeds the extra delays (0-15 ms), which move a kill off the
            moment a reply lands, into loading, chunking or a commit.
    """
    rng = random.Random(seed)
    # 0 answered: killed while starting, walking or creating the index.
    last = requests - 1
    steps = [round(i * last / (KILLS - 1)) for i in range(KILLS)]
    assert len(set(steps)) == KILLS, "the corpus is too small for distinct points"
    return [KillPoint(n, rng.uniform(0.0, 0.015)) for n in steps]


def cli_json(*args: str) -> tuple[int, Any, str]:
    """Run a ragkit command in-process; its exit code, JSON output and stderr."""
    result = CliRunner().invoke(cli, list(args))
    data = json.loads(result.stdout) if result.exit_code == 0 else None
    return result.exit_code, data, result.stderr


def schema_version(index: Path) -> int:
    """The database's ``user_version``: 0 until its creation was committed."""
    db = sqlite3.connect(f"file:{index / 'meta.sqlite'}?mode=ro", uri=True)
    try:
        return int(db.execute("PRAGMA user_version").fetchone()[0])
    finally:
        db.close()


def assert_resolves(hit: dict[str, Any], workspace: Workspace) -> None:
    """A search hit is whole chunks of the clean index (neighbours may be merged)."""
    parts = hit["id"].split("+")
    for chunk_id in parts:
        path, text, _ = workspace.clean[chunk_id]
        assert path == hit["path"]
        # A merged passage drops the overlap its neighbours share, so only
        # the start of each part is sure to be in it.
        assert text[:40] in hit["text"]
    if len(parts) == 1:
        assert workspace.clean[parts[0]][1] == hit["text"]


def check_after_kill(index: Path, workspace: Workspace, server: FakeOllama) -> int:
    """Everything that must hold of a killed run's index; the documents it kept."""
    if not (index / "meta.sqlite").exists():
        # Killed before the database was created: that reads as "no index".
        code, _, err = cli_json("--index", str(index), "info", "--json")
        assert code == 1 and "no index" in err and "Traceback" not in err
        return 0
    code, info, err = cli_json("--index", str(index), "info", "--json")
    if code != 0 and schema_version(index) == 0:
        # Killed while the index was being created, before its tables were
        # committed: one clear line, and the re-run starts it over. What
        # that line must say is pinned by the test after this one.
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
        return 0
    assert code == 0, err
    counts = raw_counts(index)
    assert counts.integrity == "ok"
    assert (info["documents"], info["chunks"], info["vectors"]) == (
        counts.documents,
        counts.chunks,
        counts.vectors,
    ), "ragkit info disagrees with the database"
    assert counts.distinct_chunk_ids == counts.chunks
    assert counts.chunks_without_vector == 0
    kept = assert_whole_documents(index, workspace.clean)
    if counts.chunks:
        code, hits, err = cli_json(
            "--index", str(index), "--host", server.url, "search", "rotation", "--json"
        )
        assert code == 0, err
        assert hits, "a search over a non-empty index found nothing"
        for hit in hits:
            assert_resolves(hit, workspace)
    return kept


@dataclass
class Lane:
    """One of two runs of kills going on side by side, each with its own server."""

    slow: FakeOllama
    points: list[tuple[int, KillPoint]]
    alive: int = 0


def kill_and_check(
    lane: Lane,
    number: int,
    point: KillPoint,
    workspace: Workspace,
    fast: FakeOllama,
    cli_lock: threading.Lock,
) -> int:
    """Kill one run at ``point``, check what it left, resume it; documents it kept."""
    lane.slow.reset()
    index = workspace.new_index(f"killed{number:02d}")
    args = ["--host", lane.slow.url, "--index", str(index), "index", "docs"]
    process = RagkitProcess([*args, "--batch-size", str(BATCH)], cwd=workspace.base)
    if point.answered:
        wait_for(lambda: lane.slow.counts("/api/embed") >= point.answered)
    else:
        wait_for(lambda: len(lane.slow.requests) >= 1)
    time.sleep(point.delay)
    if process.running():
        lane.alive += 1
    process.kill()
    finished = process.wait()
    assert finished.returncode in (-9, 0), finished.stderr
    # CliRunner swaps the process's stdout, so one command at a time.
    with cli_lock:
        kept = check_after_kill(index, workspace, fast)
    report = small_batch_pipeline(BATCH).run(workspace.docs, index=index, host=fast.url)
    assert report.unchanged == kept
    assert len(report.added) + len(report.changed) == workspace.files - kept
    assert snapshot(index) == workspace.clean
    counts = raw_counts(index)
    assert counts.chunks == counts.distinct_chunk_ids == len(workspace.clean)
    return kept


def test_sigkill_at_many_points_never_corrupts_and_resumes_to_the_clean_index(
    workspace: Workspace, fake_ollama_factory: Any, figures: dict[str, Any]
) -> None:
    fast = fake_ollama_factory()
    requests = -(-len(workspace.clean) // BATCH)
    numbered = list(enumerate(kill_points(requests), 1))
    # Two lanes keep both cores busy: most of a kill's cost is the new
    # process importing ragkit.
    lanes = [
        Lane(fake_ollama_factory(cost=CostModel(per_input_ms=4)), numbered[i::2])
        for i in range(2)
    ]
    cli_lock = threading.Lock()
    failures: list[str] = []
    documents_at_kill: dict[int, int] = {}

    def run_lane(lane: Lane) -> None:
        for number, point in lane.points:
            # Every point is checked, so one report shows all that broke.
            try:
                documents_at_kill[number] = kill_and_check(
                    lane, number, point, workspace, fast, cli_lock
                )
            except Exception as exc:
                failures.append(f"kill {number} {point}: {type(exc).__name__}: {exc}")

    with ThreadPoolExecutor(max_workers=len(lanes)) as pool:
        for done in [pool.submit(run_lane, lane) for lane in lanes]:
            done.result()

    assert not failures, "\n".join(sorted(failures))
    # Every point is reached while the slow server still owes replies.
    alive = sum(lane.alive for lane in lanes)
    assert alive >= KILLS - 1, f"only {alive} kills hit a live run"
    kept = [documents_at_kill[number] for number in sorted(documents_at_kill)]
    assert len(set(kept)) >= 5, kept
    figures["crash: SIGKILLs of a live run survived"] = alive
    figures["crash: documents committed at the kills"] = kept


def test_an_index_killed_while_being_created_reads_as_no_index(
    workspace: Workspace, fake_ollama: FakeOllama
) -> None:
    # What a kill between creating meta.sqlite and committing its tables
    # leaves: the manifest, and a database with no tables yet. A kill lands
    # there only now and then, so the state is made here on purpose.
    index = workspace.new_index("unborn")
    shutil.copytree(workspace.base / "clean", index)
    for name in ("meta.sqlite", "meta.sqlite-wal", "meta.sqlite-shm", "vectors.faiss"):
        (index / name).unlink(missing_ok=True)
    db = sqlite3.connect(index / "meta.sqlite")
    db.execute("PRAGMA journal_mode = WAL")
    db.close()

    for command in (["info"], ["--host", fake_ollama.url, "search", "rotation"]):
        code, _, err = cli_json("--index", str(index), *command)
        assert code == 1 and "Traceback" not in err
        assert "no index" in err, err

    report = small_batch_pipeline().run(
        workspace.docs, index=index, host=fake_ollama.url
    )
    assert len(report.added) == workspace.files
    assert snapshot(index) == workspace.clean
