"""The README's guide to the Python API: every ``python`` block runs as shown.

The guide is the part of ``README.md`` between ``<!-- app-guide:start -->`` and
``<!-- app-guide:end -->``. The blocks run against FakeOllama through
``OLLAMA_HOST``, in a folder holding a copy of ``sample_docs/``.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from ragkit.testing import FakeOllama

ROOT = Path(__file__).resolve().parents[2]
START, END = "<!-- app-guide:start -->", "<!-- app-guide:end -->"
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.S | re.M)


def guide() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert START in text and END in text, f"README.md lost its {START} / {END} markers"
    return text.split(START, 1)[1].split(END, 1)[0]


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
