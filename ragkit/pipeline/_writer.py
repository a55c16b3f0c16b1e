"""The ingest run's writer: index writes on a thread of their own."""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence
from typing import Any

from ragkit.store import DocumentRecord, Store
from ragkit.types import Chunk

__all__ = ["IndexWriter"]

DocumentWrite = tuple[DocumentRecord, Sequence[Chunk], Sequence[str]]

# Batches waiting to be written at most: enough to ride out one slow commit,
# few enough that memory stays bounded when the disk is the bottleneck.
_BACKLOG = 4


class IndexWriter:
    """Writes batches of vectors and documents to a store, in submission order.

    SQLite does its work without holding Python's interpreter lock, so
    writing on this thread overlaps with loading and chunking on the main
    thread. A failed write stops the writer; the error is raised to the
    caller at its next :meth:`submit` or at :meth:`close`.

    Args:
        store: The store, open for writing.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._jobs: queue.Queue[
            tuple[Sequence[DocumentWrite], Sequence[Any]] | None
        ] = queue.Queue(maxsize=_BACKLOG)
        self._error: BaseException | None = None
        self.documents = 0
        self.chunks = 0
        self._thread = threading.Thread(
            target=self._work, name="ragkit-ingest-writer", daemon=True
        )
        self._thread.start()

    def submit(
        self, documents: Sequence[DocumentWrite], vectors: Sequence[Any]
    ) -> None:
        """Queue one transaction's worth of writes (blocks while the backlog is full).

        Raises:
            Exception: The error of an earlier write that failed.
        """
        self._raise_failure()
        self._jobs.put((documents, vectors))

    def close(self) -> None:
        """Finish the queued writes and stop the thread.

        Raises:
            Exception: The error of a write that failed.
        """
        if self._thread.is_alive():
            self._jobs.put(None)
            self._thread.join()
        self._raise_failure()

    def _raise_failure(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            if self._error is not None:
                continue  # after a failure, drain without writing
            documents, vectors = job
            try:
                self._store.replace_documents(documents, vectors=vectors)
            except BaseException as exc:  # handed to the submitting thread
                self._error = exc
                continue
            self.documents += len(documents)
            self.chunks += sum(len(chunks) for _, chunks, _ in documents)
