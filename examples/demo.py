"""ragkit's main job in one command: index ``sample_docs/`` and answer a question.

Run it with ``make demo`` (or ``python examples/demo.py``). It uses the
Ollama at ``OLLAMA_HOST`` (default http://127.0.0.1:11434) when one answers
and has the models; otherwise it starts FakeOllama, ragkit's stand-in server,
and says so. The work is done by the real ``ragkit`` command, exactly as you
would type it.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from ragkit.errors import OllamaError
from ragkit.ollama import Client
from ragkit.testing import FakeOllama

ROOT = Path(__file__).resolve().parents[1]
EMBED_MODEL = os.environ.get("RAGKIT_EMBED_MODEL", "nomic-embed-text")
CHAT_MODEL = os.environ.get("RAGKIT_CHAT_MODEL", "llama3.2")
QUESTION = "How often are API keys rotated, and how long does the old key keep working?"


def real_ollama_has_models(host: str | None) -> bool:
    """Whether an Ollama answers at ``host`` and has both models the demo needs."""
    try:
        with Client(host, timeout=2.0, retries=0) as client:
            names = {m.model.split(":")[0] for m in client.list().models}
    except OllamaError:
        return False
    return {EMBED_MODEL.split(":")[0], CHAT_MODEL.split(":")[0]} <= names


def ragkit(*args: str, env: dict[str, str]) -> None:
    """Run the installed ``ragkit`` command, showing it like a shell would."""
    print(f"$ {shlex.join(['ragkit', *args])}", flush=True)
    command = [sys.executable, "-m", "ragkit", *args]
    subprocess.run(command, env=env, check=True)
    print(flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("question", nargs="?", default=QUESTION)
    args = parser.parse_args()
    env = dict(os.environ)
    workdir = Path(tempfile.mkdtemp(prefix="ragkit-demo-"))
    shutil.copytree(ROOT / "sample_docs", workdir / "sample_docs")
    server: FakeOllama | None = None
    host = os.environ.get("OLLAMA_HOST")
    try:
        if real_ollama_has_models(host):
            print(f"Using the Ollama at {host or 'http://127.0.0.1:11434'}.")
        else:
            server = FakeOllama().start()
            env["OLLAMA_HOST"] = server.url
            print(
                f"No Ollama with {EMBED_MODEL} and {CHAT_MODEL} answered at "
                f"{host or 'http://127.0.0.1:11434'}, so this demo runs on FakeOllama, "
                "ragkit's built-in stand-in server (its answers quote the sources "
                f"instead of writing new text); for a real one: `ollama pull "
                f"{EMBED_MODEL} && ollama pull {CHAT_MODEL}`, then run again "
                "(set OLLAMA_HOST if it is not on this machine).",
                flush=True,
            )
        os.chdir(workdir)
        ragkit("index", "sample_docs", env=env)
        ragkit("ask", args.question, "--model", CHAT_MODEL, env=env)
    except subprocess.CalledProcessError as exc:
        return exc.returncode
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
