"""``ragkit ask`` via CliRunner and the installed console script, with FakeOllama."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

import ragkit.cli._query as query_cli
from ragkit.app import Index
from ragkit.cli._main import cli
from ragkit.ollama import Client
from ragkit.query import FALLBACK_WARNING
from ragkit.testing import FakeOllama

QUESTION = "How often are API keys rotated?"
RAGKIT = Path(sys.executable).with_name("ragkit")


def ask(index: Path, server: FakeOllama, *args: str, **kwargs: Any) -> Result:
    return CliRunner().invoke(
        cli, ["--index", str(index), "--host", server.url, "ask", *args], **kwargs
    )


def test_answer_then_verified_sources(
    sample_index: Path, fake_ollama: FakeOllama
) -> None:
    result = ask(sample_index, fake_ollama, QUESTION)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "API keys are rotated automatically every 90 days."
    assert lines[2] == "Sources:"
    assert re.sub(r"^\[\d\]", "[N]", lines[3]) == (
        "[N] sample_docs/api-guide.md:26 › Tidepool API guide › Authentication"
        " › API keys › Key rotation"
    )
    assert lines[4] == '    "API keys are rotated automatically every 90 days."'
    assert "Unverified" not in result.output
    assert result.stderr == ""


def test_pdf_sources_show_the_page(sample_index: Path, fake_ollama: FakeOllama) -> None:
    result = ask(
        sample_index,
        fake_ollama,
        "How is an exception to the security policy requested?",
        "--kind",
        "pdf",
    )
    assert result.exit_code == 0, result.output
    pattern = r"^\[\d\] sample_docs/security-policy\.pdf:47-49 p\.4$"
    assert re.search(pattern, result.stdout, re.MULTILINE)


def test_streamed_output_is_the_same_text(
    sample_index: Path, fake_ollama: FakeOllama
) -> None:
    plain = ask(sample_index, fake_ollama, QUESTION, "--no-stream")
    streamed = ask(sample_index, fake_ollama, QUESTION, "--stream")
    assert streamed.exit_code == plain.exit_code == 0
    assert streamed.stdout == plain.stdout


def test_json_output_is_the_answer_as_data(
    sample_index: Path, fake_ollama: FakeOllama
) -> None:
    result = ask(sample_index, fake_ollama, QUESTION, "--json", "--k", "4")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["question"] == QUESTION
    assert data["answer"] == "API keys are rotated automatically every 90 days."
    assert data["model"] == "llama3.2"
    [citation] = data["citations"]
    assert citation["verified"] is True and citation["reason"] == ""
    assert citation["path"] == "sample_docs/api-guide.md"
    assert (citation["line_start"], citation["line_end"]) == (26, 26)
    assert citation["page"] is None
    assert citation["quote"] == "API keys are rotated automatically every 90 days."
    assert citation["score"] == data["passages"][citation["source"] - 1]["score"]
    assert 1 <= len(data["passages"]) <= 4
    assert data["passages"][0]["rank"] == 1 and data["passages"][0]["text"]
    assert data["timings"]["total"] > 0
    assert data["tokens"]["prompt"] > 0 and data["tokens"]["completion"] > 0
    assert data["warnings"] == []


def test_options_reach_the_engine(
    sample_index: Path, fake_ollama: FakeOllama, monkeypatch: pytest.MonkeyPatch
) -> None:
    indexes: list[Index] = []
    real_open = Index.open

    def open_and_keep(*args: Any, **kwargs: Any) -> Index:
        indexes.append(real_open(*args, **kwargs))
        return indexes[-1]

    monkeypatch.setattr(query_cli.Index, "open", open_and_keep)
    result = ask(
        sample_index,
        fake_ollama,
        QUESTION,
        "--temperature",
        "0.4",
        "--mode",
        "lexical",
        "--path",
        "sample_docs/*.md",
        "--json",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {p["path"] for p in data["passages"]} <= {
        "sample_docs/README.md",
        "sample_docs/api-guide.md",
        "sample_docs/onboarding.md",
    }
    assert all(p["vector_score"] is None for p in data["passages"])
    [index] = indexes
    assert index.options == {"temperature": 0.4}
    assert index.chat_model == "llama3.2"


def test_model_comes_from_the_environment(
    sample_index: Path, fake_ollama: FakeOllama
) -> None:
    result = ask(
        sample_index, fake_ollama, QUESTION, env={"RAGKIT_CHAT_MODEL": "missing-llm"}
    )
    assert result.exit_code == 1
    assert "ragkit models pull missing-llm" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_control_sequences_never_reach_the_terminal(
    evil_index: Path, fake_ollama: FakeOllama
) -> None:
    question = "When does the backup window start?"
    for flag in ("--no-stream", "--stream"):
        result = ask(evil_index, fake_ollama, question, flag)
        assert result.exit_code == 0, result.output
        assert "backup window starts at 02:00 UTC" in result.stdout
        assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    as_json = ask(evil_index, fake_ollama, question, "--json")
    assert "\x1b" not in as_json.stdout
    assert "\\u001b[2J" in as_json.stdout
    assert "\x1b[2J" in json.loads(as_json.stdout)["answer"]


def test_unverified_citations_are_flagged_not_shown_as_sources(
    sample_index: Path, fake_ollama: FakeOllama, script_chat: ScriptChat
) -> None:
    def reply(body: dict[str, Any]) -> str:
        sources = body["messages"][-2]["content"].split("\n\n[")
        quote = "API keys are rotated automatically every 90 days."
        n = next(int(b.split("]")[0]) for b in sources[1:] if quote in b)
        citations = [
            {"source": n, "quote": quote},
            {"source": 7, "quote": "Keys are rotated \x1b[2J hourly by robots."},
        ]
        return json.dumps(
            {"answer": "Keys rotate every 90 days.", "citations": citations}
        )

    script_chat(reply)
    result = ask(sample_index, fake_ollama, QUESTION, "--k", "3")
    assert result.exit_code == 0, result.output
    out = result.stdout
    sources, unverified = out.split("Unverified citations")
    assert re.search(r"^\[\d\] sample_docs/api-guide\.md:26 ", sources, re.M)
    assert "[7]" not in sources
    assert "UNVERIFIED [7] source 7: source 7 was not among the" in unverified
    assert 'claimed quote: "Keys are rotated [2J hourly by robots."' in unverified
    assert "\x1b" not in out


def test_fallback_shows_raw_text_sources_and_a_warning(
    sample_index: Path, fake_ollama: FakeOllama, script_chat: ScriptChat
) -> None:
    script_chat(lambda body: "Keys rotate \x1b[2J quarterly")
    result = ask(sample_index, fake_ollama, QUESTION, "--stream")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Keys rotate [2J quarterly")
    assert "Retrieved sources (the answer above was not checked):" in result.stdout
    assert "asking again" in result.stderr
    assert FALLBACK_WARNING in result.stderr
    assert "\x1b" not in result.output


ScriptChat = Callable[[Callable[[dict[str, Any]], str]], None]


@pytest.fixture
def script_chat(
    monkeypatch: pytest.MonkeyPatch, fake_ollama: FakeOllama
) -> Iterator[ScriptChat]:
    """Make every chat reply what a function returns; the rest goes to FakeOllama."""
    upstream = httpx.Client(base_url=fake_ollama.url)

    def install(content: Callable[[dict[str, Any]], str]) -> None:
        def handle(request: httpx.Request) -> httpx.Response:
            if request.url.path == "/api/chat":
                reply = {
                    "model": "llama3.2",
                    "message": {
                        "role": "assistant",
                        "content": content(json.loads(request.content)),
                    },
                    "done": True,
                }
                return httpx.Response(200, json=reply)
            sent = upstream.post(request.url.path, content=request.content)
            return httpx.Response(sent.status_code, content=sent.content)

        real_open = Index.open

        def open_scripted(*args: Any, **kwargs: Any) -> Index:
            transport = httpx.MockTransport(handle)
            kwargs["client"] = Client(fake_ollama.url, transport=transport)
            return real_open(*args, **kwargs)

        monkeypatch.setattr(query_cli.Index, "open", open_scripted)

    yield install
    upstream.close()


# --- errors ---------------------------------------------------------------------


def test_empty_question_is_a_usage_error(
    sample_index: Path, fake_ollama: FakeOllama
) -> None:
    result = ask(sample_index, fake_ollama, "  ")
    assert result.exit_code == 2
    assert "question is empty" in result.stderr


def test_missing_index_says_what_to_run(
    tmp_path: Path, fake_ollama: FakeOllama
) -> None:
    result = ask(tmp_path / "none", fake_ollama, QUESTION)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: no index at")
    assert "run `ragkit index <folder>`" in result.stderr


def test_an_empty_index_says_what_to_run(
    tmp_path: Path, fake_ollama: FakeOllama
) -> None:
    Index.create(tmp_path / "empty", host=fake_ollama.url).close()
    for command in ("ask", "search"):
        result = CliRunner().invoke(
            cli,
            [
                "--index",
                str(tmp_path / "empty"),
                "--host",
                fake_ollama.url,
                command,
                QUESTION,
            ],
        )
        assert result.exit_code == 1, command
        assert len(result.stderr.strip().splitlines()) == 1
        assert "is empty; run `ragkit index <folder>`" in result.stderr


def test_a_question_longer_than_the_context_is_refused_before_sending(
    sample_index: Path, fake_ollama: FakeOllama
) -> None:
    result = ask(sample_index, fake_ollama, "why " * 20_000)
    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "too long" in result.stderr and "Traceback" not in result.stderr
    assert fake_ollama.counts("/api/chat") == 0


def test_server_down_is_one_line(sample_index: Path, fake_ollama: FakeOllama) -> None:
    url = fake_ollama.url
    fake_ollama.stop()
    result = CliRunner().invoke(
        cli,
        [
            "--index",
            str(sample_index),
            "--host",
            url,
            "ask",
            QUESTION,
            "--mode",
            "lexical",
        ],
    )
    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "ollama serve" in result.stderr and "Traceback" not in result.stderr


# --- the installed command ------------------------------------------------------


def test_installed_ragkit_answers_in_a_subprocess(
    sample_index: Path, fake_ollama: FakeOllama
) -> None:
    env = {**os.environ, "OLLAMA_HOST": fake_ollama.url}
    done = subprocess.run(
        [str(RAGKIT), "--index", str(sample_index), "ask", QUESTION],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("API keys are rotated automatically every 90 days.")
    assert re.search(r"^\[\d\] sample_docs/api-guide\.md:26 ", done.stdout, re.M)
