"""Rasa's SQL tracker store, minus the support and VIP codes.

The tracker store keeps every event of a conversation: the customer's text, the entities
found in it, the slots set from it. A code typed by a customer would sit there in clear,
while our own database keeps only its HMAC. So before an event is written, every code in
the customer's words and in slot values is masked, with the same rule the agents'
transcripts use (``support.code_format``, which needs only the standard library). The
current turn still sees the code in memory; a reloaded tracker sees the mask.

Runs inside the Rasa server (Python 3.10 environment); endpoints.yml names it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import Event

from core.sqlite_wal import use_wal
from support.code_format import mask_codes

# Events that carry what the customer typed, or values derived from it.
_MASKED_EVENTS = {"user", "slot", "entities", "user_featurization"}


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return mask_codes(value)
    if isinstance(value, dict):
        return {key: _masked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked(item) for item in value]
    return value


class _MaskedEvent:
    """What SQLTrackerStore.save reads of an event: its type name and its dict."""

    def __init__(self, event: Event) -> None:
        self._event = event
        self.type_name = event.type_name

    def as_dict(self) -> dict[str, Any]:
        data = self._event.as_dict()
        return _masked(data) if data.get("event") in _MASKED_EVENTS else data


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL with synchronous=NORMAL: a commit no longer waits for the disk (it was a fifth
    # of Rasa's CPU under load); a crash of the server loses nothing, a power cut at most
    # the last moment of conversation memory, never the database.
    use_wal(cursor)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class MaskingSQLTrackerStore(SQLTrackerStore):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.engine.dialect.name == "sqlite":
            self._reuse_sqlite_connections()

    def _reuse_sqlite_connections(self) -> None:
        """SQLAlchemy 1.4 opens and closes a file database's connection per session; closing
        the last one checkpoints the WAL. Both were a third of Rasa's CPU per message."""
        import sqlalchemy as sa
        from sqlalchemy.orm import sessionmaker
        from sqlalchemy.pool import QueuePool

        url = self.engine.url
        self.engine.dispose()
        self.engine = sa.create_engine(
            url,
            poolclass=QueuePool,
            pool_size=2,
            # Rasa may run the store from worker threads as well as its event loop.
            connect_args={"check_same_thread": False},
        )
        sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self.sessionmaker = sessionmaker(bind=self.engine)

    def _additional_events(self, session, tracker) -> Iterator:  # type: ignore[override]
        for event in super()._additional_events(session, tracker):
            yield _MaskedEvent(event)
