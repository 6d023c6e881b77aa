from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Generator
from pathlib import Path

import pytest

from core import users
from core.settings import REPO_ROOT, Settings, load_settings
from retrieval import embeddings
from retrieval.lean_encoder import LeanQueryEncoder
from tests.fakes import FakeEmbedder

SEED_DUMP = Path(__file__).parent / "fixtures" / "000_50df156394d44234.txt"

# One iteration of PBKDF2 instead of scrypt: hashing is werkzeug's business, and the tests
# create accounts by the hundred (web's `app` fixture alone makes three per test).
CHEAP_PASSWORD_HASH = "pbkdf2:sha256:1"

# Session fixtures that load the real model (or start servers with it): only for slow tests.
REAL_MODEL_FIXTURES = frozenset({"real_settings", "real_retriever"})


@pytest.fixture(autouse=True)
def cheap_password_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(users, "PASSWORD_HASH_METHOD", CHEAP_PASSWORD_HASH)


def _not_slow(nodeid: str, what: str) -> str:
    return (
        f"{nodeid} {what}, but is not marked slow: add @pytest.mark.slow "
        "(`make test-fast` runs -m 'not slow' and must never load the model)"
    )


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Refused before any fixture is set up: the real-model fixtures are session-scoped, so a
    fast test that came first would load the model for the whole session."""
    if item.get_closest_marker("slow") is None:
        used = sorted(REAL_MODEL_FIXTURES & set(getattr(item, "fixturenames", ())))
        if used:
            pytest.fail(_not_slow(item.nodeid, f"uses {', '.join(used)}"), pytrace=False)
        if item.get_closest_marker("quality") is not None:
            # Quality gates need the real model or servers; -m "not slow" must leave them out.
            pytest.fail(_not_slow(item.nodeid, "is a quality gate"), pytrace=False)


def _is_real_model(name_or_path: object) -> bool:
    """The folder retrieval/model_build.py built (it alone writes BUILD_INFO.json), or a name
    for the hub; a test's own small model folder (tests/retrieval/test_judge.py) is not."""
    folder = Path(str(name_or_path))
    return not folder.is_dir() or (folder / "BUILD_INFO.json").exists()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator:
    """Outside slow tests, the two ways retrieval/embeddings.py reads the real model's weights
    (sentence-transformers, and the lean encoder straight from the folder's files) fail the
    test. Patched around the whole test, setup included, so that module- and session-scoped
    fixtures are caught too; ``pytest.fail`` is no Exception, so no `except` swallows it."""
    if item.get_closest_marker("slow") is not None:
        return (yield)
    load_model, from_folder = embeddings._load_model, LeanQueryEncoder.from_folder.__func__

    def refuse(name_or_path: object) -> None:
        if _is_real_model(name_or_path):
            what = f"loads the real embedding model ({name_or_path})"
            pytest.fail(_not_slow(item.nodeid, what), pytrace=False)

    def guarded_load_model(name_or_path: str):
        refuse(name_or_path)
        return load_model(name_or_path)

    def guarded_from_folder(cls, folder: Path, *args, **kwargs):
        refuse(folder)
        return from_folder(cls, folder, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(embeddings, "_load_model", guarded_load_model)
        patch.setattr(LeanQueryEncoder, "from_folder", classmethod(guarded_from_folder))
        return (yield)


@pytest.fixture
def kb_copy(tmp_path: Path) -> Path:
    """A private copy of the repository's KB, free to change."""
    target = tmp_path / "kb"
    shutil.copytree(REPO_ROOT / "kb", target, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return target


@pytest.fixture
def settings(tmp_path: Path, kb_copy: Path) -> Settings:
    var = tmp_path / "var"
    # The databases too: derived from the real data folder, they would be the developer's.
    return dataclasses.replace(
        load_settings(),
        kb_dir=kb_copy,
        data_dir=var,
        repo_root=tmp_path,
        database_url=f"sqlite:///{var / 'helpdesk.db'}",
        tracker_store_url=f"sqlite:///{var / 'rasa-tracker.db'}",
    )


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture(scope="session")
def real_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The repository's KB with the real model, indexed in a private folder. Reuses the
    vectors of an index `make` already built, so the model encodes only what changed."""
    from retrieval.embeddings import resolve_model

    root = tmp_path_factory.mktemp("real")
    shutil.copytree(
        REPO_ROOT / "kb", root / "kb", ignore=shutil.ignore_patterns("*.py", "__pycache__")
    )
    base = load_settings()
    if (base.index_dir / "manifest.json").exists():
        shutil.copytree(
            base.index_dir, root / "var" / "index", ignore=shutil.ignore_patterns(".lock")
        )
    return dataclasses.replace(
        base,
        kb_dir=root / "kb",
        data_dir=root / "var",
        repo_root=root,
        embedding_model=resolve_model(base),
    )


@pytest.fixture(scope="session")
def real_retriever(real_settings: Settings):
    from retrieval.retriever import Retriever

    retriever = Retriever(real_settings)
    retriever.load()
    return retriever
