"""Running a check script inside the Rasa environment (Python 3.10, bot/ on the path), for
the tests of the patches and stores in bot/ that only Rasa can import."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from helpdesk.stack import BOT_DIR, RASA_BIN
from tests.bot.test_bot_data import ENV


def run_check(script: Path, *args: str, timeout: float = 120) -> dict:
    """The JSON object the script printed last; the test fails with its stderr otherwise."""
    python = RASA_BIN.parent / "python"
    if not python.exists():
        pytest.fail(f"{python} is missing: 'make test' creates it")
    result = subprocess.run(
        [str(python), str(script), *args],
        cwd=BOT_DIR,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])
