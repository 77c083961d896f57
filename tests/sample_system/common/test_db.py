"""A service's SQLite file: WAL, whole transactions, replicas sharing the file."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from sample_system.common.db import Database

SCHEMA = "CREATE TABLE IF NOT EXISTS counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)"


def bump(db: sqlite3.Connection) -> int:
    db.execute("INSERT OR IGNORE INTO counter (id, n) VALUES (1, 0)")
    n = db.execute("SELECT n FROM counter WHERE id = 1").fetchone()[0] + 1
    db.execute("UPDATE counter SET n = ? WHERE id = 1", (n,))
    return int(n)


def test_two_replicas_on_one_file_never_lose_an_update(tmp_path: Path):
    async def scenario() -> int:
        replicas = [Database(tmp_path / "shop.sqlite3", SCHEMA) for _ in range(2)]
        for db in replicas:
            await db.open()
        try:
            # Read-modify-write from two connections: only BEGIN IMMEDIATE keeps every bump.
            await asyncio.gather(*(replicas[i % 2].write(bump) for i in range(200)))
            mode = await replicas[0].read(lambda c: c.execute("PRAGMA journal_mode").fetchone()[0])
            assert mode == "wal"
            return await replicas[1].read(
                lambda c: c.execute("SELECT n FROM counter").fetchone()[0]
            )
        finally:
            for db in replicas:
                await db.close()

    assert asyncio.run(scenario()) == 200


def test_a_failing_write_rolls_back_entirely(tmp_path: Path):
    def half_then_fail(db: sqlite3.Connection) -> None:
        bump(db)
        raise RuntimeError("boom")

    async def scenario() -> int:
        db = Database(tmp_path / "shop.sqlite3", SCHEMA)
        await db.open()
        try:
            await db.write(bump)
            with pytest.raises(RuntimeError, match="boom"):
                await db.write(half_then_fail)
            return await db.read(lambda c: c.execute("SELECT n FROM counter").fetchone()[0])
        finally:
            await db.close()

    assert asyncio.run(scenario()) == 1


def test_using_a_closed_database_says_how_to_fix_it(tmp_path: Path):
    db = Database(tmp_path / "x.sqlite3", SCHEMA)
    with pytest.raises(RuntimeError, match="call open"):
        asyncio.run(db.read(lambda c: None))
