from __future__ import annotations

import dataclasses
import stat

import pytest
import yaml

from helpdesk.rasa_config import (
    TRACKER_STORE_CLASS,
    StoreUrlError,
    endpoints,
    lock_store,
    tracker_store,
    write_endpoints,
)


def test_sqlite_tracker_store_gets_its_folder(tmp_path):
    db = tmp_path / "deep" / "tracker.db"
    store = tracker_store(f"sqlite:///{db}")
    assert store == {"type": TRACKER_STORE_CLASS, "dialect": "sqlite", "db": str(db)}
    assert db.parent.is_dir()


def test_postgresql_tracker_store_by_url():
    store = tracker_store("postgresql+psycopg2://bot:s%40cret@db.local:5433/rasa")
    assert store == {
        "type": TRACKER_STORE_CLASS,
        "dialect": "postgresql",
        "url": "db.local",
        "db": "rasa",
        "port": 5433,
        "username": "bot",
        "password": "s@cret",
    }


@pytest.mark.parametrize("url", ["mysql://x/y", "not a url", "sqlite://"])
def test_unsupported_tracker_store_is_a_clear_error(url):
    with pytest.raises(StoreUrlError):
        tracker_store(url)


def test_lock_store_in_memory_by_default_and_redis_by_url():
    assert lock_store("") is None
    assert lock_store("redis://:pw@127.0.0.1:6380/2") == {
        "type": "redis",
        "url": "127.0.0.1",
        "port": 6380,
        "db": 2,
        "password": "pw",
    }
    with pytest.raises(StoreUrlError):
        lock_store("memcached://x")


def test_endpoints_file_is_private_and_points_at_the_local_action_server(settings, tmp_path):
    settings = dataclasses.replace(
        settings,
        tracker_store_url=f"sqlite:///{tmp_path / 't.db'}",
        lock_store_url="redis://localhost",
        action_port=5999,
    )
    path = write_endpoints(settings, tmp_path / "rasa" / "endpoints.yml")
    config = yaml.safe_load(path.read_text())
    assert config["action_endpoint"] == {"url": "http://127.0.0.1:5999/webhook"}
    assert config["lock_store"]["type"] == "redis"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_several_rasa_processes_without_redis_share_file_locks(settings, tmp_path):
    base = dataclasses.replace(settings, data_dir=tmp_path, lock_store_url="")
    one = endpoints(dataclasses.replace(base, rasa_workers=1))
    assert "lock_store" not in one  # one process: Rasa's in-memory locks
    two = endpoints(dataclasses.replace(base, rasa_workers=2))
    assert two["lock_store"] == {
        "type": "lock_store.FileLockStore",
        "url": str(tmp_path / "rasa" / "locks"),
    }
    redis = endpoints(dataclasses.replace(base, rasa_workers=2, lock_store_url="redis://h"))
    assert redis["lock_store"]["type"] == "redis"
