"""Switching an SQLite file to WAL journal mode, safely when processes open it together.

Standard library only: Rasa's tracker store (bot/tracker_store.py, Rasa's own environment)
uses it as well as core/db.py.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any


def use_wal(cursor: Any, wait_seconds: float = 30.0) -> None:
    """WAL journal mode for the file of ``cursor`` (a DB-API cursor of :mod:`sqlite3`).

    The mode is stored in the file, so only a connection that finds it unset switches it.
    Processes starting together on a new file may all try at once; SQLite then answers some
    with "database is locked" without waiting on the busy timeout (waiting could deadlock, its
    docs on the busy handler say), so the switch is tried again until one has made it.
    """
    deadline = time.monotonic() + wait_seconds
    while cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
