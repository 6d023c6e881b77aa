"""Intent classification on the held-out set (bot/tests/nlu_holdout.yml), per pipeline.

For each pipeline: NLU training time, macro F1 and accuracy on the held-out set, and the
model's size. The shipped one is bot/config.yml; candidates live in bench/data/pipelines/.

    .venv/bin/python -m bench.nlu             # the shipped pipeline
    .venv/bin/python -m bench.nlu --compare   # and every candidate
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

from helpdesk.config import REPO_ROOT

BOT = REPO_ROOT / "bot"
RASA = REPO_ROOT / ".venv-rasa" / "bin" / "rasa"
HOLDOUT = BOT / "tests" / "nlu_holdout.yml"
CANDIDATES = Path(__file__).parent / "data" / "pipelines"
ENV = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "SQLALCHEMY_SILENCE_UBER_WARNING": "1"}


def _rasa(*args: str) -> None:
    subprocess.run(
        [str(RASA), *args, "--quiet"],
        cwd=BOT,
        env=ENV,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def evaluate(config: Path, work: Path) -> dict:
    """Train NLU with ``config``, test on the held-out set; the figures as a dict."""
    models = work / "models"
    started = time.perf_counter()
    _rasa("train", "nlu", "--config", str(config), "--nlu", "data/nlu.yml",
          "--out", str(models), "--fixed-model-name", "nlu")  # fmt: skip
    trained = time.perf_counter() - started
    model = models / "nlu.tar.gz"
    results = work / "results"
    _rasa("test", "nlu", "--model", str(model), "--nlu", str(HOLDOUT), "--out", str(results),
          "--no-plot")  # fmt: skip
    report = json.loads((results / "intent_report.json").read_text())
    per_intent = {
        name: round(values["f1-score"], 3)
        for name, values in report.items()
        if isinstance(values, dict) and name not in {"macro avg", "weighted avg", "micro avg"}
    }
    return {
        "pipeline": config.stem if config.parent != BOT else "shipped (bot/config.yml)",
        "train_s": round(trained, 1),
        "macro_f1": round(report["macro avg"]["f1-score"], 3),
        "accuracy": round(report["accuracy"], 3),
        "model_mb": round(model.stat().st_size / 1e6, 1),
        "worst": sorted(per_intent.items(), key=lambda kv: kv[1])[:3],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--compare", action="store_true", help="also every candidate pipeline")
    args = parser.parse_args()
    configs = [BOT / "config.yml"]
    if args.compare:
        configs += sorted(CANDIDATES.glob("*.yml"))
    print("| pipeline | NLU train s | macro F1 | accuracy | model MB | weakest intents (F1) |")
    print("|---|---|---|---|---|---|")
    for config in configs:
        with tempfile.TemporaryDirectory() as work:
            row = evaluate(config, Path(work))
        worst = ", ".join(f"{name} {f1}" for name, f1 in row["worst"])
        print(
            f"| {row['pipeline']} | {row['train_s']} | {row['macro_f1']} | {row['accuracy']} "
            f"| {row['model_mb']} | {worst} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
