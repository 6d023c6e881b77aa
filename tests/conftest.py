from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from helpdesk.config import REPO_ROOT, Settings, load_settings
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
