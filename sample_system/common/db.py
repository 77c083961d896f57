"""One SQLite file per service, used from asyncio through one worker thread.

A service's replicas share its file (`GAMEDAY_DATA_DIR/<service>.sqlite3`), so the database
runs in WAL mode (readers never block the writer) with a busy timeout, and every write is a
`BEGIN IMMEDIATE` transaction: it takes the write lock up front instead of failing when a
read transaction tries to upgrade while another replica writes.

Domain code is plain synchronous functions over a `sqlite3.Connection` (easy to test and to
read); `Database.read`/`write` run them on the worker thread. A write whose awaiting request
was cancelled still commits or rolls back as a whole: cancellation never splits a transaction.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from sample_system.common.config import data_dir
from sample_system.common.errors import ConfigError

T = TypeVar("T")

BUSY_TIMEOUT_MS = 10_000


class Database:
    """A service's SQLite file; `open()` creates the schema, `read`/`write` run functions on it."""

    def __init__(self, path: Path, schema: str) -> None:
        self.path = path
        self._schema = schema
        self._executor: ThreadPoolExecutor | None = None
        self._connection: sqlite3.Connection | None = None

    def __repr__(self) -> str:
        return f"Database({str(self.path)!r})"

    async def open(self) -> None:
        """Connect, switch to WAL and create the tables that do not exist yet."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"db-{self.path.stem}")
        await self._run(self._connect)

    async def close(self) -> None:
        """Close the connection and stop the worker thread."""
        if self._executor is None:
            return
        await self._run(self._disconnect)
        self._executor.shutdown(wait=True)
        self._executor = None

    async def read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work(connection)` in a read transaction."""
        return await self._run(lambda: self._transaction(work, "BEGIN"))

    async def write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work(connection)` in a write transaction, committed only if it returns."""
        return await self._run(lambda: self._transaction(work, "BEGIN IMMEDIATE"))

    async def ping(self) -> bool:
        """Readiness: the file answers a query."""
        return await self.read(lambda db: db.execute("SELECT 1").fetchone()[0] == 1)

    async def _run(self, job: Callable[[], T]) -> T:
        if self._executor is None:
            raise RuntimeError(f"{self!r} is not open; call open() in the app's lifespan first")
        return await asyncio.get_running_loop().run_in_executor(self._executor, job)

    def _connect(self) -> None:
        if self._connection is not None:
            return
        try:
            connection = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None
            )
        except sqlite3.OperationalError as exc:
            raise ConfigError(
                f"cannot open database {self.path} ({exc}); check that GAMEDAY_DATA_DIR is "
                "a writable directory"
            ) from None
        connection.row_factory = sqlite3.Row
        connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        connection.execute("PRAGMA journal_mode = WAL")
        # NORMAL in WAL mode survives a killed process (only a power loss can lose commits).
        connection.execute("PRAGMA synchronous = NORMAL")
        connection.execute("PRAGMA foreign_keys = ON")
        self._connection = connection
        self._transaction(self._create_schema, "BEGIN IMMEDIATE")

    def _create_schema(self, connection: sqlite3.Connection) -> None:
        # executescript() would commit on its own; one statement at a time keeps one transaction.
        for statement in _statements(self._schema):
            connection.execute(statement)

    def _disconnect(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _transaction(self, work: Callable[[sqlite3.Connection], T], begin: str) -> T:
        connection = self._connection
        if connection is None:
            raise RuntimeError(f"{self!r} is closed")
        connection.execute(begin)
        try:
            result = work(connection)
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
        return result


def _statements(script: str) -> list[str]:
    """Split a schema script into statements (schemas here hold no ';' inside literals)."""
    return [part.strip() for part in script.split(";") if part.strip()]


def service_database(environ: Mapping[str, str], service: str, schema: str) -> Database:
    """The database of `service`: `<GAMEDAY_DATA_DIR>/<service>.sqlite3`."""
    return Database(data_dir(environ) / f"{service}.sqlite3", schema)
