"""Guarantee 1: server faults during ingest change nothing in the final index."""

from __future__ import annotations

from collections import Counter
from typing import Any

from click.testing import CliRunner
from reliability_helpers import Workspace, snapshot

from ragkit.cli import cli
from ragkit.embedding import Embedder
from ragkit.pipeline import Recipe, ingest
from ragkit.testing import Faults

# Every kind of failure a real server (or the network) produces, at rates
# that hit many requests of a run of about thirty.
MIXED_FAULTS = Faults(
    error_rate=0.10,
    busy_rate=0.05,
    drop_rate=0.05,
    cut_rate=0.05,
    malformed_rate=0.03,
    seed=61,
)
SCHEDULED = ("500", "503", "drop", "cut", "malformed")


def injected(server: Any) -> Counter[str]:
    """Faults the server injected, by kind."""
    return Counter(r.fault for r in server.requests if r.fault is not None)


def test_every_fault_kind_at_once_still_gives_the_clean_index(
    workspace: Workspace, fake_ollama_factory: Any, figures: dict[str, Any]
) -> None:
    server = fake_ollama_factory(faults=MIXED_FAULTS)
    # One of each kind for sure, whatever the random draws do.
    for kind in SCHEDULED:
        server.fail_next(1, kind, endpoint="/api/embed")
    index = workspace.new_index("faults")
    # More retries than the default and quick backoff keep the run short and
    # make losing a batch to a dozen faults in a row vanishingly unlikely;
    # the retry policy itself is the embedder's.
    with Embedder(
        "nomic-embed-text", hosts=[server.url], batch_size=4, retries=12, backoff=0.01
    ) as embedder:
        report = ingest([workspace.docs], Recipe(), index=index, embedder=embedder)

    assert report.failed == [] and report.skipped == []
    assert len(report.added) == workspace.files
    assert snapshot(index) == workspace.clean
    kinds = injected(server)
    assert set(SCHEDULED) <= set(kinds), kinds
    assert sum(kinds.values()) > len(SCHEDULED), "the random faults never fired"
    figures["faults: mixed run, requests"] = len(server.requests)
    figures["faults: mixed run, injected"] = dict(sorted(kinds.items()))


def test_cli_with_its_default_retries_survives_ten_percent_500s(
    workspace: Workspace,
    fake_ollama_factory: Any,
    figures: dict[str, Any],
    monkeypatch: Any,
) -> None:
    server = fake_ollama_factory(faults=Faults(error_rate=0.10, seed=5))
    server.fail_next(1, "500", endpoint="/api/embed")
    index = workspace.new_index("cli-faults")
    monkeypatch.chdir(workspace.base)

    result = CliRunner().invoke(
        cli,
        ["--host", server.url, "--index", str(index), "index", "docs", "-p", "general"]
        + ["--batch-size", "4"],
    )

    assert result.exit_code == 0, result.output
    assert snapshot(index) == workspace.clean
    kinds = injected(server)
    assert kinds["500"] > 0
    figures["faults: CLI run, 500s injected"] = kinds["500"]
