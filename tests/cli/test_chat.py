"""``ragkit chat``: a REPL on stdin with streamed answers and slash commands."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner, Result

from ragkit.cli._main import cli
from ragkit.testing import FakeOllama


def chat(index: Path, server: FakeOllama, stdin: str, *args: str) -> Result:
    return CliRunner().invoke(
        cli,
        ["--index", str(index), "--host", server.url, "chat", *args],
        input=stdin,
    )


def test_conversation_with_sources_reset_and_exit(
    sample_index: Path, fake_ollama: FakeOllama
) -> None:
    stdin = (
        "How often are API keys rotated?\n"
        "\n"
        "/sources\n"
        "Who approves security exceptions in writing?\n"
        "/reset\n"
        "/sources\n"
        "/exit\n"
        "This line is never read?\n"
    )
    result = chat(sample_index, fake_ollama, stdin, "--k", "2")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("API keys are rotated automatically every 90 days.\n")
    # /sources lists the passages of the last answer (k=2), headed like the prompt.
    assert re.search(r"^\[1\] sample_docs/api-guide\.md:\d+-\d+ › ", out, re.M)
    assert re.search(r"^\[2\] ", out, re.M) and not re.search(r"^\[3\] ", out, re.M)
    assert "sample_docs/security-policy.pdf" in out
    assert "Conversation cleared." in out
    assert out.rstrip().endswith("No sources yet: ask a question first.")
    assert "never read" not in out


def test_end_of_input_leaves_cleanly(
    sample_index: Path, fake_ollama: FakeOllama
) -> None:
    result = chat(sample_index, fake_ollama, "How often are API keys rotated?")
    assert result.exit_code == 0, result.output
    assert "every 90 days" in result.stdout
    assert chat(sample_index, fake_ollama, "").exit_code == 0


def test_unknown_command_and_bad_question_do_not_end_the_chat(
    sample_index: Path, fake_ollama: FakeOllama
) -> None:
    too_long = "why " * 5000
    stdin = f"/bogus\n{too_long}\n/help\n"
    result = chat(sample_index, fake_ollama, stdin)
    assert result.exit_code == 0, result.output
    assert "unknown command /bogus" in result.stderr
    assert "question too long" in result.stderr
    assert "/sources (passages of the last answer)" in result.stdout


def test_chat_output_is_cleaned(evil_index: Path, fake_ollama: FakeOllama) -> None:
    stdin = "When does the backup window start?\n/sources\n"
    result = chat(evil_index, fake_ollama, stdin)
    assert result.exit_code == 0, result.output
    assert "02:00 UTC [2J every night" in result.stdout
    assert "\x1b" not in result.output and "\x07" not in result.output


def test_chat_errors_end_with_one_line(
    sample_index: Path, fake_ollama: FakeOllama
) -> None:
    result = chat(sample_index, fake_ollama, "Hello?\n", "--model", "missing-llm")
    assert result.exit_code == 1
    assert "ragkit models pull missing-llm" in result.stderr
