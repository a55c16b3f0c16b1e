"""Helpers of the reliability suite: the console script, index snapshots, checks.

Not a test module: the tests import it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragkit.pipeline import Pipeline, load_recipe
from ragkit.store import Store

# Anything a terminal may act on: C0 controls but tab and newline, DEL, C1.
TERMINAL_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

WAIT_POLL = 0.01
"""Seconds between looks at a condition a test waits for."""

PROCESS_TIMEOUT = 120.0
"""The most any one ragkit process may take before a test calls it a hang."""


def ragkit_script() -> Path:
    """The installed ``ragkit`` console script (next to the interpreter, or on PATH)."""
    beside = Path(sys.executable).with_name("ragkit")
    if beside.exists():
        return beside
    found = shutil.which("ragkit")
    if found is None:
        raise RuntimeError("the ragkit console script is not installed")
    return Path(found)


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a ragkit process: no Ollama or ragkit settings leak in."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OLLAMA_", "RAGKIT_"))
    }
    env.update(extra)
    return env


@dataclass
class Finished:
    """A ragkit process that has ended.

    Attributes:
        returncode: Its exit status (negative: killed by that signal).
        stdout: What it printed on stdout.
        stderr: What it printed on stderr.
        max_rss_kib: Its peak resident memory in KiB.
    """

    returncode: int
    stdout: str
    stderr: str
    max_rss_kib: int

    def error_lines(self) -> list[str]:
        """The lines of stderr that report an error (click's ``Error:`` prefix)."""
        return [line for line in self.stderr.splitlines() if line.startswith("Error")]


class RagkitProcess:
    """The ``ragkit`` console script running in a subprocess of its own.

    Output goes to temporary files (a pipe nobody reads could block the
    process); :meth:`wait` collects it along with the peak memory.
    """

    def __init__(
        self,
        args: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str] | None = None,
        wrapper: Sequence[str] = (),
    ) -> None:
        self._out = tempfile.TemporaryFile()
        self._err = tempfile.TemporaryFile()
        self.finished: Finished | None = None
        command = [*wrapper, str(ragkit_script()), *args]
        self.popen = subprocess.Popen(
            command,
            cwd=cwd,
            env=dict(env) if env is not None else clean_env(),
            stdin=subprocess.DEVNULL,
            stdout=self._out,
            stderr=self._err,
        )
        _STARTED.append(self)

    @property
    def pid(self) -> int:
        """The process id."""
        return self.popen.pid

    def running(self) -> bool:
        """Whether it has not exited yet (without reaping it)."""
        try:
            state = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return False
        return state is None

    def kill(self) -> None:
        """SIGKILL it: no handler, no cleanup, no flush."""
        os.kill(self.pid, signal.SIGKILL)

    def wait(self, timeout: float = PROCESS_TIMEOUT) -> Finished:
        """Wait for the end (killing it after ``timeout``) and collect its output."""
        if self.finished is not None:
            return self.finished
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(self.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                self.kill()
                pid, status, usage = os.wait4(self.pid, 0)
                break
            time.sleep(WAIT_POLL)
        self.popen.returncode = os.waitstatus_to_exitcode(status)
        outputs = []
        for handle in (self._out, self._err):
            handle.seek(0)
            outputs.append(handle.read().decode("utf-8", "backslashreplace"))
            handle.close()
        self.finished = Finished(
            returncode=self.popen.returncode,
            stdout=outputs[0],
            stderr=outputs[1],
            max_rss_kib=usage.ru_maxrss,
        )
        return self.finished


_STARTED: list[RagkitProcess] = []


def reap_all() -> None:
    """Kill and collect every ragkit process a test started and left running."""
    while _STARTED:
        process = _STARTED.pop()
        if process.finished is None:
            if process.running():
                process.kill()
            process.wait()


def run_ragkit(
    args: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    wrapper: Sequence[str] = (),
    timeout: float = PROCESS_TIMEOUT,
) -> Finished:
    """Run the console script to its end."""
    return RagkitProcess(args, cwd=cwd, env=env, wrapper=wrapper).wait(timeout)


def wait_for(condition: Callable[[], bool], *, timeout: float = 60.0) -> None:
    """Poll ``condition`` until it holds; fail the test if it never does."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting after {timeout:g}s")
        time.sleep(WAIT_POLL)


# -- the index as data ---------------------------------------------------------

ChunkRow = tuple[str, str, bytes]
"""``(document path, chunk text, vector bytes)`` of one chunk."""


def snapshot(index: Path) -> dict[str, ChunkRow]:
    """Every chunk id of an index with its document, text and vector bytes.

    Read straight from SQLite, the truth: two indexes are "equal" when their
    snapshots are.
    """
    db = sqlite3.connect(f"file:{index / 'meta.sqlite'}?mode=ro", uri=True)
    try:
        rows = db.execute(
            "SELECT c.chunk_id, d.path, c.text, v.vector FROM chunks c "
            "JOIN documents d ON d.id = c.document_id "
            "JOIN vectors v ON v.text_hash = c.text_hash"
        ).fetchall()
    finally:
        db.close()
    return {
        chunk_id: (path, text, bytes(vector)) for chunk_id, path, text, vector in rows
    }


def by_document(snap: Mapping[str, ChunkRow]) -> dict[str, dict[str, ChunkRow]]:
    """A snapshot grouped by document path."""
    grouped: dict[str, dict[str, ChunkRow]] = {}
    for chunk_id, row in snap.items():
        grouped.setdefault(row[0], {})[chunk_id] = row
    return grouped


@dataclass(frozen=True)
class RawCounts:
    """Counts read from SQLite directly, to hold ``ragkit info`` against."""

    documents: int
    chunks: int
    vectors: int
    distinct_chunk_ids: int
    chunks_without_vector: int
    documents_without_chunks: int
    integrity: str


def raw_counts(index: Path) -> RawCounts:
    """Count what the index's database holds, and run SQLite's integrity check."""
    db = sqlite3.connect(f"file:{index / 'meta.sqlite'}?mode=ro", uri=True)
    try:

        def one(sql: str) -> Any:
            return db.execute(sql).fetchone()[0]

        return RawCounts(
            documents=one("SELECT COUNT(*) FROM documents"),
            chunks=one("SELECT COUNT(*) FROM chunks"),
            vectors=one("SELECT COUNT(*) FROM vectors"),
            distinct_chunk_ids=one("SELECT COUNT(DISTINCT chunk_id) FROM chunks"),
            chunks_without_vector=one(
                "SELECT COUNT(*) FROM chunks c LEFT JOIN vectors v "
                "ON v.text_hash = c.text_hash WHERE v.text_hash IS NULL"
            ),
            documents_without_chunks=one(
                "SELECT COUNT(*) FROM documents d WHERE NOT EXISTS "
                "(SELECT 1 FROM chunks c WHERE c.document_id = d.id)"
            ),
            integrity=one("PRAGMA integrity_check"),
        )
    finally:
        db.close()


def assert_whole_documents(index: Path, clean: Mapping[str, ChunkRow]) -> int:
    """Every document in ``index`` is complete and identical to the clean run's.

    Returns:
        How many documents the index holds.
    """
    expected = by_document(clean)
    found = by_document(snapshot(index))
    with Store.open(index) as store:
        paths = {record.path for record in store.documents()}
    assert set(found) == paths, "a document without chunks, or chunks without one"
    for path, chunks in found.items():
        assert chunks == expected[path], f"{path} differs from the clean run"
    return len(found)


def small_batch_pipeline(batch_size: int = 4) -> Pipeline:
    """The default recipe with small embedding batches (more, shorter requests)."""
    recipe = load_recipe("general")
    settings = type(recipe.embedding)(batch_size=batch_size)
    return Pipeline(recipe.replace(embedding=settings))


def json_report(finished: Finished) -> dict[str, Any]:
    """The ``--json`` summary a finished ``ragkit index`` printed."""
    assert finished.returncode == 0, finished.stderr
    data: dict[str, Any] = json.loads(finished.stdout)
    return data


@dataclass
class Workspace:
    """The shared corpus and where indexes of it go.

    Document paths are relative to the index's parent folder, so every index
    of the corpus lives directly in ``base`` and names documents
    ``docs/...``, which makes the indexes comparable.

    Attributes:
        base: The folder holding ``docs/`` and every index of it.
        docs: The corpus.
        files: How many files the corpus has.
        clean: The snapshot of an index built without faults or crashes.
    """

    base: Path
    docs: Path
    files: int
    clean: dict[str, ChunkRow]
    _names: Iterator[int]

    def new_index(self, label: str) -> Path:
        """A fresh index path beside the clean one."""
        return self.base / f"{label}-{next(self._names)}"
