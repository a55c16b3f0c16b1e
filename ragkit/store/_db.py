"""Connections to ``meta.sqlite``: one writer and a pool of snapshot readers."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ragkit.errors import StoreError

from ._filter import regexp

__all__ = ["Database"]

_BUSY_TIMEOUT_MS = 30_000

Prepare = Callable[[sqlite3.Connection], None]


def _connect(target: str, prepare: Prepare | None) -> sqlite3.Connection:
    # Autocommit mode: every transaction below is opened explicitly, so reads
    # get one snapshot and writes one BEGIN IMMEDIATE ... COMMIT.
    db = sqlite3.connect(target, isolation_level=None, check_same_thread=False)
    try:
        db.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("PRAGMA synchronous = NORMAL")
        db.create_function("regexp", 2, regexp, deterministic=True)
        if prepare is not None:
            prepare(db)
    except BaseException:
        db.close()
        raise
    return db


class Database:
    """Transactions on one SQLite database, safe to use from many threads.

    On disk, writes go through one connection under a mutex and each read
    borrows a pooled connection of its own, so readers never wait for the
    writer (WAL mode) and see a consistent snapshot. In memory there is only
    one database connection, so reads and writes share it under the mutex.
    """

    def __init__(self, path: Path | None, prepare: Prepare | None = None) -> None:
        """Open the writer connection; ``prepare`` runs on every new connection."""
        self.path = path
        self._prepare = prepare
        self._mutex = threading.RLock()
        self._pool_lock = threading.Lock()
        self._idle: list[sqlite3.Connection] = []
        self._closed = False
        try:
            self._writer = _connect(":memory:" if path is None else str(path), prepare)
            if path is not None:
                self._writer.execute("PRAGMA journal_mode = WAL")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {path}: {exc}") from exc

    @property
    def memory(self) -> bool:
        """True for an in-memory database."""
        return self.path is None

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """Run a write transaction; it commits only if the block succeeds."""
        with self._mutex, self._translated():
            db = self._writer_or_raise()
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """Run a read transaction: every query in the block sees one snapshot."""
        if self.memory:
            with self._mutex, self._translated():
                db = self._writer_or_raise()
                db.execute("BEGIN")
                try:
                    yield db
                finally:
                    db.execute("COMMIT")
            return
        with self._translated():
            db = self._borrow()
            try:
                db.execute("BEGIN")
                try:
                    yield db
                finally:
                    db.execute("COMMIT")
            finally:
                self._give_back(db)

    @contextmanager
    def raw(self) -> Iterator[sqlite3.Connection]:
        """The writer connection outside any transaction (for migrations)."""
        with self._mutex, self._translated():
            yield self._writer_or_raise()

    def close(self) -> None:
        """Close every connection; reads in flight finish first."""
        with self._mutex:
            if self._closed:
                return
            self._closed = True
            self._writer.close()
        with self._pool_lock:
            idle, self._idle = self._idle, []
        for db in idle:
            db.close()

    def _writer_or_raise(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreError("index is closed")
        return self._writer

    def _borrow(self) -> sqlite3.Connection:
        with self._pool_lock:
            if self._closed:
                raise StoreError("index is closed")
            if self._idle:
                return self._idle.pop()
        return _connect(str(self.path), self._prepare)

    def _give_back(self, db: sqlite3.Connection) -> None:
        with self._pool_lock:
            if not self._closed:
                self._idle.append(db)
                return
        db.close()

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            where = self.path if self.path is not None else "the in-memory index"
            raise StoreError(f"index database {where}: {exc}") from exc
