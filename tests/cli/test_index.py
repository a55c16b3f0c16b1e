"""``ragkit index`` through the command line, against FakeOllama."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from ragkit.cli import cli
from ragkit.cli._index import EXIT_SKIPPED, _StatusLine
from ragkit.pipeline import IngestProgress
from ragkit.store import Store
from ragkit.testing import CostModel, FakeOllama


@pytest.fixture
def docs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "guide.md").write_text(
        "# Guide\n\nAPI keys are rotated every 90 days by the platform team.\n",
        encoding="utf-8",
    )
    (root / "notes.txt").write_text("Backups run nightly at 02:00 UTC.\n", "utf-8")
    monkeypatch.chdir(tmp_path)
    return root


def run(server: FakeOllama, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--host", server.url, *args])
    return result.exit_code, result.stdout, result.stderr


def test_index_prints_a_summary_and_builds_the_index(
    docs: Path, fake_ollama: FakeOllama
) -> None:
    code, out, err = run(fake_ollama, "index", "docs")

    assert code == 0, err
    assert "Indexed 2 file(s) into .ragkit" in out
    assert "added 2, changed 0, removed 0, unchanged 0, skipped 0" in out
    with Store.open(".ragkit") as store:
        assert store.stats().documents == 2


def test_json_summary_is_data_on_stdout(docs: Path, fake_ollama: FakeOllama) -> None:
    code, out, _ = run(fake_ollama, "index", "docs", "--json")

    assert code == 0
    summary = json.loads(out)
    assert sorted(summary["added"]) == ["docs/guide.md", "docs/notes.txt"]
    assert summary["skipped"] == [] and summary["chunks"] >= 2


def test_rerun_reports_unchanged(docs: Path, fake_ollama: FakeOllama) -> None:
    run(fake_ollama, "index", "docs")
    code, out, _ = run(fake_ollama, "index", "docs", "--json")

    assert code == 0
    assert json.loads(out)["unchanged"] == 2
    assert json.loads(out)["requests"] == 0


def test_skipped_files_are_named_on_stderr_and_strict_changes_the_exit(
    docs: Path, fake_ollama: FakeOllama
) -> None:
    (docs / "blob.txt").write_bytes(b"\x00\xff" * 64)

    code, out, err = run(fake_ollama, "index", "docs")
    assert code == 0
    assert "skipped docs/blob.txt: binary content" in err

    code, _, _ = run(fake_ollama, "index", "docs", "--strict")
    assert code == EXIT_SKIPPED


def test_dry_run_lists_what_would_change(docs: Path, fake_ollama: FakeOllama) -> None:
    code, out, _ = run(fake_ollama, "index", "docs", "--dry-run")

    assert code == 0
    assert "would add: docs/guide.md" in out
    assert not Path(".ragkit").exists()


def test_rebuild_with_dry_run_is_a_usage_error(
    docs: Path, fake_ollama: FakeOllama
) -> None:
    code, _, err = run(fake_ollama, "index", "docs", "--rebuild", "--dry-run")

    assert code == 2
    assert "cannot be used together" in err


def test_pipeline_by_name_and_unknown_name(docs: Path, fake_ollama: FakeOllama) -> None:
    code, _, err = run(fake_ollama, "index", "docs", "--pipeline", "docs")
    assert code == 0, err
    with Store.open(".ragkit") as store:
        assert store.manifest.pipeline == "docs"

    code, _, err = run(fake_ollama, "index", "docs", "--pipeline", "nope")
    assert code == 1
    assert "no pipeline recipe named 'nope'" in err
    assert "code, docs, general, papers" in err


def test_recipe_file_with_an_unknown_key_is_one_clear_line(
    docs: Path, fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    recipe = tmp_path / "mine.toml"
    recipe.write_text("[chunking]\ntarget_tokns = 100\n", encoding="utf-8")

    code, _, err = run(fake_ollama, "index", "docs", "--pipeline", str(recipe))

    assert code == 1
    assert err.strip().splitlines() == [
        f"Error: {recipe}: [chunking] unknown key 'target_tokns' "
        "(known: max_tokens, min_tokens, overlap_tokens, target_tokens)"
    ]


def test_missing_model_says_how_to_pull_it(docs: Path, fake_ollama: FakeOllama) -> None:
    code, _, err = run(fake_ollama, "index", "docs", "--embed-model", "missing-model")

    assert code == 1
    assert "ollama pull missing-model" in err
    assert "Traceback" not in err

    code, _, err = run(
        fake_ollama, "--verbose", "index", "docs", "--embed-model", "missing-model"
    )
    assert code == 1
    assert "Traceback (most recent call last)" in err


def test_server_down_is_one_line_without_traceback(
    docs: Path, fake_ollama_factory
) -> None:
    server = fake_ollama_factory()
    url = server.url
    server.stop()

    result = CliRunner().invoke(cli, ["--host", url, "index", "docs"])
    assert result.exit_code == 1
    error_lines = [
        line for line in result.stderr.splitlines() if line.startswith("Error")
    ]
    assert len(error_lines) == 1 and "ollama serve" in error_lines[0]
    assert "Traceback" not in result.stderr


def test_other_embedding_model_on_existing_index_is_refused(
    docs: Path, fake_ollama: FakeOllama
) -> None:
    run(fake_ollama, "index", "docs")

    code, _, err = run(fake_ollama, "index", "docs", "--embed-model", "all-minilm")

    assert code == 1
    assert "--rebuild" in err and "nomic-embed-text" in err


def test_installed_console_script_indexes_a_folder(
    docs: Path, fake_ollama: FakeOllama
) -> None:
    script = Path(sys.executable).with_name("ragkit")
    result = subprocess.run(
        [str(script), "--host", fake_ollama.url, "index", "docs", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["added"]) == 2


def test_the_status_line_shows_files_of_the_total_and_the_time_left(
    capsys: pytest.CaptureFixture[str],
) -> None:
    line = _StatusLine()
    line.update(
        IngestProgress(
            phase="indexing",
            files_seen=10,
            files_done=8,
            chunks_queued=100,
            chunks_embedded=50,
            chunks_written=40,
            elapsed=5.0,
            files_total=40,
        )
    )
    shown = capsys.readouterr().err
    assert "indexing: 10/40 files" in shown
    assert "50/100 chunks embedded (10/s)" in shown
    assert shown.endswith("~35s left")


def test_embed_hosts_share_the_batches(
    docs: Path, fake_ollama_factory: Callable[..., FakeOllama]
) -> None:
    for i in range(40):
        note = f"# Note {i}\n\nTopic {i * 7}.\n"
        (docs / f"extra{i:02d}.md").write_text(note, "utf-8")
    # Each request takes a while, so one host alone cannot keep up.
    first, second = (
        fake_ollama_factory(cost=CostModel(per_request_ms=20)) for _ in range(2)
    )
    code, out, err = run(
        first,
        "index",
        "docs",
        "--batch-size",
        "2",
        "--embed-host",
        first.url,
        "--embed-host",
        second.url,
    )
    assert code == 0, err
    assert "Indexed 42 file(s)" in out
    assert first.counts("/api/embed") > 0 and second.counts("/api/embed") > 0
