"""The Rasa project itself: its data validates, and intents are recognised on held-out
messages. Both run the real Rasa (Python 3.10 environment), so they are slow; counting the
examples only reads the YAML."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
import yaml

from helpdesk.stack import BOT_DIR, RASA_BIN

ENV = {
    **os.environ,
    "PYTHONPATH": str(BOT_DIR),  # bot/components
    "RASA_TELEMETRY_ENABLED": "false",
    "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
}
MACRO_F1_TARGET = 0.90


def rasa(*args: str) -> subprocess.CompletedProcess:
    if not RASA_BIN.exists():
        pytest.fail(f"{RASA_BIN} is missing: 'make test' creates it")
    return subprocess.run(
        [str(RASA_BIN), *args], cwd=BOT_DIR, env=ENV, capture_output=True, text=True
    )


@pytest.mark.slow
def test_rasa_data_validates_without_warnings():
    result = rasa("data", "validate", "--fail-on-warnings")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "UserWarning" not in result.stderr


# Intents that come from buttons (payloads Rasa reads without NLU): a few typed examples.
BUTTON_INTENTS = {"choose_guide"}


def test_every_intent_has_at_least_20_examples():
    nlu = yaml.safe_load((BOT_DIR / "data" / "nlu.yml").read_text())["nlu"]
    domain = yaml.safe_load((BOT_DIR / "domain.yml").read_text())
    counts = {
        block["intent"]: len([line for line in block["examples"].splitlines() if line.strip()])
        for block in nlu
        if "intent" in block
    }
    assert set(counts) == set(domain["intents"])
    typed = {intent: n for intent, n in counts.items() if intent not in BUTTON_INTENTS}
    assert min(typed.values()) >= 20, counts
    assert all(counts[intent] >= 5 for intent in BUTTON_INTENTS), counts


@pytest.mark.slow
@pytest.mark.quality
def test_intents_on_the_test_set(tmp_path):
    from core.settings import load_settings
    from helpdesk.stack import bot_model_path

    model = bot_model_path(load_settings())
    result = rasa(
        "test", "nlu", "--model", str(model), "--nlu", "tests/nlu_test.yml",
        "--out", str(tmp_path), "--no-plot", "--quiet",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "intent_report.json").read_text())
    assert report["macro avg"]["f1-score"] >= MACRO_F1_TARGET


ACTION_VALIDATION_CHECK = """
import channels  # installs the cached validator
from jsonschema.exceptions import ValidationError
from rasa.core.actions.action import RemoteAction
action = RemoteAction.__new__(RemoteAction)
assert action._validate_action_result({"events": [], "responses": [{"text": "Hallo"}]})
try:
    action._validate_action_result({"events": "kaputt"})
except ValidationError as error:
    assert "Failed to validate Action server response" in error.message
else:
    raise SystemExit("an invalid action response passed")
print("ok")
"""


@pytest.mark.slow
def test_action_responses_are_still_validated():
    python = RASA_BIN.parent / "python"
    result = subprocess.run(
        [str(python), "-c", ACTION_VALIDATION_CHECK],
        cwd=BOT_DIR,
        env=ENV,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-2000:]
