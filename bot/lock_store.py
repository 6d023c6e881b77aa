"""A conversation lock for several Rasa server processes on one machine, without Redis.

Rasa handles one message of a conversation at a time under a lock from its lock store. Its
in-memory store only works inside one process, so Rasa allows more than one server process
(``SANIC_WORKERS``) only with Redis or a custom store. The helpdesk runs all its servers on
one machine, where the operating system already has a lock that every process sees and that
dies with its holder: ``flock`` on a file. Conversations map onto a fixed set of lock files
(no file per conversation to clean up); two conversations sharing a file only wait for each
other's turn, which at ``STRIPES`` files is rare.

Within a process an ``asyncio.Lock`` per conversation comes first: it keeps that process's
messages of one conversation in arrival order, as Rasa's ticket lock does, and only one of
them at a time polls the file lock.

This module runs inside the Rasa server (Python 3.10 environment); endpoints.yml names it
(helpdesk/rasa_config.py).
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import os
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, LockStore

STRIPES = 4096
FIRST_POLL_SECONDS = 0.002  # a turn takes tens of milliseconds: poll fast, then back off
MAX_POLL_SECONDS = 0.05


class FileLockStore(LockStore):
    """``lock(conversation_id)`` across processes; endpoints.yml: ``url`` is the folder."""

    def __init__(self, endpoint_config: Any = None, folder: str | None = None) -> None:
        folder = folder or getattr(endpoint_config, "url", None)
        if not folder:
            raise ValueError("FileLockStore needs a folder (endpoints.yml: lock_store.url)")
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._local: dict[str, asyncio.Lock] = {}
        self._waiting: dict[str, int] = {}

    def path(self, conversation_id: str) -> Path:
        digest = hashlib.sha256(conversation_id.encode("utf-8", "surrogatepass")).digest()
        stripe = int.from_bytes(digest[:4], "big") % STRIPES
        return self.folder / f"{stripe:04x}.lock"

    @asynccontextmanager
    async def lock(
        self,
        conversation_id: str,
        lock_lifetime: float = LOCK_LIFETIME,
        wait_time_in_seconds: float = 1,
    ) -> AsyncGenerator[TicketLock, None]:
        """Held for the whole turn; waiting longer than ``lock_lifetime`` is a LockError
        (Rasa's own stores give up then too)."""
        local = self._local.setdefault(conversation_id, asyncio.Lock())
        self._waiting[conversation_id] = self._waiting.get(conversation_id, 0) + 1
        try:
            async with local:
                fd = os.open(self.path(conversation_id), os.O_RDWR | os.O_CREAT, 0o600)
                try:
                    await _acquire(fd, conversation_id, lock_lifetime)
                    try:
                        yield TicketLock(conversation_id)
                    finally:
                        fcntl.flock(fd, fcntl.LOCK_UN)
                finally:
                    os.close(fd)
        finally:
            self._waiting[conversation_id] -= 1
            if not self._waiting[conversation_id]:  # nobody else queued here: forget it
                del self._waiting[conversation_id]
                del self._local[conversation_id]

    # Rasa's base class builds lock() from these; this store does not use them.
    def get_lock(self, conversation_id: str) -> TicketLock | None:
        return None

    def save_lock(self, lock: TicketLock) -> None:
        pass

    def delete_lock(self, conversation_id: str) -> None:
        pass


async def _acquire(fd: int, conversation_id: str, lifetime: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + lifetime
    delay = FIRST_POLL_SECONDS
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if loop.time() >= deadline:
                raise LockError(
                    f"Could not acquire lock for conversation_id '{conversation_id}'."
                ) from None
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_POLL_SECONDS)
