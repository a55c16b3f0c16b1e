"""The README's guide to the Python API: every ``python`` block runs as shown.

The guide is the part of ``README.md`` between ``<!-- app-guide:start -->`` and
``<!-- app-guide:end -->`` (before it is merged, the same part of the fragment
``/work/notes/readme-app.md``). The blocks run against FakeOllama through
``OLLAMA_HOST``, in a folder holding a copy of ``sample_docs/``.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from ragkit.testing import FakeOllama

ROOT = Path(__file__).resolve().parents[2]
FRAGMENT = Path("/work/notes/readme-app.md")
START, END = "<!-- app-guide:start -->", "<!-- app-guide:end -->"
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.S | re.M)


def guide() -> str:
    for source in (ROOT / "README.md", FRAGMENT):
        try:
            text = source.read_text(encoding="utf-8")
        except OSError:
            continue
        if START in text and END in text:
            return text.split(START, 1)[1].split(END, 1)[0]
    pytest.skip("neither README.md nor the fragment holds the Python guide yet")


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
