"""A checked model folder starts without sentence-transformers, and only a matching record
is trusted."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from core.settings import REPO_ROOT
from retrieval import encoder_checks
from retrieval.embeddings import SentenceTransformerEmbedder

QUESTION = "Wie kann ich meine Rechnung als PDF bekommen?"


@pytest.fixture(scope="module")
def checked(real_settings, tmp_path_factory):
    """A record written by an embedder that loaded the model, and that embedder."""
    check_file = tmp_path_factory.mktemp("checks") / encoder_checks.FILE_NAME
    first = SentenceTransformerEmbedder(real_settings.embedding_model, check_file=check_file)
    assert first._model is not None and first.lean is not None
    assert check_file.exists()
    return check_file, first


@pytest.mark.slow
def test_a_checked_folder_encodes_queries_without_the_model(real_settings, checked) -> None:
    check_file, first = checked
    second = SentenceTransformerEmbedder(real_settings.embedding_model, check_file=check_file)
    assert second._model is None and second.lean is not None
    assert second.dimension == first.dimension and second.model_id == first.model_id
    vector = second.encode_queries([QUESTION])[0]
    assert float(vector @ first._encode([QUESTION], "query", 128)[0]) >= 0.9999
    # Passages need the model: it is loaded then, and queries keep working.
    passages = second.encode_passages(["Rechnungen finden Sie im Manager."])
    assert second._model is not None and passages.shape == (1, first.dimension)
    again = second.encode_queries([QUESTION + " (2)"])[0]
    assert float(again @ first._encode([QUESTION + " (2)"], "query", 128)[0]) >= 0.9999


@pytest.mark.slow
def test_a_record_that_the_folder_does_not_reproduce_is_not_trusted(
    real_settings, checked, tmp_path
) -> None:
    check_file, _ = checked
    data = json.loads(check_file.read_text(encoding="utf-8"))
    rng = np.random.default_rng(3)
    noise = rng.normal(size=np.asarray(data["references"]).shape)
    data["references"] = (noise / np.linalg.norm(noise, axis=1, keepdims=True)).tolist()
    forged = tmp_path / encoder_checks.FILE_NAME
    forged.write_text(json.dumps(data), encoding="utf-8")
    embedder = SentenceTransformerEmbedder(real_settings.embedding_model, check_file=forged)
    assert embedder._model is not None  # checked against the model itself instead
    assert embedder.lean is not None
    rewritten = json.loads(forged.read_text(encoding="utf-8"))
    np.testing.assert_allclose(
        rewritten["references"], json.loads(check_file.read_text())["references"], atol=1e-6
    )


def test_the_stamp_follows_the_folders_files(tmp_path) -> None:
    (tmp_path / "config.json").write_text("{}", encoding="utf-8")
    before = encoder_checks.stamp(tmp_path)
    assert encoder_checks.stamp(tmp_path) == before
    (tmp_path / "config.json").write_text('{"a": 1}', encoding="utf-8")
    assert encoder_checks.stamp(tmp_path) != before


def test_unreadable_records_are_ignored(tmp_path) -> None:
    record = tmp_path / encoder_checks.FILE_NAME
    assert encoder_checks.read(record, str(tmp_path)) is None  # missing
    for broken in ("", "[]", "{not json", '{"stamp": 1}'):
        record.write_text(broken, encoding="utf-8")
        assert encoder_checks.read(record, str(tmp_path)) is None


@pytest.mark.slow
def test_search_with_a_built_index_never_imports_sentence_transformers(
    real_settings, real_retriever, checked
) -> None:
    """The point of the record: start-up without transformers' seconds of imports."""
    check_file, _ = checked
    real_settings.models_dir.mkdir(parents=True, exist_ok=True)
    (real_settings.models_dir / encoder_checks.FILE_NAME).write_bytes(check_file.read_bytes())
    probe = (
        "import sys\n"
        "from retrieval.retriever import get_retriever\n"
        "r = get_retriever(); r.load()\n"
        f"assert r.search({QUESTION!r}).results\n"
        "print(sorted(m for m in ('sentence_transformers', 'transformers') if m in sys.modules))\n"
    )
    env = {
        **os.environ,
        "HELPDESK_KB_DIR": str(real_settings.kb_dir),
        "HELPDESK_DATA_DIR": str(real_settings.data_dir),
        "HELPDESK_EMBEDDING_MODEL": real_settings.embedding_model,
    }
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"
