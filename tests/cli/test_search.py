"""``ragkit search``: ranked passages without the chat model."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from ragkit.cli._main import cli
from ragkit.testing import FakeOllama


def search(index: Path, server: FakeOllama, *args: str) -> Result:
    return CliRunner().invoke(
        cli, ["--index", str(index), "--host", server.url, "search", *args]
    )


def test_ranked_results_with_location_and_snippet(
    sample_index: Path, fake_ollama: FakeOllama
) -> None:
    result = search(sample_index, fake_ollama, "API key rotation", "--k", "3")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith(" 1. 0.")
    assert "sample_docs/api-guide.md:" in lines[0]
    assert lines[1].startswith("    ")
    ranks = [line.split(".")[0].strip() for line in lines if not line.startswith("  ")]
    assert ranks == ["1", "2", "3"]
    assert not any(r.path == "/api/chat" for r in fake_ollama.requests)


def test_json_results(sample_index: Path, fake_ollama: FakeOllama) -> None:
    result = search(
        sample_index, fake_ollama, "deploy freeze", "--mode", "lexical", "--json"
    )
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)
    assert [h["rank"] for h in hits] == list(range(1, len(hits) + 1))
    assert hits[0]["path"] == "sample_docs/operations/deploy.rst"
    assert all(h["vector_score"] is None and h["lexical_score"] for h in hits)
    assert {"line_start", "line_end", "page", "headings", "text"} <= set(hits[0])


def test_filters(sample_index: Path, fake_ollama: FakeOllama) -> None:
    result = search(sample_index, fake_ollama, "security", "--kind", "pdf", "--json")
    paths = {h["path"] for h in json.loads(result.stdout)}
    assert paths <= {
        "sample_docs/security-policy.pdf",
        "sample_docs/architecture-overview.pdf",
    }
    nothing = search(sample_index, fake_ollama, "security", "--where", "team=none")
    assert nothing.exit_code == 0
    assert nothing.stdout == "" and "no passage matched" in nothing.stderr


def test_bad_options_are_usage_errors(
    sample_index: Path, fake_ollama: FakeOllama
) -> None:
    assert search(sample_index, fake_ollama, " ").exit_code == 2
    assert search(sample_index, fake_ollama, "x", "--where", "novalue").exit_code == 2
    assert search(sample_index, fake_ollama, "x", "--mode", "fuzzy").exit_code == 2
    assert search(sample_index, fake_ollama, "x", "--k", "0").exit_code == 2
    twice = search(sample_index, fake_ollama, "x", "--where", "a=1", "--where", "a=2")
    assert twice.exit_code == 2 and "given twice" in twice.stderr


def test_snippets_are_cleaned(evil_index: Path, fake_ollama: FakeOllama) -> None:
    result = search(evil_index, fake_ollama, "backup window restore drill")
    assert result.exit_code == 0, result.output
    assert "[2J every night" in result.stdout and "pwned" in result.stdout
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    as_json = search(evil_index, fake_ollama, "backup window", "--json")
    assert "\x1b" not in as_json.stdout and "\\u001b" in as_json.stdout
