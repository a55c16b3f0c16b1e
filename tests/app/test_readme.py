"""The README's Python guides: every ``python`` block runs as shown.

A guide is the part of ``README.md`` between ``<!-- NAME:start -->`` and
``<!-- NAME:end -->``: ``app-guide`` (ragkit.Index and friends), and
``ollama-guide`` and ``ollama-guide-2`` (ragkit.ollama). The blocks run against
FakeOllama through ``OLLAMA_HOST``, in a folder holding a copy of
``sample_docs/``.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from ragkit.testing import FakeOllama

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.S | re.M)


def guide(name: str = "app-guide") -> str:
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert start in text and end in text, f"README.md lost its {start} / {end} markers"
    return text.split(start, 1)[1].split(end, 1)[0]


def test_the_guide_has_code() -> None:
    assert len(BLOCK.findall(guide())) >= 4


def test_every_block_runs(
    fake_ollama_env: FakeOllama,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    shutil.copytree(ROOT / "sample_docs", tmp_path / "sample_docs")
    monkeypatch.chdir(tmp_path)
    for number, code in enumerate(BLOCK.findall(guide()), 1):
        exec(compile(code, f"<guide block {number}>", "exec"), {"__name__": "guide"})
    out = capsys.readouterr().out
    assert "every 90 days" in out
    assert "['ticket/1']" in out
    assert "(2, 768)" in out


def test_every_ollama_client_block_runs(
    fake_ollama_env: FakeOllama,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    # The Host section between the two parts names remote hosts; it is not run.
    blocks = BLOCK.findall(guide("ollama-guide")) + BLOCK.findall(
        guide("ollama-guide-2")
    )
    assert len(blocks) >= 10
    for number, code in enumerate(blocks, 1):
        exec(compile(code, f"<ollama guide block {number}>", "exec"), {"__name__": "g"})
    out = capsys.readouterr().out
    assert "['city']" in out
    # The tool example really calls the tool: its result reaches the answer.
    assert "21 degrees" in out
