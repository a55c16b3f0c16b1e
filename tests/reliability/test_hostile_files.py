"""Guarantee 5: every hostile file is indexed or skipped with a reason, harmlessly.

Nothing crashes, hangs, blows up memory, loses other files or injects
lines or escape sequences into the terminal.
"""

from __future__ import annotations

import os
import random
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hostile_corpus import (
    HostileCorpus,
    prose,
    unlock,
    write_hostile_corpus,
    write_undecodable_name,
)
from reliability_helpers import (
    TERMINAL_CONTROL,
    Finished,
    json_report,
    run_ragkit,
    snapshot,
)

from ragkit.pipeline import Pipeline
from ragkit.store import Store
from ragkit.testing import FakeOllama

MEMORY_CEILING_KIB = 1024 * 1024
"""A run over the hostile corpus stays under 1 GiB (its worst file inflates to
256 MiB and its biggest is 100 MiB)."""


def unprivileged_wrapper() -> tuple[list[str], bool]:
    """A command prefix that makes root obey file permissions, and whether it works.

    The suite usually runs as root, which reads a mode-000 file anyway; with
    the ``CAP_DAC_*`` capabilities dropped from the bounding set it cannot,
    so the unreadable-file path really runs.
    """
    if os.geteuid() != 0:
        return [], True
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return [], False
    return [setpriv, "--bounding-set", "-dac_override,-dac_read_search", "--"], True


@dataclass
class HostileRun:
    """The hostile corpus and two runs of ``ragkit index`` over it."""

    corpus: HostileCorpus
    first: Finished
    report: dict[str, Any]
    index: Path


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostileRun]:
    """Index the hostile corpus twice: for the terminal, then ``--json``."""
    base = tmp_path_factory.mktemp("hostile")
    corpus = write_hostile_corpus(base / "corpus")
    wrapper, enforced = unprivileged_wrapper()
    if not enforced:
        pytest.skip("running as root without setpriv: permissions cannot be enforced")
    index = base / "index"
    try:
        with FakeOllama() as server:
            args = ["--host", server.url, "--index", str(index), "index", "corpus"]
            first = run_ragkit(args, cwd=base, wrapper=wrapper)
            second = run_ragkit([*args, "--json"], cwd=base, wrapper=wrapper)
        yield HostileRun(corpus, first, json_report(second), index)
    finally:
        unlock(corpus.root)


def in_report(paths: set[str]) -> set[str]:
    """Corpus paths as the report names them (relative to the index's parent)."""
    return {f"corpus/{path}" for path in paths}


def indexed(hostile: HostileRun) -> set[str]:
    """Paths the first run indexed (the second found them unchanged)."""
    with Store.open(hostile.index) as store:
        return {record.path for record in store.documents()}


def test_nothing_crashes_and_every_file_is_indexed_or_skipped_with_a_reason(
    hostile: HostileRun, figures: dict[str, Any]
) -> None:
    first, report, corpus = hostile.first, hostile.report, hostile.corpus
    assert first.returncode == 0, first.stderr
    assert "Traceback" not in first.stderr
    added = indexed(hostile)
    skipped = {item["path"]: item["reason"] for item in report["skipped"]}

    assert not added & set(skipped)
    assert added | set(skipped) == in_report(corpus.all_paths)
    assert in_report(corpus.good) <= added
    assert in_report(corpus.bad) <= set(skipped)
    assert all(reason.strip() for reason in skipped.values())
    for path in in_report(corpus.unreadable):
        assert "permission denied" in skipped[path].lower(), skipped[path]
    figures["hostile: files and links tried"] = len(corpus.all_paths)
    figures["hostile: indexed / skipped"] = f"{len(added)} / {len(skipped)}"


def test_good_files_among_hostile_ones_are_indexed_as_if_alone(
    hostile: HostileRun, tmp_path: Path
) -> None:
    alone = tmp_path / "corpus"
    for relpath in hostile.corpus.good:
        target = alone / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(hostile.corpus.root / relpath, target)
    with FakeOllama() as server:
        Pipeline().run(alone, index=tmp_path / "index", host=server.url)
    expected = snapshot(tmp_path / "index")

    got = snapshot(hostile.index)
    good_paths = in_report(hostile.corpus.good)
    assert {k: v for k, v in got.items() if v[0] in good_paths} == expected


def test_skipped_files_are_named_one_per_line_with_no_control_characters(
    hostile: HostileRun,
) -> None:
    first = hostile.first
    out_lines = first.stdout.splitlines()
    err_lines = first.stderr.splitlines()
    for line in out_lines + err_lines:
        assert not TERMINAL_CONTROL.search(line), f"control character in {line!r}"
    assert [line for line in out_lines if line.startswith("Indexed")] == [out_lines[0]]
    forged = [line for line in err_lines if line.startswith("Indexed")]
    assert forged == [], "a file name forged a line of the summary"
    skipped_lines = [line for line in err_lines if line.startswith("skipped ")]
    assert len(skipped_lines) == len(hostile.report["skipped"])
    for item in hostile.report["skipped"]:
        # However the name is made safe, its printable parts stay in order
        # on one line.
        pieces = [p for p in re.split(r"[\x00-\x1f\x7f-\x9f]", item["path"]) if p]
        pattern = re.compile(".*".join(re.escape(p) for p in pieces))
        assert any(pattern.search(line) for line in skipped_lines), item["path"]


def test_loader_limits_bound_memory_on_bombs_and_huge_files(
    hostile: HostileRun, figures: dict[str, Any]
) -> None:
    assert hostile.first.max_rss_kib < MEMORY_CEILING_KIB
    figures["hostile: peak memory of the run (MiB)"] = hostile.first.max_rss_kib // 1024


def test_a_file_name_that_is_not_utf8_is_indexed_or_skipped(
    tmp_path: Path, fake_ollama: FakeOllama
) -> None:
    corpus = tmp_path / "corpus"
    rng = random.Random(8)
    (corpus / "ok").mkdir(parents=True)
    (corpus / "ok" / "plain.md").write_text(f"# Plain\n\n{prose(rng, 4)}\n")
    odd = write_undecodable_name(corpus / "odd", rng)
    args = ["--host", fake_ollama.url, "--index", "index", "index", "corpus"]

    finished = run_ragkit([*args, "--json"], cwd=tmp_path)

    assert "Traceback" not in finished.stderr
    report = json_report(finished)
    accounted = report["added"] + [item["path"] for item in report["skipped"]]
    assert "corpus/ok/plain.md" in report["added"]
    assert len(accounted) == 2 and any(odd.split("\udce9")[0] in p for p in accounted)
