"""core/db.py's SQLite connection set-up: WAL once per file, and patience with other processes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from core import db, sqlite_wal
from core.sqlite_wal import use_wal


class LockedCursor:
    """Answers like SQLite for a new file while another connection is switching it too."""

    def __init__(self, refusals: int) -> None:
        self.refusals = refusals
        self.mode = "delete"
        self.switches = 0

    def execute(self, sql: str) -> LockedCursor:
        if sql == "PRAGMA journal_mode=WAL":
            self.switches += 1
            if self.refusals:
                self.refusals -= 1
                raise sqlite3.OperationalError("database is locked")
            self.mode = "wal"
        return self

    def fetchone(self) -> tuple[str]:
        return (self.mode,)


def test_a_refused_switch_to_wal_is_tried_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_wal.time, "sleep", lambda _seconds: None)
    cursor = LockedCursor(refusals=3)
    use_wal(cursor)
    assert cursor.mode == "wal" and cursor.switches == 4


def test_a_file_locked_for_good_still_fails_in_the_end(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter(range(0, 1000, 10))
    monkeypatch.setattr(sqlite_wal.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(sqlite_wal.time, "sleep", lambda _seconds: None)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        use_wal(LockedCursor(refusals=10**6))


def test_other_errors_are_not_retried() -> None:
    class Broken(LockedCursor):
        def execute(self, sql: str) -> LockedCursor:
            if sql == "PRAGMA journal_mode=WAL":
                raise sqlite3.OperationalError("disk I/O error")
            return self

    with pytest.raises(sqlite3.OperationalError, match="disk"):
        use_wal(Broken(refusals=0))


def test_a_file_already_in_wal_is_not_switched_again(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'helpdesk.db'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()
    cursor = LockedCursor(refusals=1)
    cursor.mode = "wal"
    use_wal(cursor)
    assert cursor.switches == 0


def test_connections_wait_for_a_busy_writer_longer_than_pysqlite_would(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'helpdesk.db'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 30_000
    engine.dispose()
