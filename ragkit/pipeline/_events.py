"""What an ingest run reports: progress while it runs, a report when it ends."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["IngestProgress", "IngestReport", "ProblemChunk", "SkippedFile"]


@dataclass(frozen=True, slots=True)
class IngestProgress:
    """A snapshot of a running ingest, handed to the ``progress`` callback.

    Attributes:
        phase: ``indexing`` (reading files), ``embedding`` (waiting for the
            last vectors), ``saving`` (writing the search index) or ``done``.
        files_seen: Files found so far.
        files_done: Files written to the index so far (added or changed).
        chunks_queued: Chunks sent to be embedded so far.
        chunks_embedded: Chunks embedded so far.
        chunks_written: Chunks written to the index so far.
        elapsed: Seconds since the run started.
        files_total: Files the run will look at (counted by a quick walk
            before it starts), or None when unknown (content added from
            Python rather than files).
    """

    phase: str
    files_seen: int
    files_done: int
    chunks_queued: int
    chunks_embedded: int
    chunks_written: int
    elapsed: float
    files_total: int | None = None

    def seconds_left(self) -> float | None:
        """A rough estimate of the time left, or None before there is one.

        The chunks still to come are projected from those found so far, in
        proportion to the files still to read; the time from the embedding
        rate so far (embedding is what takes the time).
        """
        if self.phase == "done":
            return 0.0
        if not self.chunks_embedded or self.elapsed <= 0:
            return None
        if self.files_total is not None and self.files_seen:
            share = max(self.files_total, self.files_seen) / self.files_seen
            expected = self.chunks_queued * share
        elif self.phase != "indexing":
            expected = float(self.chunks_queued)  # every chunk is queued by now
        else:
            return None
        rate = self.chunks_embedded / self.elapsed
        return max(0.0, expected - self.chunks_embedded) / rate


@dataclass(frozen=True, slots=True)
class SkippedFile:
    """A file (or folder) the run could not index, and why."""

    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class ProblemChunk:
    """A chunk that was truncated or could not be embedded.

    Attributes:
        location: Where it is (``path:lines p.N``).
        reason: What happened to it.
    """

    location: str
    reason: str


@dataclass(slots=True)
class IngestReport:
    """What an ingest run did.

    Attributes:
        index: The index directory.
        model: The embedding model.
        added: Documents new to the index.
        changed: Documents whose chunks were replaced.
        removed: Documents that left the index because their file is gone.
        unchanged: Files that needed no work.
        unsupported: Files of a type no loader reads (left alone quietly).
        skipped: Files that could not be read, with their reasons; a file
            indexed before keeps its earlier version.
        chunks: Chunks written.
        embedded: Distinct texts sent to the server to embed.
        reused: Chunks whose vectors were already in the index's cache.
        requests: ``/api/embed`` requests made.
        truncated: Chunks longer than the model's context (embedded truncated).
        failed: Chunks the server refused to embed (left out of the index).
        files_done: Documents written.
        seconds: Wall time of the run.
        dry_run: Nothing was written; the lists say what would change.
    """

    index: str
    model: str
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    unsupported: int = 0
    skipped: list[SkippedFile] = field(default_factory=list)
    chunks: int = 0
    embedded: int = 0
    reused: int = 0
    requests: int = 0
    truncated: list[ProblemChunk] = field(default_factory=list)
    failed: list[ProblemChunk] = field(default_factory=list)
    files_done: int = 0
    seconds: float = 0.0
    dry_run: bool = False

    def skip(self, path: str, reason: str) -> None:
        """Record a file the run could not index."""
        self.skipped.append(SkippedFile(path, reason))

    def to_dict(self) -> dict[str, Any]:
        """The report as plain data, for ``--json``."""
        return asdict(self)
