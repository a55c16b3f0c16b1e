"""Every script in ``examples/`` runs against FakeOllama through ``OLLAMA_HOST``."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ragkit.testing import FakeOllama

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
TIMEOUT = 60


def environment(server: FakeOllama) -> dict[str, str]:
    return {**os.environ, "OLLAMA_HOST": server.url, "PYTHONUNBUFFERED": "1"}


def run_example(server: FakeOllama, name: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        env=environment(server),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout


def test_every_example_has_a_test() -> None:
    tested = {"qa_minimal.py", "sqlite_rows.py", "asyncio_server.py", "dedupe_embed.py"}
    present = {path.name for path in EXAMPLES.glob("*.py")} - {"demo.py"}
    assert present == tested


def test_qa_minimal_answers_with_a_checked_citation(fake_ollama: FakeOllama) -> None:
    out = run_example(
        fake_ollama, "qa_minimal.py", "sample_docs", "How often are API keys rotated?"
    )

    lines = out.splitlines()
    assert re.fullmatch(r"indexed \d+ files \(\d+ chunks\)", lines[0])
    assert "every 90 days" in lines[1]
    assert re.search(r"^\[\d+\] sample_docs/api-guide\.md:\d+$", out, re.M)


def test_sqlite_rows_filters_on_row_metadata(fake_ollama: FakeOllama) -> None:
    out = run_example(fake_ollama, "sqlite_rows.py")

    lines = out.splitlines()
    assert lines[0] == "indexed 6 new and 0 changed rows"
    found = [line.split()[0] for line in lines[1:3]]
    # Only billing tickets of priority 2 or more pass the filter.
    assert sorted(found) == ["ticket/1", "ticket/5"]
    assert "Password reset emails" in out
    assert lines[-1] == "  from ticket/4"


def test_sqlite_rows_reads_a_database_file(
    fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    import sqlite3

    path = tmp_path / "tickets.db"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE tickets (id INTEGER PRIMARY KEY, team TEXT, "
            "priority INTEGER, year INTEGER, body TEXT)"
        )
        db.execute(
            "INSERT INTO tickets VALUES (9, 'billing', 3, 2024, "
            "'An invoice was sent twice.')"
        )
    db.close()

    out = run_example(fake_ollama, "sqlite_rows.py", str(path))

    assert "indexed 1 new and 0 changed rows" in out
    assert "ticket/9 p3 An invoice was sent twice." in out


def test_dedupe_embed_groups_near_duplicates(fake_ollama: FakeOllama) -> None:
    out = run_example(fake_ollama, "dedupe_embed.py")

    assert "Reset your password from the account settings page!" in out
    assert "The office is closed on all public holidays." in out
    assert "Expense reports" not in out
    assert out.splitlines()[-1] == "2 group(s) of near duplicates among 6 texts"


def read_chunked(sock: socket.socket) -> tuple[str, list[dict[str, object]]]:
    """Read a whole HTTP/1.1 chunked response; return its head and NDJSON lines."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    payload = b""
    while True:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        payload += body[:size]
        body = body[size + 2 :]
    lines = [json.loads(line) for line in payload.decode().splitlines()]
    return head.decode(), lines


def ask_over_http(port: int, question: dict[str, object]) -> tuple[str, list[dict]]:
    body = json.dumps(question).encode()
    request = (
        f"POST /ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
        "Content-Type: application/json\r\n\r\n"
    ).encode() + body
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(request)
        return read_chunked(sock)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_asyncio_server_streams_answers_over_a_socket(fake_ollama: FakeOllama) -> None:
    command = [sys.executable, str(EXAMPLES / "asyncio_server.py"), "sample_docs"]
    with subprocess.Popen(
        [*command, "--port", "0"],
        env=environment(fake_ollama),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as server:
        try:
            assert server.stdout is not None
            first = server.stdout.readline()
            match = re.fullmatch(r"listening on http://127\.0\.0\.1:(\d+)\n", first)
            assert match, first + (server.stderr.read() if server.stderr else "")
            port = int(match.group(1))

            head, lines = ask_over_http(
                port, {"question": "How often are API keys rotated?"}
            )
            assert head.startswith("HTTP/1.1 200 OK")
            assert "Transfer-Encoding: chunked" in head
            deltas = [line["delta"] for line in lines if "delta" in line]
            final = lines[-1]
            assert deltas and "".join(map(str, deltas)) == final["answer"]
            assert "every 90 days" in str(final["answer"])
            assert final["citations"]

            filtered = ask_over_http(
                port, {"question": "API keys?", "where": {"team": {"$bad": 1}}}
            )
            assert filtered[1][-1]["error"].startswith("unknown filter operator")
        finally:
            server.send_signal(signal.SIGINT)
            out, err = server.communicate(timeout=TIMEOUT)
    assert server.returncode == 0, err
    assert out.strip() == "stopped"
