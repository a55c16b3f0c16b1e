"""`ragkit fake-ollama`: runs in the foreground, says where, stops on Ctrl-C."""

from __future__ import annotations

import re
import signal
import subprocess
import sys

import httpx
import pytest
from click.testing import CliRunner

from ragkit.cli import cli
from ragkit.testing import FakeOllama

# A shell starts background jobs with SIGINT ignored, and Python then leaves
# Ctrl-C ignored too; the child gets a terminal's default, whoever ran pytest.
_LAUNCH = (
    "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "from ragkit.cli import main; main()"
)


def test_runs_until_sigint_and_exits_zero() -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", _LAUNCH, "fake-ollama", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        match = re.search(r"OLLAMA_HOST=(http://127\.0\.0\.1:\d+)", line)
        assert match, line
        url = match.group(1)
        assert f"listening on {url}" in line
        with httpx.Client(base_url=url) as client:
            assert client.get("/api/version").json() == {"version": "0.33.0"}
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.com"])
def test_refuses_non_loopback_host_without_allow_remote(host: str) -> None:
    result = CliRunner().invoke(cli, ["fake-ollama", "--host", host, "--port", "0"])
    assert result.exit_code == 2
    assert f"refusing to bind {host}" in result.output
    assert "--allow-remote" in result.output


def test_port_in_use_is_one_clear_error(fake_ollama: FakeOllama) -> None:
    result = CliRunner().invoke(cli, ["fake-ollama", "--port", str(fake_ollama.port)])
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{fake_ollama.port}" in result.output


def test_help_shows_the_knobs() -> None:
    result = CliRunner().invoke(cli, ["fake-ollama", "--help"])
    assert result.exit_code == 0
    for option in ("--cost-request-ms", "--cost-input-ms", "--cost-token-ms"):
        assert option in result.output
    assert "--parallel" in result.output
