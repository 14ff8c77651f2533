"""The workspace database itself: opening and migrating it, transactions, and the errors users see.

One SQLite file per workspace (sqlite-utils, WAL, synchronous=FULL), one connection guarded by a lock.
The tables' methods live beside this module (images.py, label_events.py, models.py); together they
make `Store`, and this package is the only place with SQL.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import sqlite_utils
from sqlite_utils.utils import sqlite3

from binaudit.core.store.migrations import MIGRATIONS

BUSY_TIMEOUT_S = 30.0
SQLITE_VERSION: str = sqlite3.sqlite_version


class StoreError(Exception):
    """A workspace database problem with a message meant for the user."""


class ReadOnlyStoreError(StoreError):
    """A write was attempted on a workspace opened read-only."""


def utc_now() -> str:
    """Current time as an ISO-8601 UTC string with milliseconds."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")



def _user_message(exc: Exception) -> str:
    text = str(exc)
    if "disk is full" in text or "database or disk is full" in text:
        return "The disk is full: the label was not saved. Free some space and try again; earlier labels are safe."
    if "readonly" in text or "read-only" in text:
        return "The workspace is read-only here: the label was not saved. Open a copy in a writable folder."
    if "disk I/O error" in text:
        return "The disk reported an I/O error: the label was not saved. Earlier labels are safe."
    return f"The workspace database refused the change: {text}"



_S = TypeVar("_S", bound="StoreBase")


class StoreBase:
    """The connection, the schema and transactions that every table's methods build on."""

    def __init__(self, path: Path, conn: Any, readonly: bool):
        self.path = Path(path)
        self.readonly = readonly
        self.db = sqlite_utils.Database(conn)
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls: type[_S], path: Path | str, readonly: bool = False) -> _S:
        """Open (creating and migrating if needed) the database at path."""
        path = Path(path)
        if readonly and not path.exists():
            raise StoreError(f"No workspace database at {path}.")
        if not readonly:
            _check_writable_folder(path.parent)
        try:
            conn = _connect(path, readonly)
            store = cls(path, conn, readonly)
            store._configure()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"Cannot open workspace database {path}: {exc}") from exc
        return store

    def _configure(self) -> None:
        conn = self.db.conn
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        if not self.readonly:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"Cannot switch {self.path} to WAL mode (got {mode}).")
        # FULL: every commit is fsynced to the WAL, so an acknowledged label survives power loss.
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        if not self.readonly:
            self._migrate()
        elif self.schema_version() < len(MIGRATIONS):
            raise StoreError(f"{self.path} is not a current binaudit workspace and is opened read-only.")

    def schema_version(self) -> int:
        return int(self.db.conn.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        with self.write():
            current = self.schema_version()
            if current > len(MIGRATIONS):
                raise StoreError(f"{self.path} was written by a newer binaudit (schema {current}).")
            for version, migration in enumerate(MIGRATIONS[current:], start=current + 1):
                migration(self.db)
                self.db.conn.execute(f"PRAGMA user_version = {version}")

    def close(self) -> None:
        with self._lock:
            self.db.conn.close()

    def __enter__(self: _S) -> _S:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ transactions
    @contextmanager
    def rederivable_writes(self) -> Iterator[None]:
        """Commits on this connection skip the fsync (synchronous=NORMAL) until the block ends.

        For imports only: a power cut can lose the last imported batches (never corrupt the file,
        and never a label written on another connection), and the next import reads them again.
        """
        with self._lock:
            self.db.conn.execute("PRAGMA synchronous = NORMAL")
            try:
                yield
            finally:
                self.db.conn.execute("PRAGMA synchronous = FULL")

    @contextmanager
    def write(self) -> Iterator[None]:
        """One BEGIN IMMEDIATE transaction; waits for other writers instead of failing."""
        if self.readonly:
            raise ReadOnlyStoreError("This workspace is open read-only; changes cannot be saved.")
        with self._lock:
            conn = self.db.conn
            if conn.in_transaction:  # nested use joins the outer transaction
                yield
                return
            self._begin_immediate()
            try:
                yield
                conn.execute("COMMIT")
            except BaseException as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.OperationalError) and not isinstance(exc, StoreError):
                    raise StoreError(_user_message(exc)) from exc
                raise

    def _begin_immediate(self) -> None:
        deadline = time.monotonic() + 4 * BUSY_TIMEOUT_S
        while True:
            try:
                self.db.conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise StoreError(_user_message(exc)) from exc
                if time.monotonic() > deadline:
                    raise StoreError("Another program has held the workspace for minutes; try again.") from exc
                time.sleep(0.05)

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            cursor = self.db.conn.execute(sql, params)
            names = [d[0] for d in cursor.description or ()]
            return [dict(zip(names, row)) for row in cursor.fetchall()]

    def _insert(self, table: str, row: dict[str, Any]) -> int:
        """INSERT one row given as {column: value} (call inside write()) and return its new rowid."""
        cursor = self.db.conn.execute(
            f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", list(row.values()))
        if cursor.lastrowid is None:
            raise StoreError(f"SQLite gave no rowid for the row inserted into {table}.")
        return cursor.lastrowid

    def _scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        with self._lock:
            row = self.db.conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def integrity_check(self) -> str:
        return str(self._scalar("PRAGMA integrity_check"))


def _check_writable_folder(folder: Path) -> None:
    """Refuse early, with a clear message, a workspace whose folder cannot take the database's journal files."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".binaudit-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ReadOnlyStoreError(
            f"The workspace folder {folder} is not writable ({exc.strerror or exc}). "
            "Open it read-only to browse, or copy the workspace to a writable folder to label.") from exc


def _connect(path: Path, readonly: bool) -> sqlite3.Connection:
    if not readonly:
        return _sqlite_connect(str(path))
    try:
        conn = _sqlite_connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError:
        # A WAL database in a read-only folder cannot create its -shm file; read it as immutable.
        return _sqlite_connect(f"{path.resolve().as_uri()}?immutable=1", uri=True)


def _sqlite_connect(database: str, uri: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode (write() opens transactions itself), usable from any thread."""
    return sqlite3.connect(database, timeout=BUSY_TIMEOUT_S, check_same_thread=False, isolation_level=None,
                           uri=uri)

