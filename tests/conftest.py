from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from core.settings import REPO_ROOT, Settings, load_settings
from tests.fakes import FakeEmbedder

SEED_DUMP = Path(__file__).parent / "fixtures" / "000_50df156394d44234.txt"


@pytest.fixture
def kb_copy(tmp_path: Path) -> Path:
    """A private copy of the repository's KB, free to change."""
    target = tmp_path / "kb"
    shutil.copytree(REPO_ROOT / "kb", target, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return target


@pytest.fixture
def settings(tmp_path: Path, kb_copy: Path) -> Settings:
    return dataclasses.replace(
        load_settings(), kb_dir=kb_copy, data_dir=tmp_path / "var", repo_root=tmp_path
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
