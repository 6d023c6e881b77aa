"""Recognising, masking and hashing support/VIP codes; the HMAC key."""

from __future__ import annotations

import dataclasses
import re
import stat
from pathlib import Path

import pytest

from core.keys import code_key
from core.settings import Settings, load_settings
from support.code_format import CODE_MASK, mask_codes, normalize_code
from support.codes import code_digest


@pytest.mark.parametrize(
    "text", ["482913", "482 913", "48-29-13", "  482913 ", "482-913", "4 8 2 9 1 3"]
)
def test_normalize_code_accepts_six_digits_with_separators(text: str) -> None:
    assert normalize_code(text) == "482913"


@pytest.mark.parametrize(
    "text",
    ["", "48291", "4829133", "48291a", "482_913", "482  913", "482 913 7", "Code 482913", "٤٨٢٩١٣"],
)
def test_normalize_code_rejects_everything_else(text: str) -> None:
    assert normalize_code(text) is None


def test_mask_codes_in_running_text() -> None:
    text = "Mein Code ist 482 913, der alte war 48-29-13."
    assert mask_codes(text) == f"Mein Code ist {CODE_MASK}, der alte war {CODE_MASK}."
    assert mask_codes("482913") == CODE_MASK


@pytest.mark.parametrize(
    "text", ["Rechnung INV-2026-1001", "Referenz RF6720261002", "IBAN CH93 0076 2011 6238 5295 7"]
)
def test_mask_codes_leaves_longer_numbers(text: str) -> None:
    assert mask_codes(text) == text


def test_code_digest_is_a_keyed_hash_of_kind_and_code() -> None:
    digest = code_digest("support", "482913", b"key")
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert digest == code_digest("support", "482913", b"key")
    assert digest != code_digest("vip", "482913", b"key")
    assert digest != code_digest("support", "482913", b"other key")
    assert digest != code_digest("support", "482914", b"key")
    with pytest.raises(ValueError):
        code_digest("admin", "482913", b"key")


def _settings(tmp_path: Path, secret_key: str = "") -> Settings:
    return dataclasses.replace(load_settings(), data_dir=tmp_path / "var", secret_key=secret_key)


def test_secret_key_from_settings_wins(tmp_path: Path) -> None:
    assert code_key(_settings(tmp_path, "configured")) == b"configured"
    assert not (tmp_path / "var" / "secret_key").exists()


def test_secret_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    key = code_key(settings)
    path = tmp_path / "var" / "secret_key"
    assert re.fullmatch(rb"[0-9a-f]{64}", key)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert code_key(settings) == key
    assert [p.name for p in path.parent.iterdir()] == ["secret_key"]  # no temporary left
    # The file's content as HELPDESK_SECRET_KEY is the same key: digests stay valid.
    assert code_key(_settings(tmp_path, path.read_text().strip())) == key


def test_empty_secret_key_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "secret_key").write_text("\n")
    with pytest.raises(RuntimeError, match="empty"):
        code_key(_settings(tmp_path))
