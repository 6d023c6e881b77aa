"""Intent classification on held-out sets, per pipeline.

Two sets, neither in the training data: ``bot/tests/nlu_holdout.yml`` (dev: its errors were
read by category to decide what training data to add, and the featurizer's scale was chosen
on it) and ``bot/tests/nlu_test.yml`` (test: written after that error analysis by someone who
never saw the dev set, and used for no decision). For each pipeline: NLU training time,
macro F1 and accuracy on both, and the model's size. The shipped pipeline is
bot/config.yml; candidates live in bench/data/pipelines/.

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

from core.settings import REPO_ROOT

BOT = REPO_ROOT / "bot"
RASA = REPO_ROOT / ".venv-rasa" / "bin" / "rasa"
HELD_OUT = {"dev": BOT / "tests" / "nlu_holdout.yml", "test": BOT / "tests" / "nlu_test.yml"}
CANDIDATES = Path(__file__).parent / "data" / "pipelines"
ENV = {
    **os.environ,
    "PYTHONPATH": str(BOT),  # bot/components
    "RASA_TELEMETRY_ENABLED": "false",
    "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
}


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
    row: dict = {
        "pipeline": config.stem if config.parent != BOT else "shipped (bot/config.yml)",
        "train_s": round(trained, 1),
        "model_mb": round(model.stat().st_size / 1e6, 1),
    }
    for split, path in HELD_OUT.items():
        if path.exists():
            row[split] = _test(model, path, work / f"results-{split}")
    return row


def _test(model: Path, data: Path, results: Path) -> dict:
    _rasa("test", "nlu", "--model", str(model), "--nlu", str(data), "--out", str(results),
          "--no-plot")  # fmt: skip
    report = json.loads((results / "intent_report.json").read_text())
    per_intent = {
        name: round(values["f1-score"], 3)
        for name, values in report.items()
        if isinstance(values, dict) and name not in {"macro avg", "weighted avg", "micro avg"}
    }
    return {
        "macro_f1": round(report["macro avg"]["f1-score"], 3),
        "accuracy": round(report["accuracy"], 3),
        "worst": sorted(per_intent.items(), key=lambda kv: kv[1])[:3],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--compare", action="store_true", help="also every candidate pipeline")
    args = parser.parse_args()
    configs = [BOT / "config.yml"]
    if args.compare:
        configs += sorted(CANDIDATES.glob("*.yml"))
    print(
        "| pipeline | set | NLU train s | macro F1 | accuracy | model MB | weakest intents (F1) |"
    )
    print("|---|---|---|---|---|---|---|")
    for config in configs:
        with tempfile.TemporaryDirectory() as work:
            row = evaluate(config, Path(work))
        for split in HELD_OUT:
            if split not in row:
                continue
            figures = row[split]
            worst = ", ".join(f"{name} {f1}" for name, f1 in figures["worst"])
            print(
                f"| {row['pipeline']} | {split} | {row['train_s']} | {figures['macro_f1']} "
                f"| {figures['accuracy']} | {row['model_mb']} | {worst} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
