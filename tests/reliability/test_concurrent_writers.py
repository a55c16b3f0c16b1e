"""Guarantee 4: one writer at a time, and readers see only whole documents."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reliability_helpers import (
    RagkitProcess,
    Workspace,
    by_document,
    json_report,
    raw_counts,
    run_ragkit,
    snapshot,
    wait_for,
)

from ragkit.query import QueryEngine
from ragkit.testing import CostModel, FakeOllama
from ragkit.types import Hit

BATCH = 3
PAUSE_AFTER = 10
"""Embedding replies the first writer gets before its server is paused."""

QUESTIONS = ("rotation schedule", "replica failover", "incident review budget")


@dataclass
class Reader:
    """Searches (and asks) the index over and over while a run writes it."""

    workspace: Workspace
    writer: RagkitProcess
    index: Path
    host: str
    searches_during_run: int = 0
    hits: int = 0
    asked: int = 0
    problems: list[str] = field(default_factory=list)

    def check(self, engine: QueryEngine, hits: list[Hit] | tuple[Hit, ...]) -> None:
        expected = by_document(self.workspace.clean)
        for hit in hits:
            chunk = hit.chunk
            for chunk_id in chunk.id.split("+"):
                row = self.workspace.clean.get(chunk_id)
                if row is None or row[0] != chunk.document:
                    self.problems.append(f"hit {chunk_id} is not a clean chunk")
            record = engine.store.document(chunk.document)
            whole = len(expected[chunk.document])
            if record is None or record.chunk_count != whole:
                self.problems.append(f"{chunk.document} is not whole: {record}")
        self.hits += len(hits)

    def run(self) -> None:
        with QueryEngine.open(self.index, host=self.host) as engine:
            number = 0
            while True:
                alive = self.writer.running()
                question = QUESTIONS[number % len(QUESTIONS)]
                self.check(engine, engine.search(question))
                if number % 10 == 3:
                    answer = engine.ask(question)
                    self.check(engine, answer.passages)
                    for citation in answer.verified_citations:
                        assert citation.chunk is not None
                        self.check(engine, [Hit(citation.chunk, 0.0)])
                    self.asked += 1
                number += 1
                if not alive:
                    return
                self.searches_during_run += 1


def test_second_writer_is_refused_or_waits_and_readers_see_whole_documents(
    workspace: Workspace, fake_ollama_factory: Any, figures: dict[str, Any]
) -> None:
    slow: FakeOllama = fake_ollama_factory(cost=CostModel(per_input_ms=10))
    fast: FakeOllama = fake_ollama_factory()
    index = workspace.new_index("shared")
    base_args = ["--index", str(index), "index", "docs", "--batch-size", str(BATCH)]
    first = RagkitProcess(
        ["--host", slow.url, *base_args, "--json"], cwd=workspace.base
    )
    wait_for(lambda: slow.counts("/api/embed") >= 1)
    reader = Reader(workspace, first, index, fast.url)
    errors: list[BaseException] = []

    def read() -> None:
        try:
            reader.run()
        except BaseException as exc:
            errors.append(exc)

    reading = threading.Thread(target=read)
    reading.start()
    try:
        wait_for(lambda: slow.counts("/api/embed") >= PAUSE_AFTER)
        # Held mid-run: the first writer keeps the lock as long as we like.
        slow.pause()

        refused = run_ragkit(["--host", fast.url, *base_args], cwd=workspace.base)

        waiting = RagkitProcess(
            ["--host", fast.url, *base_args, "--wait", "60", "--json"],
            cwd=workspace.base,
        )
        wait_for(lambda: fast.counts("/api/show") >= 1)
        assert first.running() and waiting.running()
    finally:
        slow.resume()
    first_report = json_report(first.wait())
    waited_report = json_report(waiting.wait())
    reading.join()

    assert refused.returncode == 1, refused.stderr
    assert "Traceback" not in refused.stderr
    (error,) = refused.error_lines()
    assert f"another ragkit process (pid {first.pid}) is writing" in error
    assert len(first_report["added"]) == workspace.files
    # The waiting run started while the first held the lock, yet found every
    # file done: it ran after the first, not beside it.
    assert waited_report["unchanged"] == workspace.files
    assert waited_report["added"] == [] and waited_report["chunks"] == 0
    assert snapshot(index) == workspace.clean
    counts = raw_counts(index)
    assert counts.integrity == "ok" and counts.chunks == counts.distinct_chunk_ids

    assert not errors, errors
    assert reader.problems == []
    assert reader.searches_during_run >= 1 and reader.hits > 0 and reader.asked >= 1
    figures["concurrency: searches while a run wrote"] = reader.searches_during_run
    figures["concurrency: hits checked whole"] = reader.hits
