"""Guarantee 2: the server going away stops a run cleanly, and the next run resumes."""

from __future__ import annotations

from typing import Any

from reliability_helpers import (
    RagkitProcess,
    Workspace,
    assert_whole_documents,
    json_report,
    raw_counts,
    run_ragkit,
    snapshot,
    wait_for,
)

from ragkit.testing import CostModel

STOP_AFTER = 8
"""Embedding requests answered before the server is stopped."""

GIVE_UP = 60.0
"""Seconds the failing run may take: its retries need about eight."""


def test_server_stopped_mid_run_fails_in_one_line_keeps_work_and_resumes(
    workspace: Workspace, fake_ollama_factory: Any, figures: dict[str, Any]
) -> None:
    # 15 ms an input and four inputs a request: the run needs about thirty
    # requests, so stopping after eight lands well inside it.
    server = fake_ollama_factory(cost=CostModel(per_input_ms=15))
    index = workspace.new_index("gone")
    args = ["--host", server.url, "--index", str(index), "index", "docs"]
    process = RagkitProcess([*args, "--batch-size", "4"], cwd=workspace.base)

    wait_for(lambda: server.counts("/api/embed") >= STOP_AFTER)
    assert process.running(), "the run ended before the server could be stopped"
    server.stop()
    finished = process.wait(GIVE_UP)

    assert finished.returncode == 1, finished.stderr
    assert "Traceback" not in finished.stderr
    errors = finished.error_lines()
    assert len(errors) == 1, finished.stderr
    assert "ollama serve" in errors[0] and "OLLAMA_HOST" in errors[0]
    assert finished.stdout == ""
    # What was committed before the server went away is whole and kept.
    kept = assert_whole_documents(index, workspace.clean)
    assert 0 < kept < workspace.files
    counts = raw_counts(index)
    assert counts.integrity == "ok" and counts.chunks_without_vector == 0

    # Back on another port: the next run does only what is missing.
    again = fake_ollama_factory()
    resumed = json_report(
        run_ragkit(
            ["--host", again.url, *args[2:], "--batch-size", "4", "--json"],
            cwd=workspace.base,
        )
    )

    assert resumed["unchanged"] == kept
    assert len(resumed["added"]) == workspace.files - kept
    sent = sum(len(r.body["input"]) for r in again.requests if r.path == "/api/embed")
    assert sent < len(workspace.clean)
    assert snapshot(index) == workspace.clean
    figures["server gone: documents kept when the server died"] = (
        f"{kept} of {workspace.files}"
    )
    figures["server gone: inputs embedded again on resume"] = (
        f"{sent} of {len(workspace.clean)}"
    )
