"""A private stack for the benchmarks: data in a temporary folder, free loopback ports, the
demo data loaded, and the search index `make` built reused (only changes are encoded)."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

from core.db import init_db, make_engine, session_factory, session_scope
from core.keys import code_key
from core.settings import Settings, load_settings
from helpdesk.demo import load_demo
from helpdesk.ports import free_port
from retrieval.embeddings import resolve_model


def private_settings(root: Path, **overrides: Any) -> Settings:
    base = load_settings()
    if (base.index_dir / "manifest.json").exists():
        shutil.copytree(base.index_dir, root / "index", ignore=shutil.ignore_patterns(".lock"))
    web_port = free_port()
    settings = dataclasses.replace(
        base,
        data_dir=root,
        embedding_model=resolve_model(base),
        database_url=f"sqlite:///{root / 'helpdesk.db'}",
        tracker_store_url=f"sqlite:///{root / 'rasa-tracker.db'}",
        rasa_port=free_port(),
        action_port=free_port(),
        web_port=web_port,
        public_url=f"http://127.0.0.1:{web_port}",
        demo=False,
    )
    return dataclasses.replace(settings, **{k: v for k, v in overrides.items() if v is not None})


def load_demo_data(settings: Settings) -> None:
    engine = make_engine(settings.database_url)
    init_db(engine)
    with session_scope(session_factory(engine)) as session:
        load_demo(session, code_key(settings))
    engine.dispose()
